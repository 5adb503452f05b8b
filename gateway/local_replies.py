"""JSON bodies for the answers Envoy gives itself (no route, no valid token, too many requests, bad JSON, too
large, upstream down).

Clients of the JSON API always get the shape an upstream error has after transcoding,
`{"code": <google.rpc.Code>, "message": "...", "error": "..."}`, whoever answered. gRPC and gRPC-Web callers get plain
text instead, which Envoy turns into their `grpc-message` next to a `grpc-status` of its own.
"""

from __future__ import annotations

from typing import Any

# HTTP status of a local reply -> the google.rpc.Code a JSON client would get from a service for it.
GRPC_CODE_FOR_HTTP_STATUS: dict[int, int] = {
    400: 3,  # INVALID_ARGUMENT
    401: 16,  # UNAUTHENTICATED
    403: 7,  # PERMISSION_DENIED
    404: 5,  # NOT_FOUND
    405: 12,  # UNIMPLEMENTED: the resource exists, the operation does not
    413: 8,  # RESOURCE_EXHAUSTED, what gRPC itself says for an oversized message
    429: 8,  # RESOURCE_EXHAUSTED
    500: 13,  # INTERNAL
    502: 14,  # UNAVAILABLE
    503: 14,  # UNAVAILABLE
    504: 4,  # DEADLINE_EXCEEDED
}
UNKNOWN = 2
NO_ROUTE_MESSAGE = "No route for %REQ(:METHOD)% %REQ_WITHOUT_QUERY(:PATH)%"
HEALTH_PATH = "/healthz"
NOT_SERVING_MESSAGE = "Not every service is serving"
MEDIA_CHECK_UNAVAILABLE_MESSAGE = "Media links cannot be checked right now; try again shortly."
TOKEN_MISSING_MESSAGE = "Sign in first: this call needs a bearer access token."
# %LOCAL_REPLY_BODY% is jwt_authn's reason: "Jwt is expired", "Jwt verification fails", ...
TOKEN_REFUSED_MESSAGE = "The access token was refused (%LOCAL_REPLY_BODY%); refresh the session or sign in again."
RATE_LIMITED_MESSAGE = "Too many requests; slow down and retry in a moment."
# RFC 6750 challenges. jwt_authn's own names the request URL, query string included, as its realm.
TOKEN_MISSING_CHALLENGE = 'Bearer realm="videoforge"'
TOKEN_REFUSED_CHALLENGE = 'Bearer realm="videoforge", error="invalid_token"'
# %REQ_WITHOUT_QUERY%: a query string may carry tokens and must never be echoed back.
_FORMATTERS = [
    {
        "name": "envoy.formatter.req_without_query",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.formatter.req_without_query.v3.ReqWithoutQuery"
        },
    }
]


def local_reply_config() -> dict[str, Any]:
    """The connection manager's `local_reply_config`: first matching mapper wins."""
    return {
        "mappers": [
            *_media_check_replies(),
            *_unauthenticated_replies(),
            *_replies(429, RATE_LIMITED_MESSAGE),
            _grpc_reply(NO_ROUTE_MESSAGE, _status_is("EQ", 404)),
            _grpc_reply("%LOCAL_REPLY_BODY%"),
            _not_serving_reply(),
            *(_json_reply(status, code) for status, code in GRPC_CODE_FOR_HTTP_STATUS.items()),
            _json_reply_for_other_errors(),
        ]
    }


def _grpc_reply(message: str, *conditions: dict[str, Any]) -> dict[str, Any]:
    """Plain text, which Envoy (or the grpc_web filter) moves into `grpc-message`.

    A gRPC content type without the transcoder's x-envoy-original-method mark is a gRPC or gRPC-Web caller:
    the grpc_web filter has rewritten the latter to `application/grpc` by the time anything replies.
    """
    is_grpc_caller = [
        _request_header_is("content-type", {"string_match": {"prefix": "application/grpc"}}),
        _request_header_is("x-envoy-original-method", {"present_match": False}),
    ]
    return {
        "filter": {"and_filter": {"filters": [*is_grpc_caller, *conditions]}},
        "body_format_override": {"text_format_source": {"inline_string": message}, "formatters": _FORMATTERS},
    }


def _not_serving_reply() -> dict[str, Any]:
    # The health_check filter answers 503 with an empty body; say what it means.
    return {
        "filter": {
            "and_filter": {
                "filters": [
                    _status_is("EQ", 503),
                    _request_header_is(":path", {"string_match": {"exact": HEALTH_PATH}}),
                ]
            }
        },
        "body": {"inline_string": NOT_SERVING_MESSAGE},
        "body_format_override": _json_body(GRPC_CODE_FOR_HTTP_STATUS[503], "%LOCAL_REPLY_BODY%"),
    }


