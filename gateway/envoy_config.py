"""The Envoy edge's bootstrap: JSON<->gRPC transcoding, gRPC-Web, CORS and health for the public services,
and signed media from the object store.

`render_envoy_config` builds the v3 bootstrap as a dict; `write_envoy_config` writes it where `envoy -c`
can read it. Request flow: health_check -> cors -> grpc_web -> grpc_json_transcoder -> local_ratelimit ->
ext_authz (media only) -> jwt_authn -> buffer -> router. After the transcoder, routes match the gRPC path
(`/videoforge.gallery.v1.GalleryService/GetVideo`), so the route table is an allow-list of public gRPC
services; anything else, internal services included, gets a 404 whatever protocol asked (JSON bodies from
`local_replies`, UNIMPLEMENTED for gRPC and gRPC-Web). Rate limits and token requirements match those gRPC
paths too: each client address has its own buckets, and a caller without a token reaches only sign-in and
public reads (`ANONYMOUS_METHODS`).

Unless a real CDN serves media (`cdn_base_url`), the edge plays it: `GET /media/{key}?Policy=...&Signature=...
&Key-Pair-Id=...` is checked by the streaming service (ext_authz, gRPC) against its CloudFront-format grant,
then read from the private bucket with a SigV4 request the object-store cluster signs itself.
"""

from __future__ import annotations

import ipaddress
import json
import math
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import certifi
import yaml
from google.protobuf import descriptor_pb2

from videoforge.gateway.connections import client_address_detection, connection_protections
from videoforge.gateway.download_redirect import download_redirect_filter
from videoforge.gateway.edge_stats import stats_clusters, stats_listeners
from videoforge.gateway.edge_tls import downstream_tls_socket, https_redirect_manager
from videoforge.gateway.error_bodies import error_body_filter
from videoforge.gateway.local_replies import HEALTH_PATH, local_reply_config
from videoforge.gateway.mesh_upstream import mesh_upstream_tls
from videoforge.gateway.metadata_headers import metadata_headers_filter
from videoforge.gateway.openapi_route import MAX_DOCUMENT_BYTES, openapi_route
from videoforge.gateway.web_static import web_app_filters
from videoforge.kit.settings import Settings
from videoforge.kit.tokens import jwks_document, load_private_key

DEFAULT_DESCRIPTOR = Path(__file__).resolve().parent / "videoforge.binpb"

# The services the edge exposes, and the cluster each lives in. Never the *InternalServices nor
# TranscoderService: those are for calls between services only.
PUBLIC_SERVICES: dict[str, str] = {
    "videoforge.identity.v1.IdentityService": "identity",
    "videoforge.gallery.v1.GalleryService": "gallery",
    "videoforge.gallery.v1.GalleryApiService": "gallery",
    "videoforge.gallery.v1.WebhookService": "gallery",
    "videoforge.job.v1.JobService": "job",
    "videoforge.job.v1.JobAdminService": "job",
    "videoforge.job.v1.JobApiService": "job",
    "videoforge.streaming.v1.StreamingService": "streaming",
}

UNARY_TIMEOUT = "15s"
MAX_REQUEST_BYTES = 1024 * 1024  # JSON and protobuf messages only: media goes to the object store directly.
# Matches gRPC's default message cap; the 1 MiB stream buffer would otherwise cut long listings.
MAX_RESPONSE_BYTES = 4 * 1024 * 1024
HEALTH_CHECK_INTERVAL = "1s"
MAX_DOWNSTREAM_CONNECTIONS = 50_000

UNROUTED_CLUSTER = "unrouted"
# Anything but gRPC and gRPC-Web; a GET without a content type must count too, hence the missing-as-empty.
NOT_GRPC_CONTENT_TYPE = {
    "name": "content-type",
    "string_match": {"prefix": "application/grpc"},
    "invert_match": True,
    "treat_missing_header_as_empty": True,
}

