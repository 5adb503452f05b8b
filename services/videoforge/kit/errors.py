"""Domain errors. Plain Python: services raise these and one interceptor turns them into gRPC statuses."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class ErrorCode(Enum):
    """Named as google.rpc.Code names them, so the translation to gRPC is by name."""

    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FAILED_PRECONDITION = "FAILED_PRECONDITION"
    ABORTED = "ABORTED"
    RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"
    UNAVAILABLE = "UNAVAILABLE"


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


@dataclass
class DomainError(Exception):
    """An error the caller can act on. `reason` is a stable UPPER_SNAKE identifier for clients."""

    message: str
    reason: str = "ERROR"
    violations: list[FieldViolation] = field(default_factory=list)
    code: ErrorCode = field(default=ErrorCode.FAILED_PRECONDITION, init=False)

    def __str__(self) -> str:
        return self.message


class InvalidArgument(DomainError):
    code = ErrorCode.INVALID_ARGUMENT

    @classmethod
    def for_field(cls, field_name: str, description: str, reason: str = "INVALID_ARGUMENT") -> InvalidArgument:
        return cls(f"{field_name}: {description}", reason, [FieldViolation(field_name, description)])


class NotFound(DomainError):
    code = ErrorCode.NOT_FOUND


class AlreadyExists(DomainError):
    code = ErrorCode.ALREADY_EXISTS


class PermissionDenied(DomainError):
    code = ErrorCode.PERMISSION_DENIED


class Unauthenticated(DomainError):
    code = ErrorCode.UNAUTHENTICATED


class FailedPrecondition(DomainError):
    code = ErrorCode.FAILED_PRECONDITION


class Aborted(DomainError):
    code = ErrorCode.ABORTED


class ResourceExhausted(DomainError):
    code = ErrorCode.RESOURCE_EXHAUSTED


class Unavailable(DomainError):
    code = ErrorCode.UNAVAILABLE


def require(value: str, field_name: str) -> str:
    """Returns the stripped value, or raises INVALID_ARGUMENT naming the missing field."""
    stripped = value.strip()
    if not stripped:
        raise InvalidArgument.for_field(field_name, "is required", "MISSING_FIELD")
    return stripped
