"""The Python SDK against a real `owl serve` over gRPC: API-key auth, typed errors with their
reason and field violations, pagination, SDK tokens, and server streaming."""

import re
import time
import urllib.error
import urllib.request

import grpc
import pytest

from owl import OwlError, pages, paginate
from owl.v1 import connection_pb2
from owl.v1 import connection_service_pb2 as conn_pb
from owl.v1 import connection_service_pb2_grpc as conn_grpc
from owl.v1 import sdk_token_service_pb2 as token_pb
from owl.v1 import sdk_token_service_pb2_grpc as token_grpc
from owl.v1 import sync_pb2
from owl.v1 import sync_service_pb2 as sync_pb
from owl.v1 import sync_service_pb2_grpc as sync_grpc
from owl.v1 import time_series_service_pb2 as ts_pb
from owl.v1 import time_series_service_pb2_grpc as ts_grpc
from owl.v1 import user_pb2
from owl.v1 import user_service_pb2 as user_pb
from owl.v1 import user_service_pb2_grpc as user_grpc

from conftest import REDIRECT


def create_user(client, external_id):
    users = client.service(user_grpc.UserServiceStub)
    return users.CreateUser(user_pb.CreateUserRequest(user=user_pb2.User(external_user_id=external_id)))


def test_an_api_key_creates_and_lists_users(backend):
    external_id = f"py-user-{time.time_ns()}"
    user = create_user(backend, external_id)
    assert re.fullmatch(r"users/[0-9a-f-]{36}", user.name)
    listed = backend.service(user_grpc.UserServiceStub).ListUsers(
        user_pb.ListUsersRequest(external_user_id=external_id)
    )
    assert [u.name for u in listed.users] == [user.name]


def test_paging_follows_every_page(backend):
    created = [create_user(backend, f"page-{i}-{time.time_ns()}").name for i in range(5)]
    users = backend.service(user_grpc.UserServiceStub)
    sizes = [len(page.users) for page in pages(users.ListUsers, user_pb.ListUsersRequest(page_size=2))]
    assert sizes == [2, 2, 1]
    names = [u.name for u in paginate(users.ListUsers, user_pb.ListUsersRequest(page_size=2), "users")]
    assert sorted(names) == sorted(created)


def test_an_invalid_request_raises_the_reason_and_every_field_violation(backend):
    users = backend.service(user_grpc.UserServiceStub)
    with pytest.raises(OwlError) as raised:
        users.ListUsers(user_pb.ListUsersRequest(page_size=-1))
    error = raised.value
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.reason == "INVALID_ARGUMENT"
    assert error.domain == "owl.v1"
    assert "page_size" in [v.field for v in error.field_violations]


def test_a_missing_user_is_not_found_with_its_name(backend):
    name = "users/00000000-0000-7000-8000-000000000000"
    with pytest.raises(OwlError) as raised:
        backend.service(user_grpc.UserServiceStub).GetUser(user_pb.GetUserRequest(name=name))
    assert raised.value.code == grpc.StatusCode.NOT_FOUND
    assert raised.value.reason == "NOT_FOUND"
    assert raised.value.resource is not None and raised.value.resource.name == name


def test_an_sdk_token_reaches_only_its_own_user(backend):
    user = create_user(backend, f"sdk-{time.time_ns()}")
    other = create_user(backend, f"other-{time.time_ns()}")
    token = backend.service(token_grpc.SdkTokenServiceStub).CreateSdkToken(
        token_pb.CreateSdkTokenRequest(user=user.name)
    )
    phone = backend.with_token(token.access_token)
    users = phone.service(user_grpc.UserServiceStub)
    assert users.GetUser(user_pb.GetUserRequest(name=user.name)).name == user.name
    with pytest.raises(OwlError) as raised:
        users.GetUser(user_pb.GetUserRequest(name=other.name))
    assert raised.value.code in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.NOT_FOUND)
    assert raised.value.reason


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def connect_demo(client, user_name):
    """StartConnection, then the demo consent page's Allow link, then owl's callback."""
    started = client.service(conn_grpc.ConnectionServiceStub).StartConnection(
        conn_pb.StartConnectionRequest(parent=user_name, provider="demo", redirect_uri=REDIRECT)
    )
    with urllib.request.urlopen(started.authorization_url) as response:
        page = response.read().decode()
    allow = re.search(r'id="allow" href="([^"]+)"', page)
    assert allow, "no Allow link on the demo consent page"
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        opener.open(allow.group(1).replace("&amp;", "&"))
        raise AssertionError("the callback did not redirect")
    except urllib.error.HTTPError as redirect:
        assert "status=success" in redirect.headers.get("location", "")


def test_watch_sync_status_streams_a_demo_sync_to_success(backend):
    user = create_user(backend, f"demo-{time.time_ns()}")
    connect_demo(backend, user.name)
    connections = backend.service(conn_grpc.ConnectionServiceStub).ListConnections(
        conn_pb.ListConnectionsRequest(parent=user.name)
    )
    assert [(c.provider, c.state) for c in connections.connections] == [
        ("demo", connection_pb2.CONNECTION_STATE_ACTIVE)
    ]
    sync = backend.service(sync_grpc.SyncServiceStub)
    stream = sync.WatchSyncStatus(sync_pb.WatchSyncStatusRequest(parent=user.name), timeout=60)
    requested = sync.SyncConnection(sync_pb.SyncConnectionRequest(name=connections.connections[0].name))
    seen = []
    for run in stream:
        seen.append((run.name, run.state))
        if run.name == requested.name and run.state == sync_pb2.SYNC_STATE_SUCCEEDED:
            break
    stream.cancel()
    assert (requested.name, sync_pb2.SYNC_STATE_SUCCEEDED) in seen

    hours = backend.service(ts_grpc.TimeSeriesServiceStub).AggregateSamples(
        ts_pb.AggregateSamplesRequest(parent=user.name, series_types=["heart_rate"], bucket=ts_pb.BUCKET_HOUR)
    )
    assert len(hours.series) == 1
    assert len(hours.series[0].buckets) >= 24 * 6


def test_a_huge_bad_value_is_a_bounded_invalid_argument_to_a_stock_client(backend):
    """1 MiB of unknown series type, and 500 of them: a stock grpcio client (default metadata
    limits) still sees INVALID_ARGUMENT with its violations, not RESOURCE_EXHAUSTED."""
    from owl.v1 import health_pb2

    user = create_user(backend, f"huge-{time.time_ns()}")
    series = backend.service(ts_grpc.TimeSeriesServiceStub)
    cases = [
        [health_pb2.SampleBatch(series_type="x" * (1 << 20), times=[1_763_625_600_000], values=[1.0])],
        [
            health_pb2.SampleBatch(series_type=f"unknown-{i}-" + "y" * 100, times=[1_763_625_600_000], values=[1.0])
            for i in range(500)
        ],
    ]
    for batches in cases:
        with pytest.raises(OwlError) as raised:
            series.WriteSamples(ts_pb.WriteSamplesRequest(parent=user.name, batches=batches))
        error = raised.value
        assert error.code == grpc.StatusCode.INVALID_ARGUMENT
        assert error.reason == "INVALID_ARGUMENT"
        fields = [v.field for v in error.field_violations]
        assert "batches[0].series_type" in fields
        assert all(len(v.description.encode()) <= 120 for v in error.field_violations)
    assert error.field_violations[-1].description.endswith("more violations not listed")