CORS_ALLOW_HEADERS = (
    "authorization, content-type, x-grpc-web, x-user-agent, grpc-timeout, "
    "x-accept-content-transfer-encoding, x-accept-response-streaming"
)
CORS_EXPOSE_HEADERS = "grpc-status, grpc-message, grpc-status-details-bin"

MEDIA_PREFIX = "/media/"
OBJECT_STORE_CLUSTER = "object-store"
MEDIA_READ_METHODS = "GET|HEAD|OPTIONS"  # OPTIONS: the CORS filter answers preflights on this route
MEDIA_CHECK_TIMEOUT = "2s"  # one RSA verification; longer means the streaming service is stuck
# A large MP4 download may take minutes; a stalled one is cut after this long without a byte.
MEDIA_IDLE_TIMEOUT = "60s"
# Objects are immutable per job attempt. `private`: the grant is in the URL, so no shared cache may keep the
# object past it for someone else.
MEDIA_CACHE_CONTROL = "private, max-age=86400, immutable"
MEDIA_CORS_EXPOSE_HEADERS = "content-length, content-range, accept-ranges"
# The store's own bookkeeping is none of the client's business.
STORE_RESPONSE_HEADERS = ["x-amz-request-id", "x-amz-id-2", "seaweed-x-amz-etag", "seaweed-x-amz-owner"]

# The only methods a caller without a token may reach: signing in and out, the keys that verify tokens, and
# public reads. Every other method of a public service, one added later included, needs a valid token.
ANONYMOUS_METHODS = frozenset(
    {
        "/videoforge.identity.v1.IdentityService/Register",
        "/videoforge.identity.v1.IdentityService/Login",
        "/videoforge.identity.v1.IdentityService/RefreshSession",
        "/videoforge.identity.v1.IdentityService/Logout",
        "/videoforge.identity.v1.IdentityService/GetJwks",
        "/videoforge.gallery.v1.GalleryService/ListVideos",
        "/videoforge.gallery.v1.GalleryService/GetVideo",
        "/videoforge.gallery.v1.GalleryApiService/ListVideos",
        "/videoforge.gallery.v1.GalleryApiService/GetVideo",
        "/videoforge.streaming.v1.StreamingService/ListQualities",
        "/videoforge.streaming.v1.StreamingService/GetStream",
        "/videoforge.streaming.v1.StreamingService/GetPlayback",
        "/videoforge.streaming.v1.StreamingService/GetThumbnail",
        "/videoforge.streaming.v1.StreamingService/GetVideoStream",
        "/videoforge.streaming.v1.StreamingService/GetManifest",
    }
)
JWT_PROVIDER = "videoforge"
JWKS_CLUSTER = "jwks"
JWKS_FETCH_TIMEOUT = "5s"
# An external issuer rotates its keys rarely and publishes a new one ahead of use; the edge trusts it this soon.
JWKS_CACHE_DURATION = "600s"

# Calls that try a password or mint tokens get their own, tighter bucket per client.
SIGN_IN_METHODS = ("Login", "Register", "RefreshSession", "ChangePassword")
SIGN_IN_SERVICE = "videoforge.identity.v1.IdentityService"
# Client addresses whose buckets are kept; the least recently seen one is forgotten (its bucket refilled) past it.
RATE_LIMITED_CLIENTS = 10_000
# One client per IPv4 address, and per /64 for IPv6, the block one host or home network gets.
CLIENT_ADDRESS = {"masked_remote_address": {"v4_prefix_mask_len": 32, "v6_prefix_mask_len": 64}}

_API = "type.googleapis.com/envoy.extensions"
_FILTER_CONFIG = "type.googleapis.com/envoy.config.route.v3.FilterConfig"
EXT_AUTHZ = "envoy.filters.http.ext_authz"
JSON_TRANSCODER = "envoy.filters.http.grpc_json_transcoder"
CORS = "envoy.filters.http.cors"
JWT_AUTHN = "envoy.filters.http.jwt_authn"
LOCAL_RATELIMIT = "envoy.filters.http.local_ratelimit"


