"""The edge's routes: an allow-list of public gRPC services (after transcoding, routes match gRPC paths),
server streams without a timeout, signed media from the object store, the web app, and 404 for the rest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from videoforge.gateway.edge_clusters import (
    OBJECT_STORE_CLUSTER,
    STORE_RESPONSE_HEADERS,
    edge_serves_media,
    object_store_url,
)
from videoforge.gateway.edge_filters import CORS, EXT_AUTHZ, JSON_TRANSCODER, NOT_GRPC_CONTENT_TYPE, ROUTE_FILTER_CONFIG
from videoforge.gateway.openapi_route import MAX_DOCUMENT_BYTES, openapi_route
from videoforge.gateway.public_api import MEDIA_PREFIX, PUBLIC_SERVICES, server_streaming_methods
from videoforge.kit.settings import Settings

_API = "type.googleapis.com/envoy.extensions"

UNARY_TIMEOUT = "15s"


UNROUTED_CLUSTER = "unrouted"


CORS_ALLOW_HEADERS = (
    "authorization, content-type, x-grpc-web, x-user-agent, grpc-timeout, "
    "x-accept-content-transfer-encoding, x-accept-response-streaming"
)


CORS_EXPOSE_HEADERS = "grpc-status, grpc-message, grpc-status-details-bin"


MEDIA_READ_METHODS = "GET|HEAD|OPTIONS"  # OPTIONS: the CORS filter answers preflights on this route


# A large MP4 download may take minutes; a stalled one is cut after this long without a byte.
MEDIA_IDLE_TIMEOUT = "60s"


MEDIA_CORS_EXPOSE_HEADERS = "content-length, content-range, accept-ranges"


def route_config(settings: Settings, descriptor: Path, web_root: Path | None) -> dict[str, Any]:
    routes = [
        *grpc_routes(descriptor),
        *media_routes(settings),
        *web_app_routes(web_root),
        openapi_route(),
        json_api_route(),
        no_route(),
    ]
    virtual_host = {
        "name": "edge",
        "domains": ["*"],
        "routes": routes,
        "typed_per_filter_config": {CORS: cors_policy()},
    }
    # json_api_route names a cluster that does not exist, on purpose; every other name is a real cluster.
    return {
        "name": "edge",
        "virtual_hosts": [virtual_host],
        "validate_clusters": False,
        "max_direct_response_body_size_bytes": MAX_DOCUMENT_BYTES,
    }


def grpc_routes(descriptor: Path) -> list[dict[str, Any]]:
    """Server-streaming methods first (no timeout), then one prefix route per public service."""
    streaming = [
        streaming_method_route(path, PUBLIC_SERVICES[service]) for service, path in server_streaming_methods(descriptor)
    ]
    unary = [service_route(service, cluster) for service, cluster in PUBLIC_SERVICES.items()]
    return [*streaming, *unary]


def service_route(service: str, cluster: str) -> dict[str, Any]:
    return {
        "name": service,
        "match": {"prefix": f"/{service}/"},
        "route": {"cluster": cluster, "timeout": UNARY_TIMEOUT},
    }


def streaming_method_route(path: str, cluster: str) -> dict[str, Any]:
    return {
        "name": path.lstrip("/"),
        "match": {"path": path},
        # A watch lasts as long as its job and may be quiet for minutes while the job waits in the queue.
        "route": {"cluster": cluster, "timeout": "0s", "idle_timeout": "0s"},
    }


def media_routes(settings: Settings) -> list[dict[str, Any]]:
    """`/media/{key}` -> object `{key}` of the bucket, for reads whose grant the streaming service accepts.

    Both routes disable the transcoder, or its `reject_unknown_method` answers them 404 before routing.
    """
    if not edge_serves_media(settings):
        return []
    read = {
        "name": "media",
        "match": {
            "prefix": MEDIA_PREFIX,
            "headers": [{"name": ":method", "string_match": {"safe_regex": {"regex": MEDIA_READ_METHODS}}}],
        },
        "route": {
            "cluster": OBJECT_STORE_CLUSTER,
            # Path-style S3 addressing: /{bucket}/{key}. The grant's query parameters are gone by now (ext_authz).
            "prefix_rewrite": f"/{settings.s3_bucket}/",
            # SigV4 signs the Host header: it must name the store, not the edge.
            "host_rewrite_literal": urlsplit(object_store_url(settings)).netloc,
            "timeout": "0s",  # no limit on a whole download; MEDIA_IDLE_TIMEOUT cuts stalled ones
            "idle_timeout": MEDIA_IDLE_TIMEOUT,
        },
        # CORS is answered here, by the media policy; the store would add its own allow-everything headers.
        "request_headers_to_remove": ["origin"],
        "response_headers_to_remove": STORE_RESPONSE_HEADERS,
        "typed_per_filter_config": {
            JSON_TRANSCODER: {"@type": ROUTE_FILTER_CONFIG, "disabled": True},
            # Any per-route config turns on a filter that is disabled by default.
            EXT_AUTHZ: {"@type": f"{_API}.filters.http.ext_authz.v3.ExtAuthzPerRoute", "check_settings": {}},
            CORS: media_cors_policy(),
        },
    }
    read_only = {
        "name": "media-read-only",
        "match": {"prefix": MEDIA_PREFIX},
        "direct_response": {"status": 405, "body": {"inline_string": "Media is read-only: use GET or HEAD."}},
        "response_headers_to_add": [{"header": {"key": "allow", "value": "GET, HEAD"}}],
        "typed_per_filter_config": {JSON_TRANSCODER: {"@type": ROUTE_FILTER_CONFIG, "disabled": True}},
    }
    return [read, read_only]


def web_app_routes(web_root: Path | None) -> list[dict[str, Any]]:
    """The static web app at `/` from the build in `web_root` (none when it is None); see `web_static`.

    Like media routes these disable the transcoder per route, and they leave `/api/` to the transcoder.
    """
    if web_root is None:
        return []
    # Imported here: only an edge that serves the app reads its build.
    from videoforge.gateway.web_static import static_web_routes

    return static_web_routes(web_root)


def json_api_route() -> dict[str, Any]:
    """The route a JSON request has before transcoding; it never forwards anything.

    The CORS filter (like any per-route filter setting) ignores a request whose route is a direct response,
    and a REST path matches no gRPC route until the transcoder has rewritten it. The transcoder then
    re-routes the request on its gRPC path or answers 404 itself; should anything still be routed here,
    the missing cluster answers 404 too.
    """
    return {
        "name": "json-api",
        "match": {"prefix": "/", "headers": [NOT_GRPC_CONTENT_TYPE]},
        "route": {"cluster": UNROUTED_CLUSTER, "cluster_not_found_response_code": "NOT_FOUND"},
    }


def no_route() -> dict[str, Any]:
    # The body comes from local_reply_config: JSON for HTTP clients, UNIMPLEMENTED for gRPC ones.
    return {"name": "no-route", "match": {"prefix": "/"}, "direct_response": {"status": 404}}


def media_cors_policy() -> dict[str, Any]:
    return {
        "@type": f"{_API}.filters.http.cors.v3.CorsPolicy",
        # Players may run on any origin; the grant in the URL, not the origin, decides.
        "allow_origin_string_match": [{"safe_regex": {"regex": ".*"}}],
        "allow_methods": "GET, HEAD",
        # Players fetch segments and MP4s in byte ranges.
        "allow_headers": "range",
        # Scripts must see sizes and ranges to seek; browsers hide unlisted headers from them.
        "expose_headers": MEDIA_CORS_EXPOSE_HEADERS,
        "max_age": "86400",
    }


def cors_policy() -> dict[str, Any]:
    return {
        "@type": f"{_API}.filters.http.cors.v3.CorsPolicy",
        # The API is bearer-token only (no cookies), so any origin may call it.
        "allow_origin_string_match": [{"safe_regex": {"regex": ".*"}}],
        "allow_methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
        "allow_headers": CORS_ALLOW_HEADERS,
        # gRPC-Web clients read the status from these; browsers hide unlisted headers from scripts.
        "expose_headers": CORS_EXPOSE_HEADERS,
        "max_age": "86400",
    }
