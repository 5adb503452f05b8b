"""The JSON API as an OpenAPI 3.1 document, generated from the descriptor set the edge transcodes with.

Every `google.api.http` binding of a public service becomes an operation, shaped by the rules the transcoder
applies: path variables from the template, the `body` field (or `*`) as the request body, every other field as a
query parameter when there is no whole-message body. Messages follow protobuf's JSON mapping (lowerCamelCase
names, 64-bit integers as strings, enums by name, the well-known types' string forms). Comments in the protos
become descriptions. The routes the edge answers itself (the original API's download redirect, this document)
are described here too.

    python -m videoforge.gateway.openapi  # rewrite gateway/openapi.json from gateway/videoforge.binpb
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

from google.api import annotations_pb2, field_behavior_pb2, http_pb2
from google.protobuf import descriptor_pb2

from videoforge.gateway.download_redirect import REDIRECTED_ROUTE
from videoforge.gateway.openapi_route import DEFAULT_DOCUMENT, DOCUMENT_PATH
from videoforge.gateway.public_api import ANONYMOUS_METHODS, DEFAULT_DESCRIPTOR, PUBLIC_SERVICES

TITLE = "VideoForge API"
VERSION = "1"
SECURITY_SCHEME = "bearerAuth"
ERROR_SCHEMA = "ErrorBody"
EDGE_TAG = "Edge"

FieldType = descriptor_pb2.FieldDescriptorProto
HTTP_BODY = "google.api.HttpBody"
EMPTY = "google.protobuf.Empty"
# int64 and friends are JSON strings (a double cannot hold them); their digits are all a client may send.
SIGNED_DIGITS = "^-?[0-9]+$"
UNSIGNED_DIGITS = "^[0-9]+$"
SCALARS: dict[int, dict[str, Any]] = {
    FieldType.TYPE_DOUBLE: {"type": "number", "format": "double"},
    FieldType.TYPE_FLOAT: {"type": "number", "format": "float"},
    FieldType.TYPE_INT32: {"type": "integer", "format": "int32"},
    FieldType.TYPE_SINT32: {"type": "integer", "format": "int32"},
    FieldType.TYPE_SFIXED32: {"type": "integer", "format": "int32"},
    FieldType.TYPE_UINT32: {"type": "integer", "format": "int64", "minimum": 0, "maximum": 2**32 - 1},
    FieldType.TYPE_FIXED32: {"type": "integer", "format": "int64", "minimum": 0, "maximum": 2**32 - 1},
    FieldType.TYPE_INT64: {"type": "string", "format": "int64", "pattern": SIGNED_DIGITS},
    FieldType.TYPE_SINT64: {"type": "string", "format": "int64", "pattern": SIGNED_DIGITS},
    FieldType.TYPE_SFIXED64: {"type": "string", "format": "int64", "pattern": SIGNED_DIGITS},
    FieldType.TYPE_UINT64: {"type": "string", "format": "uint64", "pattern": UNSIGNED_DIGITS},
    FieldType.TYPE_FIXED64: {"type": "string", "format": "uint64", "pattern": UNSIGNED_DIGITS},
    FieldType.TYPE_BOOL: {"type": "boolean"},
    FieldType.TYPE_STRING: {"type": "string"},
    FieldType.TYPE_BYTES: {"type": "string", "contentEncoding": "base64"},
}
_WRAPPED = {
    "DoubleValue": FieldType.TYPE_DOUBLE,
    "FloatValue": FieldType.TYPE_FLOAT,
    "Int64Value": FieldType.TYPE_INT64,
    "UInt64Value": FieldType.TYPE_UINT64,
    "Int32Value": FieldType.TYPE_INT32,
    "UInt32Value": FieldType.TYPE_UINT32,
    "BoolValue": FieldType.TYPE_BOOL,
    "StringValue": FieldType.TYPE_STRING,
    "BytesValue": FieldType.TYPE_BYTES,
}
# Well-known types have JSON forms of their own instead of their fields.
WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]{1,9})?s$", "examples": ["1.5s"]},
    "google.protobuf.FieldMask": {"type": "string", "description": "Comma-separated lowerCamelCase field paths."},
    "google.protobuf.Struct": {"type": "object", "additionalProperties": True},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array", "items": {}},
    "google.protobuf.NullValue": {"type": "null"},
    "google.protobuf.Any": {
        "type": "object",
        "properties": {"@type": {"type": "string"}},
        "required": ["@type"],
        "additionalProperties": True,
    },
    EMPTY: {"type": "object", "additionalProperties": False},
    **{
        f"google.protobuf.{name}": {**SCALARS[wrapped], "type": [SCALARS[wrapped]["type"], "null"]}
        for name, wrapped in _WRAPPED.items()
    },
}
# Scalars and the well-known types that are one string in JSON may be query parameters; other messages are
# spread over dotted names (`video.title`).
QUERY_WELL_KNOWN = {"google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask"} | {
    f"google.protobuf.{name}" for name in _WRAPPED
}
# A request message nested deeper than this is not spread into query parameters any further.
MAX_QUERY_DEPTH = 3

# Source location paths (descriptor.proto field numbers): a comment is found by the path to what it describes.
_MESSAGE, _ENUM, _SERVICE = 4, 5, 6
_FIELD, _NESTED_MESSAGE, _NESTED_ENUM, _METHOD = 2, 3, 4, 2

_VARIABLE = re.compile(r"\{([^}=]+)(?:=([^}]*))?\}")


@dataclass(frozen=True)
class PathParameter:
    """One `{name}` of an OpenAPI path: the field it fills and what it stands for inside that field."""

    name: str
    field_path: str
    template: str  # the field's value with this parameter as `{name}`, e.g. `videos/{video}`
    multi_segment: bool


class Descriptors:
    """The messages, enums, services and comments of a descriptor set, by full name."""

    def __init__(self, descriptor_set: descriptor_pb2.FileDescriptorSet) -> None:
        self.messages: dict[str, descriptor_pb2.DescriptorProto] = {}
        self.enums: dict[str, descriptor_pb2.EnumDescriptorProto] = {}
        self.services: dict[str, descriptor_pb2.ServiceDescriptorProto] = {}
        self.comments: dict[str, str] = {}
        for file in descriptor_set.file:
            comments = {
                tuple(location.path): location.leading_comments.strip()
                for location in file.source_code_info.location
                if location.leading_comments.strip()
            }
            prefix = f"{file.package}." if file.package else ""
            for index, message in enumerate(file.message_type):
                self._add_message(f"{prefix}{message.name}", message, (_MESSAGE, index), comments)
            for index, enum in enumerate(file.enum_type):
                self._add_enum(f"{prefix}{enum.name}", enum, (_ENUM, index), comments)
            for index, service in enumerate(file.service):
                name = f"{prefix}{service.name}"
                self.services[name] = service
                self._comment(name, comments, (_SERVICE, index))
                for number, method in enumerate(service.method):
                    self._comment(f"{name}.{method.name}", comments, (_SERVICE, index, _METHOD, number))

    def _add_message(
        self, name: str, message: descriptor_pb2.DescriptorProto, path: tuple[int, ...], comments: dict[Any, str]
    ) -> None:
        self.messages[name] = message
        self._comment(name, comments, path)
        for index, field in enumerate(message.field):
            self._comment(f"{name}.{field.name}", comments, (*path, _FIELD, index))
        for index, nested in enumerate(message.nested_type):
            self._add_message(f"{name}.{nested.name}", nested, (*path, _NESTED_MESSAGE, index), comments)
        for index, enum in enumerate(message.enum_type):
            self._add_enum(f"{name}.{enum.name}", enum, (*path, _NESTED_ENUM, index), comments)

    def _add_enum(
        self, name: str, enum: descriptor_pb2.EnumDescriptorProto, path: tuple[int, ...], comments: dict[Any, str]
    ) -> None:
        self.enums[name] = enum
        self._comment(name, comments, path)

    def _comment(self, name: str, comments: dict[Any, str], path: tuple[int, ...]) -> None:
        if path in comments:
            self.comments[name] = _unindent(comments[path])


def render_openapi(descriptor: Path | None = None) -> dict[str, Any]:
    """The OpenAPI document of every public service's HTTP bindings in the descriptor set."""
    descriptor_set = descriptor_pb2.FileDescriptorSet.FromString((descriptor or DEFAULT_DESCRIPTOR).read_bytes())
    return _DocumentBuilder(Descriptors(descriptor_set)).build()