def render_envoy_config(
    settings: Settings, *, descriptor: Path | None = None, web_root: Path | None = None
) -> dict[str, Any]:
    """The bootstrap for an edge on `settings.edge_host:edge_port` in front of the services in `settings`."""
    descriptor = (descriptor or DEFAULT_DESCRIPTOR).resolve()
    clusters = service_addresses(settings)
    media = [object_store_cluster(settings)] if edge_serves_media(settings) else []
    jwks = [jwks_cluster(settings.jwt_jwks_url)] if settings.jwt_jwks_url else []
    tls = {name: mesh_upstream_tls(settings, name) for name in clusters}
    services = [{**service_cluster(name, address), "transport_socket": tls[name]} for name, address in clusters.items()]
    return {
        "admin": {"address": _socket_address("127.0.0.1", settings.edge_admin_port)},
        "static_resources": {
            "listeners": [
                edge_listener(settings, descriptor, web_root, list(clusters)),
                *redirect_listeners(settings),
                *stats_listeners(settings),
            ],
            "clusters": [*services, *media, *jwks, *stats_clusters(settings)],
        },
        "overload_manager": connection_limit(),
    }


def write_envoy_config(
    settings: Settings, path: Path, *, descriptor: Path | None = None, web_root: Path | None = None
) -> Path:
    """Writes the bootstrap as YAML (`.yaml`, `.yml`) or JSON (`.json`): Envoy picks its parser by suffix.

    Readable by its owner only: it may hold the object store's credentials.
    """
    config = render_envoy_config(settings, descriptor=descriptor, web_root=web_root)
    if path.suffix in (".yaml", ".yml"):
        text = yaml.safe_dump(config, sort_keys=False)
    elif path.suffix == ".json":
        text = json.dumps(config, indent=2)
    else:
        raise ValueError(f"Envoy reads .yaml, .yml or .json bootstraps, not {path.name}")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT
    with os.fdopen(fd, "w") as file:
        file.write(text)
    return path


def service_addresses(settings: Settings) -> dict[str, str]:
    """Cluster name -> `host:port` of every service; /healthz waits for all of them."""
    return {
        "identity": settings.identity_address,
        "gallery": settings.gallery_address,
        "job": settings.job_address,
        "streaming": settings.streaming_address,
        "transcoder": settings.transcoder_address,
    }


def edge_serves_media(settings: Settings) -> bool:
    """True unless a CDN (CloudFront) serves the signed media URLs."""
    return not settings.cdn_base_url


def object_store_url(settings: Settings) -> str:
    return settings.s3_endpoint_url or f"https://s3.{settings.s3_region}.amazonaws.com"


# Listener and connection manager.


def connection_limit() -> dict[str, Any]:
    # An edge must cap its connections: past the cap Envoy refuses new ones instead of running out of fds.
    return {
        "resource_monitors": [
            {
                "name": "envoy.resource_monitors.global_downstream_max_connections",
                "typed_config": {
                    "@type": f"{_API}.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig",
                    "max_active_downstream_connections": MAX_DOWNSTREAM_CONNECTIONS,
                },
            }
        ]
    }


def edge_listener(settings: Settings, descriptor: Path, web_root: Path | None, clusters: list[str]) -> dict[str, Any]:
    manager = {
        "@type": f"{_API}.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "edge",
        # AUTO: browsers speak HTTP/1.1, native gRPC clients HTTP/2 with prior knowledge, on one port.
        "codec_type": "AUTO",
        **client_address_detection(settings),
        **connection_protections(),
        # `/a/../b` and `//b` must route as `/b`, so no path spelling reaches past the allow-list.
        "normalize_path": True,
        "merge_slashes": True,
        "route_config": route_config(settings, descriptor, web_root),
        "http_filters": http_filters(settings, descriptor, clusters),
        "local_reply_config": local_reply_config(),
    }
    return _listener("edge", settings.edge_host, settings.edge_port, manager, downstream_tls_socket(settings))


