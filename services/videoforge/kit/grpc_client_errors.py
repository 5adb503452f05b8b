"""Errors from a downstream service, re-raised as domain errors so they reach our caller unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import grpc
from google.rpc import error_details_pb2, status_pb2

from videoforge.kit import errors

_BY_CODE: dict[grpc.StatusCode, type[errors.DomainError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: errors.InvalidArgument,
    grpc.StatusCode.NOT_FOUND: errors.NotFound,
    grpc.StatusCode.ALREADY_EXISTS: errors.AlreadyExists,
    grpc.StatusCode.PERMISSION_DENIED: errors.PermissionDenied,
    grpc.StatusCode.UNAUTHENTICATED: errors.Unauthenticated,
    grpc.StatusCode.FAILED_PRECONDITION: errors.FailedPrecondition,
    grpc.StatusCode.ABORTED: errors.Aborted,
    grpc.StatusCode.RESOURCE_EXHAUSTED: errors.ResourceExhausted,
}


def _reason(error: grpc.aio.AioRpcError) -> str:
    """The ErrorInfo reason the downstream service attached, so clients see the original one."""
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin" and isinstance(value, bytes):
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    return info.reason
    return error.code().name


@contextmanager
def translate_rpc_error() -> Iterator[None]:
    try:
        yield
    except grpc.aio.AioRpcError as error:
        kind = _BY_CODE.get(error.code())
        if kind is None:
            raise errors.Unavailable(
                f"A platform service did not answer ({error.code().name}); try again shortly.", "DEPENDENCY_UNAVAILABLE"
            ) from error
        raise kind(error.details() or error.code().name, _reason(error)) from error