def write_openapi(path: Path | None = None, descriptor: Path | None = None) -> Path:
    path = path or DEFAULT_DOCUMENT
    path.write_text(openapi_text(descriptor))
    return path


def openapi_text(descriptor: Path | None = None) -> str:
    """The document as committed: stable key order, two-space indent, a final newline."""
    return json.dumps(render_openapi(descriptor), indent=2, ensure_ascii=False) + "\n"


class _DocumentBuilder:
    def __init__(self, descriptors: Descriptors) -> None:
        self.descriptors = descriptors
        self.schemas: dict[str, Any] = {}

    def build(self) -> dict[str, Any]:
        paths: dict[str, dict[str, Any]] = {}
        for service_name in PUBLIC_SERVICES:
            service = self.descriptors.services[service_name]
            for method in service.method:
                for number, rule in enumerate(_http_rules(method)):
                    verb, template = _verb_and_template(rule)
                    path, parameters = _openapi_path(template)
                    operation = self._operation(service_name, method, rule, parameters)
                    operation["operationId"] = f"{service.name}_{method.name}" + (f"_{number}" if number else "")
                    if paths.get(path, {}).get(verb):
                        raise ValueError(f"{verb.upper()} {path} is bound twice")
                    paths.setdefault(path, {})[verb] = operation
        paths[REDIRECTED_ROUTE]["get"]["responses"] = _redirect_responses()
        paths[DOCUMENT_PATH] = {"get": _document_operation()}
        return {
            "openapi": "3.1.0",
            "info": {
                "title": TITLE,
                "version": VERSION,
                "description": (
                    "The JSON API of the VideoForge edge. `/api/...` routes answer in the original API's shapes; "
                    "`/v1/...` routes are resource-oriented. Errors answer `{code, message, error, details}` with "
                    "the HTTP status of the gRPC code."
                ),
            },
            "security": [{SECURITY_SCHEME: []}],
            "tags": [
                *(
                    {"name": name.rsplit(".", 1)[1], "description": self.descriptors.comments.get(name, "")}
                    for name in PUBLIC_SERVICES
                ),
                {"name": EDGE_TAG, "description": "Answered by the edge itself."},
            ],
            "paths": dict(sorted(paths.items())),
            "components": {
                "securitySchemes": {
                    SECURITY_SCHEME: {
                        "type": "http",
                        "scheme": "bearer",
                        "bearerFormat": "JWT",
                        "description": "The `accessToken` that register, login or refresh answer (RS256).",
                    }
                },
                "schemas": {**dict(sorted(self.schemas.items())), ERROR_SCHEMA: self._error_schema()},
            },
        }

    # Operations.

    def _operation(
        self,
        service_name: str,
        method: descriptor_pb2.MethodDescriptorProto,
        rule: http_pb2.HttpRule,
        path_parameters: list[PathParameter],
    ) -> dict[str, Any]:
        request_name = method.input_type.lstrip(".")
        request = self.descriptors.messages[request_name]
        comment = self.descriptors.comments.get(f"{service_name}.{method.name}", "")
        operation: dict[str, Any] = {
            "tags": [service_name.rsplit(".", 1)[1]],
            "summary": _first_sentence(comment),
            "description": comment,
        }
        bound = {parameter.field_path for parameter in path_parameters}
        parameters = [self._path_parameter(request_name, parameter) for parameter in path_parameters]
        if rule.body == "*":
            operation["requestBody"] = self._whole_message_body(request_name, request, bound)
        else:
            if rule.body:
                operation["requestBody"] = self._field_body(request_name, request, rule.body)
                bound.add(rule.body)
            parameters += self._query_parameters(request_name, request, "", bound, 0)
        if parameters:
            operation["parameters"] = parameters
        operation["responses"] = self._responses(method)
        if f"/{service_name}/{method.name}" in ANONYMOUS_METHODS:
            # The empty requirement: a caller may come without a token; one that sends a token must send a valid one.
            operation["security"] = [{}, {SECURITY_SCHEME: []}]
        return operation

    def _path_parameter(self, request_name: str, parameter: PathParameter) -> dict[str, Any]:
        field = self._field_at(request_name, parameter.field_path)
        about = self.descriptors.comments.get(f"{self._message_of(request_name, parameter.field_path)}.{field.name}")
        schema: dict[str, Any] = {**SCALARS.get(field.type, {"type": "string"})}
        notes = [about] if about else []
        if (parameter.template, parameter.field_path) != (f"{{{parameter.name}}}", parameter.name):
            notes.append(f"Fills `{parameter.field_path}` as `{parameter.template}`.")
        if parameter.multi_segment:
            notes.append("May hold `/`: send it unescaped.")
        described = {"description": " ".join(notes)} if notes else {}
        return {"name": parameter.name, "in": "path", "required": True, **described, "schema": schema}

    def _whole_message_body(
        self, request_name: str, request: descriptor_pb2.DescriptorProto, bound: set[str]
    ) -> dict[str, Any]:
        if not bound:
            schema = self._reference(request_name)
        else:
            # The path holds some fields; the body holds the rest.
            schema = self._message_schema(request_name, request, skip={path.split(".")[0] for path in bound})
        return {"required": True, "content": {"application/json": {"schema": schema}}}

    def _field_body(self, request_name: str, request: descriptor_pb2.DescriptorProto, name: str) -> dict[str, Any]:
        field = next(field for field in request.field if field.name == name)
        return {"required": True, "content": {"application/json": {"schema": self._field_schema(request_name, field)}}}

    def _query_parameters(
        self, message_name: str, message: descriptor_pb2.DescriptorProto, prefix: str, bound: set[str], depth: int
    ) -> list[dict[str, Any]]:
        """Every field the path and body leave, by its dotted JSON name; a message field by each of its own."""
        parameters = []
        for field in message.field:
            field_path = f"{prefix}{field.name}"
            if field_path in bound:
                continue
            name = f"{_camel_prefix(prefix)}{field.json_name or _lower_camel(field.name)}"
            repeated = field.label == FieldType.LABEL_REPEATED
            if field.type == FieldType.TYPE_MESSAGE and field.type_name.lstrip(".") not in QUERY_WELL_KNOWN:
                nested_name = field.type_name.lstrip(".")
                nested = self.descriptors.messages[nested_name]
                # Maps and lists of messages have no query form; nor do messages past the depth bound.
                if repeated or nested.options.map_entry or depth >= MAX_QUERY_DEPTH:
                    continue
                parameters += self._query_parameters(nested_name, nested, f"{field_path}.", bound, depth + 1)
                continue
            schema = self._value_schema(field)
            parameter: dict[str, Any] = {"name": name, "in": "query", "schema": schema}
            if repeated:
                # `?formats=720p&formats=480p`.
                parameter.update(schema={"type": "array", "items": schema}, style="form", explode=True)
            about = self.descriptors.comments.get(f"{message_name}.{field.name}")
            if about:
                parameter["description"] = about
            if _is_required(field):
                parameter["required"] = True
            parameters.append(parameter)
        return parameters

    def _responses(self, method: descriptor_pb2.MethodDescriptorProto) -> dict[str, Any]:
        output = method.output_type.lstrip(".")
        if output == HTTP_BODY:
            # Any bytes, in the content type the method chose (JWKS is JSON, a manifest is text).
            content: dict[str, Any] = {"*/*": {"schema": {}}}
            description = "The body as stored (its own content type)."
        else:
            content = {"application/json": {"schema": self._reference(output)}}
            description = "OK"
        if method.server_streaming:
            description = "One JSON object per line, each as the message changes, until it reaches a final state."
        return {
            "200": {"description": description, "content": content},
            "default": _error_response(),
        }

    # Schemas.

    def _reference(self, name: str) -> dict[str, Any]:
        """A `$ref` to the message's schema, added to the components on first use (well-known types inline)."""
        if name in WELL_KNOWN:
            return dict(WELL_KNOWN[name])
        if name not in self.schemas:
            self.schemas[name] = {}  # a placeholder first: messages may refer to themselves
            self.schemas[name] = self._message_schema(name, self.descriptors.messages[name])
        return {"$ref": f"#/components/schemas/{name}"}

    def _message_schema(
        self, name: str, message: descriptor_pb2.DescriptorProto, skip: frozenset[str] | set[str] = frozenset()
    ) -> dict[str, Any]:
        fields = [field for field in message.field if field.name not in skip]
        properties = {}
        for field in fields:
            schema = self._field_schema(name, field)
            about = self.descriptors.comments.get(f"{name}.{field.name}")
            if about:
                schema["description"] = about
            if _has_behavior(field, field_behavior_pb2.OUTPUT_ONLY):
                schema["readOnly"] = True
            properties[field.json_name or _lower_camel(field.name)] = schema
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        if name in self.descriptors.comments and not skip:
            schema["description"] = self.descriptors.comments[name]
        required = [field.json_name or _lower_camel(field.name) for field in fields if _is_required(field)]
        if required:
            schema["required"] = required
        exclusive = list(_oneof_members(message, fields))
        if exclusive:
            # Members of one oneof exclude each other: no two of them may come together.
            schema["not"] = {
                "anyOf": [{"required": list(pair)} for members in exclusive for pair in combinations(members, 2)]
            }
        return schema

    def _field_schema(self, message_name: str, field: descriptor_pb2.FieldDescriptorProto) -> dict[str, Any]:
        if field.type == FieldType.TYPE_MESSAGE:
            entry = self.descriptors.messages.get(field.type_name.lstrip("."))
            if entry is not None and entry.options.map_entry:
                # Keys are always JSON strings, whatever their proto type.
                value = next(f for f in entry.field if f.name == "value")
                return {"type": "object", "additionalProperties": self._value_schema(value)}
        schema = self._value_schema(field)
        if field.label == FieldType.LABEL_REPEATED:
            return {"type": "array", "items": schema}
        return schema

    def _value_schema(self, field: descriptor_pb2.FieldDescriptorProto) -> dict[str, Any]:
        """One value of the field, whether it is repeated or not."""
        if field.type == FieldType.TYPE_MESSAGE:
            return self._reference(field.type_name.lstrip("."))
        if field.type == FieldType.TYPE_ENUM:
            name = field.type_name.lstrip(".")
            enum = self.descriptors.enums[name]
            schema: dict[str, Any] = {"type": "string", "enum": [value.name for value in enum.value]}
            if name in self.descriptors.comments:
                schema["description"] = self.descriptors.comments[name]
            return schema
        return dict(SCALARS[field.type])

    def _error_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "description": "A failed call: the gRPC status the service (or the edge) answered.",
            "properties": {
                "code": {"type": "integer", "format": "int32", "description": "The google.rpc.Code."},
                "message": {"type": "string", "description": "What went wrong, for people."},
                "error": {"type": "string", "description": "The same text as `message`, the original API's name."},
                "details": {"type": "array", "items": self._reference("google.protobuf.Any")},
            },
            "required": ["code", "message"],
        }

    # Descriptor lookups.

    def _field_at(self, message_name: str, field_path: str) -> descriptor_pb2.FieldDescriptorProto:
        name = self._message_of(message_name, field_path)
        last = field_path.rsplit(".", 1)[-1]
        return next(field for field in self.descriptors.messages[name].field if field.name == last)

    def _message_of(self, message_name: str, field_path: str) -> str:
        """The message that holds the last field of a dotted path."""
        for part in field_path.split(".")[:-1]:
            field = next(field for field in self.descriptors.messages[message_name].field if field.name == part)
            message_name = field.type_name.lstrip(".")
        return message_name