def redirect_listeners(settings: Settings) -> list[dict[str, Any]]:
    if not settings.edge_http_redirect_port:
        return []
    manager = https_redirect_manager(settings)
    return [_listener("http_redirect", settings.edge_host, settings.edge_http_redirect_port, manager)]


def _listener(
    name: str, host: str, port: int, manager: dict[str, Any], transport_socket: dict[str, Any] | None = None
) -> dict[str, Any]:
    chain: dict[str, Any] = {
        "filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": manager}]
    }
    if transport_socket is not None:
        chain["transport_socket"] = transport_socket
    return {"name": name, "address": _socket_address(host, port), "filter_chains": [chain]}


# HTTP filters, in the order a request meets them.


def http_filters(settings: Settings, descriptor: Path, clusters: list[str]) -> list[dict[str, Any]]:
    return [
        health_check_filter(clusters),
        cors_filter(),
        grpc_web_filter(),
        metadata_headers_filter(),
        # Before the transcoder, so that on the way back they see the JSON the transcoder wrote.
        download_redirect_filter(),
        error_body_filter(),
        json_transcoder_filter(descriptor),
        # First after the transcoder (gRPC paths), and before any signature check: a flood costs a bucket lookup.
        *local_ratelimit_filters(settings),
        *media_authorization_filters(settings),
        *jwt_authn_filters(settings, descriptor),
        request_size_limit_filter(),
        *web_app_filters(),
        router_filter(),
    ]


def health_check_filter(clusters: list[str]) -> dict[str, Any]:
    return {
        "name": "envoy.filters.http.health_check",
        "typed_config": {
            "@type": f"{_API}.filters.http.health_check.v3.HealthCheck",
            # Envoy answers /healthz itself, from its active health checks of every service.
            "pass_through_mode": False,
            "headers": [{"name": ":path", "string_match": {"exact": HEALTH_PATH}}],
            "cluster_min_healthy_percentages": {name: {"value": 100.0} for name in clusters},
        },
    }


def cors_filter() -> dict[str, Any]:
    # The policy itself is on the virtual host (cors_policy) and the media route; the filter only applies it.
    return {"name": CORS, "typed_config": {"@type": f"{_API}.filters.http.cors.v3.Cors"}}


def grpc_web_filter() -> dict[str, Any]:
    return {
        "name": "envoy.filters.http.grpc_web",
        "typed_config": {"@type": f"{_API}.filters.http.grpc_web.v3.GrpcWeb"},
    }


def json_transcoder_filter(descriptor: Path) -> dict[str, Any]:
    return {
        "name": JSON_TRANSCODER,
        "typed_config": {
            "@type": f"{_API}.filters.http.grpc_json_transcoder.v3.GrpcJsonTranscoder",
            "proto_descriptor": str(descriptor),
            "services": list(PUBLIC_SERVICES),
            # Only the google.api.http bindings are the JSON API; gRPC paths are for gRPC clients.
            "auto_mapping": False,
            # Service errors become `{"code", "message", "details"}` bodies with the matching HTTP status.
            "convert_grpc_status": True,
            # Browsers' URLSearchParams encode a space as `+`: `?search=two+words` means "two words".
            "query_param_unescape_plus": True,
            # Clients add cache busters and tracking parameters; they must not turn a call into a 400.
            "ignore_unknown_query_parameters": True,
            "request_validation_options": {
                # An unmapped path is answered 404 here instead of travelling on untranscoded.
                "reject_unknown_method": True,
                # A query value that cannot be parsed into its field is the client's error, not a pass-through.
                "reject_unknown_query_parameters": True,
            },
            "max_response_body_size": MAX_RESPONSE_BYTES,
            "print_options": {
                # Zeros, empty strings and false stay in the JSON: clients read `progress: 0`, not a gap.
                "always_print_primitive_fields": True,
                "always_print_enums_as_ints": False,
                # Server streams (WatchJob) arrive as one JSON object per line, each usable on arrival;
                # the default, one JSON array, cannot be parsed until its closing bracket.
                "stream_newline_delimited": True,
            },
        },
    }


