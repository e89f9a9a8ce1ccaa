"""Typed errors: the gRPC code and the google.rpc details owl sends (ErrorInfo's reason,
BadRequest's field violations, ResourceInfo, PreconditionFailure, RetryInfo)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status


@dataclass(frozen=True)
class FieldViolation:
    """One invalid field of a request: its path and why its value is invalid."""

    field: str
    description: str


@dataclass(frozen=True)
class ResourceInfo:
    """The resource an error is about (NOT_FOUND, ALREADY_EXISTS)."""

    type: str
    name: str


@dataclass
class OwlError(Exception):
    """An error from owl. Match `code` and `reason` (stable UPPER_SNAKE strings such as
    `INVALID_ARGUMENT`, `NOT_FOUND`, `ONBOARDING_CLOSED`), never the message."""

    code: grpc.StatusCode
    message: str
    reason: Optional[str] = None
    domain: Optional[str] = None
    field_violations: list[FieldViolation] = field(default_factory=list)
    precondition_violations: list[str] = field(default_factory=list)
    resource: Optional[ResourceInfo] = None
    retry_delay_seconds: Optional[float] = None

    def __str__(self) -> str:
        reason = f" {self.reason}" if self.reason else ""
        return f"[{self.code.name}{reason}] {self.message}"

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError) -> "OwlError":
        """Decodes a failed call's status and its grpc-status-details-bin."""
        code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
        message = error.details() if hasattr(error, "details") else str(error)
        result = cls(code=code, message=message or "")
        status = rpc_status.from_call(error) if hasattr(error, "trailing_metadata") else None
        if status is None:
            return result
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                result.reason = info.reason or None
                result.domain = info.domain or None
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                result.field_violations.extend(
                    FieldViolation(v.field, v.description) for v in bad.field_violations
                )
            elif detail.Is(error_details_pb2.PreconditionFailure.DESCRIPTOR):
                failure = error_details_pb2.PreconditionFailure()
                detail.Unpack(failure)
                result.precondition_violations.extend(v.type for v in failure.violations)
            elif detail.Is(error_details_pb2.ResourceInfo.DESCRIPTOR):
                resource = error_details_pb2.ResourceInfo()
                detail.Unpack(resource)
                result.resource = ResourceInfo(resource.resource_type, resource.resource_name)
            elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                retry = error_details_pb2.RetryInfo()
                detail.Unpack(retry)
                result.retry_delay_seconds = retry.retry_delay.ToTimedelta().total_seconds()
        return result