def _media_check_replies() -> list[dict[str, Any]]:
    """The streaming service's refusals already have their JSON body; a check that failed to run has none."""
    refused_by_ext_authz = {"response_flag_filter": {"flags": ["UAEX"]}}
    refused = {"filter": {"and_filter": {"filters": [refused_by_ext_authz, _status_is("EQ", 403)]}}}
    unavailable = {
        "filter": {"and_filter": {"filters": [refused_by_ext_authz, _status_is("EQ", 503)]}},
        "body": {"inline_string": MEDIA_CHECK_UNAVAILABLE_MESSAGE},
        "body_format_override": _json_body(GRPC_CODE_FOR_HTTP_STATUS[503], "%LOCAL_REPLY_BODY%"),
    }
    return [refused, unavailable]


def _unauthenticated_replies() -> list[dict[str, Any]]:
    """jwt_authn's refusals, the only 401s the edge answers itself: no token, or one that did not verify.

    It answers 403 for a token meant for another audience (the media check's 403s were mapped before this);
    to the caller that is a token refused like any other, so it becomes a 401 too.
    """
    has_token = _request_header_is("authorization", {"string_match": {"prefix": "bearer ", "ignore_case": True}})
    refused = {"headers_to_add": [_header("www-authenticate", TOKEN_REFUSED_CHALLENGE)]}
    missing = {"headers_to_add": [_header("www-authenticate", TOKEN_MISSING_CHALLENGE)]}
    return [
        *_replies(401, TOKEN_REFUSED_MESSAGE, has_token, extra=refused),
        *_replies(403, TOKEN_REFUSED_MESSAGE, has_token, extra={**refused, "status_code": 401}),
        *_replies(401, TOKEN_MISSING_MESSAGE, extra=missing),
    ]


def _replies(
    status: int, message: str, *conditions: dict[str, Any], extra: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """`message` for a local reply of `status`: as grpc-message to gRPC callers, in a JSON body to the others.

    `extra` goes into both mappers: headers to add, a `status_code` to answer with instead.

    gRPC callers get the gRPC code Envoy derives from the status (401: UNAUTHENTICATED) or the one the
    replying filter chose (429: RESOURCE_EXHAUSTED; gRPC-Web callers read UNAVAILABLE off the HTTP 429).
    """
    extra = extra or {}
    json_reply = {
        "filter": _all_of(_status_is("EQ", status), *conditions),
        **extra,
        "body_format_override": _json_body(GRPC_CODE_FOR_HTTP_STATUS[extra.get("status_code", status)], message),
    }
    return [{**_grpc_reply(message, _status_is("EQ", status), *conditions), **extra}, json_reply]


def _json_reply(status: int, code: int) -> dict[str, Any]:
    message = NO_ROUTE_MESSAGE if status == 404 else "%LOCAL_REPLY_BODY%"
    return {"filter": _status_is("EQ", status), "body_format_override": _json_body(code, message)}


def _json_reply_for_other_errors() -> dict[str, Any]:
    return {"filter": _status_is("GE", 400), "body_format_override": _json_body(UNKNOWN, "%LOCAL_REPLY_BODY%")}


def _all_of(*filters: dict[str, Any]) -> dict[str, Any]:
    # An and_filter needs two filters at least.
    return filters[0] if len(filters) == 1 else {"and_filter": {"filters": list(filters)}}


def _header(name: str, value: str) -> dict[str, Any]:
    return {"header": {"key": name, "value": value}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}


def _status_is(op: str, status: int) -> dict[str, Any]:
    # Envoy requires a runtime key for every comparison value; nothing sets these keys.
    value = {"default_value": status, "runtime_key": f"videoforge.local_reply.status_{op.lower()}_{status}"}
    return {"status_code_filter": {"comparison": {"op": op, "value": value}}}


def _request_header_is(name: str, match: dict[str, Any]) -> dict[str, Any]:
    return {"header_filter": {"header": {"name": name, **match}}}


def _json_body(code: int, message: str) -> dict[str, Any]:
    return {
        # `error` is the original API's name for the message (see error_bodies).
        "json_format": {"code": code, "message": message, "error": message},
        "content_type": "application/json",
        "formatters": _FORMATTERS,
    }