def media_authorization_filters(settings: Settings) -> list[dict[str, Any]]:
    """The streaming service's check of CloudFront-format grants (`envoy.service.auth.v3.Authorization`)."""
    if not edge_serves_media(settings):
        return []
    return [
        {
            "name": EXT_AUTHZ,
            # Off unless a route turns it on: only the media routes carry grants to check.
            "disabled": True,
            "typed_config": {
                "@type": f"{_API}.filters.http.ext_authz.v3.ExtAuthz",
                "grpc_service": {"envoy_grpc": {"cluster_name": "streaming"}, "timeout": MEDIA_CHECK_TIMEOUT},
                "transport_api_version": "V3",
                # No answer is no grant: media is never served unchecked.
                "failure_mode_allow": False,
                # ...but a check that could not run is the edge's fault, not the link's.
                "status_on_error": {"code": 503},
            },
        }
    ]


def jwt_authn_filters(settings: Settings, descriptor: Path) -> list[dict[str, Any]]:
    """Bearer JWTs checked at the edge as the services check them: RS256, the trusted issuer and audience.

    The keys are the external issuer's JWKS URL (Cognito) when set, else the local issuer's public key. Without
    either there is nothing to check against, and the services' own check is the only one (as in their tests).
    """
    if settings.jwt_jwks_url:
        keys: dict[str, Any] = {"remote_jwks": remote_jwks(settings.jwt_jwks_url)}
    elif settings.jwt_private_key_file is not None:
        # Inlined: the bootstrap is its owner's alone, and a public key is no secret anyway.
        jwks = jwks_document(load_private_key(settings.jwt_private_key_file))
        keys = {"local_jwks": {"inline_string": json.dumps(jwks)}}
    else:
        return []
    provider = {
        "issuer": settings.jwt_issuer,
        "audiences": [settings.jwt_audience],
        **keys,
        # The Authorization header only: a token in a query string ends up in logs and Referer headers. The
        # scheme's case does not matter (the services take either spelling too).
        "from_headers": [{"name": "authorization", "value_prefix": prefix} for prefix in ("Bearer ", "bearer ")],
        # Kept for the services, which check the token again and read the caller from it.
        "forward": True,
        # The services refuse a token that never expires; so does the edge.
        "require_expiration": True,
    }
    return [
        {
            "name": JWT_AUTHN,
            "typed_config": {
                "@type": f"{_API}.filters.http.jwt_authn.v3.JwtAuthentication",
                "providers": {JWT_PROVIDER: provider},
                "rules": jwt_rules(descriptor),
                # Preflights carry no token; the CORS filter answers them first, and this keeps it so.
                "bypass_cors_preflight": True,
            },
        }
    ]


def remote_jwks(url: str) -> dict[str, Any]:
    return {
        "http_uri": {"uri": url, "cluster": JWKS_CLUSTER, "timeout": JWKS_FETCH_TIMEOUT},
        "cache_duration": JWKS_CACHE_DURATION,
        # Fetched in the background at start and on expiry, never while a request waits; fast_listener: the edge
        # takes requests before the first fetch is done (a failed fetch is retried every second).
        "async_fetch": {"fast_listener": True},
    }


def jwt_rules(descriptor: Path) -> list[dict[str, Any]]:
    """Which gRPC paths need a token; the first rule that matches applies.

    `ANONYMOUS_METHODS` may come without one, every other path of a public service must carry a valid one. A
    token that is present is checked everywhere (`allow_missing`, not `allow_missing_or_failed`): an invalid one
    is a 401 on public reads too. Other paths (media, the web app) reach no service and match no rule.
    """
    methods = public_methods(descriptor)
    unknown = sorted(ANONYMOUS_METHODS - set(methods))
    if unknown:
        raise ValueError(f"{descriptor} describes no {', '.join(unknown)}")
    anonymous = {"requires_any": {"requirements": [{"provider_name": JWT_PROVIDER}, {"allow_missing": {}}]}}
    return [
        *({"match": {"path": path}, "requires": anonymous} for path in methods if path in ANONYMOUS_METHODS),
        *(
            {"match": {"prefix": f"/{service}/"}, "requires": {"provider_name": JWT_PROVIDER}}
            for service in PUBLIC_SERVICES
        ),
    ]


