"""Checks every request message passes before any servicer sees it, whatever the service or method.

Values no field of ours ever means (a NUL character, a string longer than any column, a negative count, NaN, an
enum number the proto does not define) are refused here as INVALID_ARGUMENT naming the field, instead of each
method guarding its own and a missed one reaching the database as a 500.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from videoforge.kit.errors import FieldViolation, InvalidArgument

# Far above any identifier, key, e-mail or search; free text (descriptions, error reports) gets more.
MAX_STRING_CHARS = 1024
MAX_TEXT_CHARS = 10_000
TEXT_FIELDS = frozenset({"description", "message", "error_message"})
# Timestamps and durations may be negative; the well-known types carry no values of ours.
_WELL_KNOWN_PACKAGE = "google.protobuf"
_INTEGERS = frozenset(
    {
        FieldDescriptor.TYPE_INT32,
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_SINT32,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_SFIXED32,
        FieldDescriptor.TYPE_SFIXED64,
    }
)
_FLOATS = frozenset({FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT})


def check_request(request: Message) -> None:
    """Raises InvalidArgument for the first field whose value no request may carry."""
    for path, field, value in _values(request, ""):
        if problem := _problem(field, value):
            description, reason = problem
            raise InvalidArgument(f"{path}: {description}", reason, [FieldViolation(path, description)])


def _values(message: Message, prefix: str) -> Iterator[tuple[str, FieldDescriptor, Any]]:
    """(path, field, value) of every scalar set in `message`, nested messages and repeated fields included."""
    if _is_well_known(message.DESCRIPTOR):
        return
    for field, value in message.ListFields():
        path = f"{prefix}{field.name}"
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            yield from _map_values(field, value, path)
        elif field.is_repeated:
            for index, item in enumerate(value):
                yield from _one(field, item, f"{path}[{index}]")
        else:
            yield from _one(field, value, path)


def _map_values(field: FieldDescriptor, value: Any, path: str) -> Iterator[tuple[str, FieldDescriptor, Any]]:
    key_field, value_field = field.message_type.fields_by_name["key"], field.message_type.fields_by_name["value"]
    for key, item in value.items():
        yield from _one(key_field, key, f"{path}.key")
        yield from _one(value_field, item, f"{path}[{key!r}]")


def _one(field: FieldDescriptor, value: Any, path: str) -> Iterator[tuple[str, FieldDescriptor, Any]]:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        yield from _values(value, f"{path}.")
    else:
        yield path, field, value


def _problem(field: FieldDescriptor, value: Any) -> tuple[str, str] | None:
    if field.type == FieldDescriptor.TYPE_STRING:
        if "\x00" in value:
            return "must not contain NUL characters", "NUL_CHARACTER"
        limit = MAX_TEXT_CHARS if field.name in TEXT_FIELDS else MAX_STRING_CHARS
        if len(value) > limit:
            return f"must be at most {limit} characters", "TOO_LONG"
    elif field.type in _INTEGERS and value < 0:
        # Every integer our requests carry counts something: pages, sizes, days, attempts, percents.
        return "must not be negative", "OUT_OF_RANGE"
    elif field.type in _FLOATS and not math.isfinite(value):
        return "must be a finite number", "OUT_OF_RANGE"
    elif field.type == FieldDescriptor.TYPE_ENUM and field.enum_type.values_by_number.get(value) is None:
        return f"{value} is not one of {', '.join(field.enum_type.values_by_name)}", "OUT_OF_RANGE"
    return None


def _is_well_known(descriptor: Descriptor) -> bool:
    return descriptor.file.package == _WELL_KNOWN_PACKAGE
