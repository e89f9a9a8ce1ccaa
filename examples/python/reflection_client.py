"""A non-Rust gRPC client that knows owl only through server reflection.

It lists the services, builds request messages from the descriptors the server sends, onboards
a developer (or logs in), and creates an application with the developer's token.

    pip install grpcio grpcio-reflection protobuf
    python3 examples/python/reflection_client.py 127.0.0.1:8000
"""

import os
import sys

import grpc
from google.protobuf import descriptor_pool, message_factory
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)


def call(channel, pool, method, fields, metadata=()):
    """Calls `package.Service/Method` with a request built from reflection only."""
    service_name, method_name = method.rsplit("/", 1)
    service = pool.FindServiceByName(service_name)
    descriptor = service.FindMethodByName(method_name)
    request_class = message_factory.GetMessageClass(descriptor.input_type)
    response_class = message_factory.GetMessageClass(descriptor.output_type)
    stub = channel.unary_unary(
        f"/{service_name}/{method_name}",
        request_serializer=lambda message: message.SerializeToString(),
        response_deserializer=response_class.FromString,
    )
    return stub(request_class(**fields), metadata=metadata)


def main(target):
    channel = grpc.insecure_channel(target)
    database = ProtoReflectionDescriptorDatabase(channel)
    services = sorted(database.get_services())
    print("services:", ", ".join(services))
    for expected in ("owl.v1.DeveloperService", "owl.v1.UserService", "grpc.health.v1.Health"):
        assert expected in services, f"{expected} not listed"
    pool = descriptor_pool.DescriptorPool(database)

    # The same defaults as examples/quickstart.rs, so either may run first.
    credentials = {
        "email": os.environ.get("OWL_EMAIL", "admin@example.com"),
        "password": os.environ.get("OWL_PASSWORD", "change me, please!"),
    }
    try:
        session = call(channel, pool, "owl.v1.DeveloperService/Onboard", credentials)
    except grpc.RpcError as error:
        if error.code() != grpc.StatusCode.FAILED_PRECONDITION:
            raise
        session = call(channel, pool, "owl.v1.DeveloperService/Login", credentials)
    auth = (("authorization", f"Bearer {session.access_token}"),)
    application = call(
        channel,
        pool,
        "owl.v1.ApplicationService/CreateApplication",
        {"application": {"display_name": "from python"}},
        auth,
    )
    print("created", application.name)
    assert application.name.startswith("applications/")

    try:
        call(channel, pool, "owl.v1.UserService/ListUsers", {})
        raise AssertionError("an unauthenticated call succeeded")
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED, error
    print("reflection client ok")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:8000")