def local_ratelimit_filters(settings: Settings) -> list[dict[str, Any]]:
    """Token buckets per client address, after the transcoder so they see gRPC paths.

    Every gRPC call (JSON ones are gRPC calls by now) takes a token from the client's API bucket, sign-in calls
    one more from the tighter sign-in bucket; media reads have their own. Nothing else (the web app) is limited.
    """
    sign_in = "|".join(SIGN_IN_METHODS)
    buckets = {
        # Every gRPC path of the platform, routed or refused: one prefix instead of a regex over the services.
        "api": (settings.edge_rate_limit_per_minute, {"prefix": "/videoforge."}),
        "sign-in": (
            settings.edge_login_rate_limit_per_minute,
            {"safe_regex": {"regex": rf"/{re.escape(SIGN_IN_SERVICE)}/({sign_in})(\?.*)?"}},
        ),
        "media": (settings.edge_media_rate_limit_per_minute, {"prefix": MEDIA_PREFIX}),
    }
    # The longest any bucket takes to give back one token; buckets refill continuously.
    retry_after = max(math.ceil(60 / per_minute) for per_minute, _ in buckets.values())
    return [
        {
            "name": LOCAL_RATELIMIT,
            "typed_config": {
                "@type": f"{_API}.filters.http.local_ratelimit.v3.LocalRateLimit",
                "stat_prefix": "edge",
                # On and enforced for every request; both default to none.
                "filter_enabled": _all_requests("videoforge.rate_limit.enabled"),
                "filter_enforced": _all_requests("videoforge.rate_limit.enforced"),
                "rate_limits": [
                    {"actions": [_path_is(bucket, path), CLIENT_ADDRESS]} for bucket, (_, path) in buckets.items()
                ],
                "descriptors": [
                    {
                        # An empty value matches any address, each with a bucket of its own.
                        "entries": [{"key": "bucket", "value": bucket}, {"key": "masked_remote_address", "value": ""}],
                        "token_bucket": {
                            "max_tokens": per_minute,
                            "tokens_per_fill": per_minute,
                            "fill_interval": "60s",
                        },
                    }
                    for bucket, (per_minute, _) in buckets.items()
                ],
                "max_dynamic_descriptors": RATE_LIMITED_CLIENTS,
                # gRPC callers get RESOURCE_EXHAUSTED, as JSON callers get code 8, not the retry-at-once UNAVAILABLE
                # (gRPC-Web ones still read UNAVAILABLE: the grpc_web filter derives it from the HTTP 429).
                "rate_limited_as_resource_exhausted": True,
                "response_headers_to_add": [
                    {
                        "header": {"key": "retry-after", "value": str(retry_after)},
                        "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
                    }
                ],
            },
        }
    ]


def _path_is(bucket: str, path: dict[str, Any]) -> dict[str, Any]:
    """A rate limit action: `bucket=<bucket>` for requests whose path matches, else no descriptor at all."""
    match = {"name": ":path", "string_match": path}
    return {"header_value_match": {"descriptor_key": "bucket", "descriptor_value": bucket, "headers": [match]}}


def _all_requests(runtime_key: str) -> dict[str, Any]:
    # Envoy requires a runtime key for every fraction; nothing sets these keys.
    return {"runtime_key": runtime_key, "default_value": {"numerator": 100, "denominator": "HUNDRED"}}


