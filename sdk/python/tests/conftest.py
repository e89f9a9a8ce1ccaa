"""Fixtures: an `owl serve` to test against (OWL_URL names a running one; otherwise one is
started from OWL_BIN, default the checkout's target/debug/owl, on a free port in a temporary
directory on the embedded default), a developer session and a fresh application's API key."""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from owl import Client, OwlError
from owl.v1 import application_service_pb2 as app_pb
from owl.v1 import application_service_pb2_grpc as app_grpc
from owl.v1 import application_pb2
from owl.v1 import developer_service_pb2 as dev_pb
from owl.v1 import developer_service_pb2_grpc as dev_grpc

ROOT = Path(__file__).resolve().parents[3]
REDIRECT = "https://app.example.com/connected"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def owl_url():
    """The server's base URL, http://host:port."""
    if os.environ.get("OWL_URL"):
        yield os.environ["OWL_URL"].rstrip("/")
        return
    binary = os.environ.get("OWL_BIN", str(ROOT / "target" / "debug" / "owl"))
    workdir = tempfile.mkdtemp(prefix="owl-py-")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DB_HOST", "REDIS_URL", "REDIS_HOST")}
    env.update(SERVER_HOST=url, CORS_ORIGINS=json.dumps(["http://localhost:3000"]))
    server = subprocess.Popen(
        [binary, "serve", "--listen", f"127.0.0.1:{port}"], cwd=workdir, env=env, stdout=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, f"owl serve exited with {server.returncode}"
            try:
                with urllib.request.urlopen(f"{url}/api/v1/health", timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, f"owl serve did not answer on {url}"
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def target(owl_url):
    """The server as a gRPC target, host:port."""
    return owl_url.split("://", 1)[1]


@pytest.fixture(scope="session")
def developer(target):
    """A client acting as the test developer (onboarding the first one, or logging in)."""
    client = Client(target)
    developers = client.service(dev_grpc.DeveloperServiceStub)
    email = os.environ.get("OWL_EMAIL", "admin@example.com")
    password = os.environ.get("OWL_PASSWORD", "change me, please!")
    try:
        session = developers.Onboard(dev_pb.OnboardRequest(email=email, password=password))
    except OwlError as error:
        if error.reason != "ONBOARDING_CLOSED":
            raise
        session = developers.Login(dev_pb.LoginRequest(email=email, password=password))
    yield client.with_token(session.access_token)
    client.close()


@pytest.fixture()
def backend(developer):
    """A client holding an API key of a new application."""
    applications = developer.service(app_grpc.ApplicationServiceStub)
    application = applications.CreateApplication(
        app_pb.CreateApplicationRequest(
            application=application_pb2.Application(display_name=f"py-{time.time_ns()}", redirect_uris=[REDIRECT])
        )
    )
    key = applications.CreateApiKey(
        app_pb.CreateApiKeyRequest(parent=application.name, api_key=application_pb2.ApiKey(display_name="tests"))
    )
    return developer.with_api_key(key.key)
