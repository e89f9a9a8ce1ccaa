"""owl's Python SDK: the generated owl.v1 messages and stubs (`owl.v1`), and a thin client
with API-key and token credentials, page iteration and typed errors."""

from owl.client import Client, Service, Stream
from owl.errors import FieldViolation, OwlError, ResourceInfo
from owl.paging import pages, paginate

__all__ = [
    "Client",
    "FieldViolation",
    "OwlError",
    "ResourceInfo",
    "Service",
    "Stream",
    "pages",
    "paginate",
]
