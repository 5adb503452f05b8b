"""The one place where domain errors become gRPC statuses with google.rpc details."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from videoforge.kit.errors import DomainError

ERROR_DOMAIN = "videoforge.io"


def status_proto(error: DomainError) -> status_pb2.Status:
    """A google.rpc.Status with ErrorInfo (and BadRequest for field violations)."""
    details = [error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN)]
    if error.violations:
        details.append(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                    for v in error.violations
                ]
            )
        )
    packed = []
    for detail in details:
        any_detail = any_pb2.Any()
        any_detail.Pack(detail)
        packed.append(any_detail)
    return status_pb2.Status(code=code_pb2.Code.Value(error.code.value), message=error.message, details=packed)


def to_grpc_status(error: DomainError) -> grpc.Status:
    return rpc_status.to_status(status_proto(error))


def code_name(number: int) -> str:
    """google.rpc.Code number → name, UNKNOWN for numbers outside the enum."""
    return code_pb2.Code.Name(number) if number in code_pb2.Code.values() else "UNKNOWN"


def code_number(name: str) -> int:
    return code_pb2.Code.Value(name) if name in code_pb2.Code.DESCRIPTOR.values_by_name else code_pb2.UNKNOWN