def _http_rules(method: descriptor_pb2.MethodDescriptorProto) -> Iterator[http_pb2.HttpRule]:
    if not method.options.HasExtension(annotations_pb2.http):
        return
    rule = method.options.Extensions[annotations_pb2.http]
    yield rule
    yield from rule.additional_bindings


def _verb_and_template(rule: http_pb2.HttpRule) -> tuple[str, str]:
    verb = rule.WhichOneof("pattern")
    if verb is None or verb == "custom":
        raise ValueError(f"unsupported binding {rule}")
    return verb, getattr(rule, verb)


def _openapi_path(template: str) -> tuple[str, list[PathParameter]]:
    """`/v1/{name=videos/*}` -> `/v1/videos/{video}`: a wildcard in a variable becomes a parameter of its own,
    named for the collection before it, so that no parameter ever holds a `/`, except a `**` one."""
    parameters: list[PathParameter] = []

    def replace(match: re.Match[str]) -> str:
        field_path, pattern = match.group(1), match.group(2) or "*"
        segments = pattern.split("/")
        wildcards: list[tuple[str, bool]] = []
        for index, segment in enumerate(segments):
            if segment not in ("*", "**"):
                continue
            name = _singular(segments[index - 1]) if index else _lower_camel(field_path.replace(".", "_"))
            while name in {taken.name for taken in parameters} | {taken for taken, _ in wildcards}:
                name += "Id"
            segments[index] = f"{{{name}}}"
            wildcards.append((name, segment == "**"))
        value = "/".join(segments)
        parameters.extend(PathParameter(name, field_path, value, multi) for name, multi in wildcards)
        return value

    return _VARIABLE.sub(replace, template), parameters