def request_size_limit_filter() -> dict[str, Any]:
    # Last before the router: requests refused for auth or rate are never buffered.
    return {
        "name": "envoy.filters.http.buffer",
        "typed_config": {
            "@type": f"{_API}.filters.http.buffer.v3.Buffer",
            "max_request_bytes": MAX_REQUEST_BYTES,
        },
    }


def router_filter() -> dict[str, Any]:
    return {
        "name": "envoy.filters.http.router",
        "typed_config": {
            "@type": f"{_API}.filters.http.router.v3.Router",
            # The edge does not tell clients about its upstreams (x-envoy-upstream-service-time).
            "suppress_envoy_headers": True,
        },
    }


# Routes.


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


def server_streaming_methods(descriptor: Path) -> list[tuple[str, str]]:
    """(service, gRPC path) of every server-streaming method of the public services."""
    return [
        (name, f"/{name}/{method.name}")
        for name, service in public_services(descriptor).items()
        for method in service.method
        if method.server_streaming
    ]


def public_methods(descriptor: Path) -> list[str]:
    """The gRPC path of every method of the public services."""
    return [
        f"/{name}/{method.name}" for name, service in public_services(descriptor).items() for method in service.method
    ]


def public_services(descriptor: Path) -> dict[str, descriptor_pb2.ServiceDescriptorProto]:
    """Each of `PUBLIC_SERVICES` as the descriptor set describes it."""
    files = descriptor_pb2.FileDescriptorSet.FromString(descriptor.read_bytes()).file
    found = {f"{file.package}.{service.name}": service for file in files for service in file.service}
    missing = sorted(set(PUBLIC_SERVICES) - set(found))
    if missing:
        raise ValueError(f"{descriptor} does not describe {', '.join(missing)}")
    return {name: found[name] for name in PUBLIC_SERVICES}


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
            JSON_TRANSCODER: {"@type": _FILTER_CONFIG, "disabled": True},
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
        "typed_per_filter_config": {JSON_TRANSCODER: {"@type": _FILTER_CONFIG, "disabled": True}},
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


# Clusters.


def service_cluster(name: str, address: str) -> dict[str, Any]:
    host, port = split_host_port(address)
    cluster: dict[str, Any] = {
        "name": name,
        # An IP is used as is; a name (a Kubernetes Service) is re-resolved and may give several pods.
        "type": "STATIC" if _is_ip(host) else "STRICT_DNS",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": _socket_address(host, port)}}]}],
        },
        # Every service is a gRPC server: HTTP/2 upstream whatever the client spoke.
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": f"{_API}.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {"http2_protocol_options": {}},
            }
        },
        "health_checks": [grpc_health_check()],
    }
    if not _is_ip(host):
        # Services listen on IPv4 loopback by default; `localhost` must not be tried as ::1 first.
        cluster["dns_lookup_family"] = "V4_PREFERRED"
    return cluster


def object_store_cluster(settings: Settings) -> dict[str, Any]:
    """The S3 endpoint over HTTP/1.1; every request it sends is SigV4-signed here, after the route's rewrites."""
    cluster = url_cluster(OBJECT_STORE_CLUSTER, object_store_url(settings))
    cluster["typed_extension_protocol_options"] = {
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
            "@type": f"{_API}.upstreams.http.v3.HttpProtocolOptions",
            "explicit_http_config": {"http_protocol_options": {}},
            # Upstream filters run after the router's path and host rewrites, so the signature covers
            # the request the store receives; and no other cluster ever gets the store's credentials.
            "http_filters": [cache_control_filter(), aws_request_signing_filter(settings), upstream_codec_filter()],
        }
    }
    return cluster


def jwks_cluster(url: str) -> dict[str, Any]:
    """The external issuer's JWKS host (HTTPS, with SNI, for Cognito)."""
    return url_cluster(JWKS_CLUSTER, url)


def url_cluster(name: str, url: str) -> dict[str, Any]:
    """A cluster for a host outside the mesh, named by URL: TLS with SNI for https."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    tls = parts.scheme == "https"
    cluster: dict[str, Any] = {
        "name": name,
        # As for the services: an IP is used as is, a name is re-resolved.
        "type": "STATIC" if _is_ip(host) else "STRICT_DNS",
        "connect_timeout": "2s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [
                {"lb_endpoints": [{"endpoint": {"address": _socket_address(host, parts.port or (443 if tls else 80))}}]}
            ],
        },
    }
    if not _is_ip(host):
        # The edge must come up even while that name does not resolve; requests to it are retried.
        cluster["wait_for_warm_on_init"] = False
        cluster["dns_lookup_family"] = "V4_PREFERRED"
    if tls:
        cluster["transport_socket"] = upstream_tls(host)
    return cluster


def cache_control_filter() -> dict[str, Any]:
    # Asked of the store (S3's response-cache-control) rather than added here: S3 applies it to successful
    # reads only, so a 404 for a segment not uploaded yet is never cached.
    parameter = {"key": "response-cache-control", "value": MEDIA_CACHE_CONTROL}
    return {
        "name": "envoy.filters.http.header_mutation",
        "typed_config": {
            "@type": f"{_API}.filters.http.header_mutation.v3.HeaderMutation",
            "mutations": {
                "query_parameter_mutations": [{"append": {"record": parameter, "action": "OVERWRITE_IF_EXISTS_OR_ADD"}}]
            },
        },
    }


def aws_request_signing_filter(settings: Settings) -> dict[str, Any]:
    config: dict[str, Any] = {
        "@type": f"{_API}.filters.http.aws_request_signing.v3.AwsRequestSigning",
        "service_name": "s3",
        "region": settings.s3_region,
        # Only GET and HEAD get here: there is no body to hash, so none is buffered.
        "use_unsigned_payload": True,
    }
    if settings.s3_access_key_id and settings.s3_secret_access_key:
        config["credential_provider"] = {
            "inline_credential": {
                "access_key_id": settings.s3_access_key_id,
                "secret_access_key": settings.s3_secret_access_key,
            }
        }
    # Otherwise AWS's default chain: environment, profile, web identity (EKS), instance role.
    return {"name": "envoy.filters.http.aws_request_signing", "typed_config": config}


def upstream_codec_filter() -> dict[str, Any]:
    return {
        "name": "envoy.filters.http.upstream_codec",
        "typed_config": {"@type": f"{_API}.filters.http.upstream_codec.v3.UpstreamCodec"},
    }


def upstream_tls(host: str) -> dict[str, Any]:
    return {
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": f"{_API}.transport_sockets.tls.v3.UpstreamTlsContext",
            "sni": host,
            # Envoy ships no CA bundle; certifi's is the one Python's HTTP clients trust too.
            "common_tls_context": {
                "validation_context": {
                    "trusted_ca": {"filename": certifi.where()},
                    "match_typed_subject_alt_names": [{"san_type": "DNS", "matcher": {"exact": host}}],
                }
            },
        },
    }


def grpc_health_check() -> dict[str, Any]:
    return {
        "timeout": "1s",
        "interval": HEALTH_CHECK_INTERVAL,
        # Envoy otherwise checks a cluster that got no traffic only once a minute; /healthz would lag.
        "no_traffic_interval": HEALTH_CHECK_INTERVAL,
        # One good answer lets a starting service in; one lost probe does not throw a running one out.
        "healthy_threshold": 1,
        "unhealthy_threshold": 2,
        # The empty service name asks for the server's overall status, which every service reports.
        "grpc_health_check": {},
    }


def split_host_port(address: str) -> tuple[str, int]:
    """`host:port` or `[v6]:port` -> (host, port)."""
    host, separator, port = address.rpartition(":")
    if not separator or not port.isdigit():
        raise ValueError(f"expected host:port, got {address!r}")
    return host.strip("[]"), int(port)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _socket_address(host: str, port: int) -> dict[str, Any]:
    return {"socket_address": {"address": host, "port_value": port}}