def _redirect_responses() -> dict[str, Any]:
    return {
        "302": {
            "description": "The edge redirects to the signed, short-lived URL of the file (`curl -L -o file`).",
            "headers": {"Location": {"description": "The signed URL.", "schema": {"type": "string", "format": "uri"}}},
        },
        "default": _error_response(),
    }


def _document_operation() -> dict[str, Any]:
    return {
        "tags": [EDGE_TAG],
        "operationId": "Edge_GetOpenApiDocument",
        "summary": "This document.",
        "description": "This document, generated from the protos the edge transcodes with.",
        "security": [{}],
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}},
    }


def _error_response() -> dict[str, Any]:
    return {
        "description": "An error: the HTTP status matches the gRPC code.",
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}}},
    }


def _oneof_members(
    message: descriptor_pb2.DescriptorProto, fields: list[descriptor_pb2.FieldDescriptorProto]
) -> Iterator[list[str]]:
    """The JSON names of each real oneof's members; proto3 `optional` makes one-member oneofs, which are no choice."""
    for index, _ in enumerate(message.oneof_decl):
        members = [
            field.json_name or _lower_camel(field.name)
            for field in fields
            if field.HasField("oneof_index") and field.oneof_index == index and not field.proto3_optional
        ]
        if len(members) > 1:
            yield members


def _has_behavior(field: descriptor_pb2.FieldDescriptorProto, behavior: int) -> bool:
    return behavior in field.options.Extensions[field_behavior_pb2.field_behavior]


def _is_required(field: descriptor_pb2.FieldDescriptorProto) -> bool:
    return _has_behavior(field, field_behavior_pb2.REQUIRED)


def _lower_camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _camel_prefix(prefix: str) -> str:
    """A dotted field path's prefix in JSON names: `source_info.` -> `sourceInfo.`."""
    return "".join(f"{_lower_camel(part)}." for part in prefix.split(".") if part)


def _singular(collection: str) -> str:
    return _lower_camel(collection[:-1] if collection.endswith("s") else collection)


def _first_sentence(comment: str) -> str:
    text = " ".join(comment.split())
    match = re.match(r"(.+?[.!?])(\s|$)", text)
    return match.group(1) if match else text


def _unindent(comment: str) -> str:
    return "\n".join(line.strip() for line in comment.splitlines()).strip()


if __name__ == "__main__":
    print(write_openapi())
