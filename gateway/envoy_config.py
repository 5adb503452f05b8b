"""The Envoy edge's bootstrap: JSON<->gRPC transcoding, gRPC-Web, CORS and health for the public services.

`render_envoy_config` builds the v3 bootstrap as a dict; `write_envoy_config` writes it where `envoy -c`
can read it. Request flow: health_check -> cors -> grpc_web -> grpc_json_transcoder -> (jwt_authn,
local_ratelimit: later) -> buffer -> router. After the transcoder, routes match the gRPC path
(`/videoforge.gallery.v1.GalleryService/GetVideo`), so the route table is an allow-list of public gRPC
services; anything else, internal services included, gets a 404 whatever protocol asked (JSON bodies from
`local_replies`, UNIMPLEMENTED for gRPC and gRPC-Web).
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

import yaml
from google.protobuf import descriptor_pb2

from videoforge.gateway.local_replies import HEALTH_PATH, local_reply_config
from videoforge.kit.settings import Settings

DEFAULT_DESCRIPTOR = Path(__file__).resolve().parent / "videoforge.binpb"

# The services the edge exposes, and the cluster each lives in. Never the *InternalServices nor
# TranscoderService: those are for calls between services only.
PUBLIC_SERVICES: dict[str, str] = {
    "videoforge.identity.v1.IdentityService": "identity",
    "videoforge.gallery.v1.GalleryService": "gallery",
    "videoforge.job.v1.JobService": "job",
    "videoforge.job.v1.JobAdminService": "job",
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

_API = "type.googleapis.com/envoy.extensions"


def render_envoy_config(
    settings: Settings, *, descriptor: Path | None = None, web_root: Path | None = None
) -> dict[str, Any]:
    """The bootstrap for an edge on `settings.edge_host:edge_port` in front of the services in `settings`."""
    descriptor = (descriptor or DEFAULT_DESCRIPTOR).resolve()
    clusters = service_addresses(settings)
    return {
        "admin": {"address": _socket_address("127.0.0.1", settings.edge_admin_port)},
        "static_resources": {
            "listeners": [edge_listener(settings, descriptor, web_root, list(clusters))],
            "clusters": [service_cluster(name, address) for name, address in clusters.items()],
        },
        "overload_manager": connection_limit(),
    }


def write_envoy_config(
    settings: Settings, path: Path, *, descriptor: Path | None = None, web_root: Path | None = None
) -> Path:
    """Writes the bootstrap as YAML (`.yaml`, `.yml`) or JSON (`.json`): Envoy picks its parser by suffix."""
    config = render_envoy_config(settings, descriptor=descriptor, web_root=web_root)
    if path.suffix in (".yaml", ".yml"):
        text = yaml.safe_dump(config, sort_keys=False)
    elif path.suffix == ".json":
        text = json.dumps(config, indent=2)
    else:
        raise ValueError(f"Envoy reads .yaml, .yml or .json bootstraps, not {path.name}")
    path.write_text(text)
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
        # The edge is the first hop it trusts: the client address is the peer, not an X-Forwarded-For claim.
        "use_remote_address": True,
        # `/a/../b` and `//b` must route as `/b`, so no path spelling reaches past the allow-list.
        "normalize_path": True,
        "merge_slashes": True,
        "route_config": route_config(settings, descriptor, web_root),
        "http_filters": http_filters(settings, descriptor, clusters),
        "local_reply_config": local_reply_config(),
    }
    return {
        "name": "edge",
        "address": _socket_address(settings.edge_host, settings.edge_port),
        "filter_chains": [
            {"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": manager}]}
        ],
    }


# HTTP filters, in the order a request meets them.


def http_filters(settings: Settings, descriptor: Path, clusters: list[str]) -> list[dict[str, Any]]:
    return [
        health_check_filter(clusters),
        cors_filter(),
        grpc_web_filter(),
        json_transcoder_filter(descriptor),
        *jwt_authn_filters(settings),
        *local_ratelimit_filters(settings),
        request_size_limit_filter(),
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
    # The policy itself is on the virtual host (cors_policy); the filter only applies it.
    return {"name": "envoy.filters.http.cors", "typed_config": {"@type": f"{_API}.filters.http.cors.v3.Cors"}}


def grpc_web_filter() -> dict[str, Any]:
    return {
        "name": "envoy.filters.http.grpc_web",
        "typed_config": {"@type": f"{_API}.filters.http.grpc_web.v3.GrpcWeb"},
    }


def json_transcoder_filter(descriptor: Path) -> dict[str, Any]:
    return {
        "name": "envoy.filters.http.grpc_json_transcoder",
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


def jwt_authn_filters(settings: Settings) -> list[dict[str, Any]]:
    """Bearer JWT checks against the identity JWKS (`settings.jwt_jwks_url`) go here; none yet."""
    return []


def local_ratelimit_filters(settings: Settings) -> list[dict[str, Any]]:
    """Per-route local rate limits go here, after the transcoder so they see gRPC paths; none yet."""
    return []


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
        json_api_route(),
        no_route(),
    ]
    virtual_host = {
        "name": "edge",
        "domains": ["*"],
        "routes": routes,
        "typed_per_filter_config": {"envoy.filters.http.cors": cors_policy()},
    }
    # json_api_route names a cluster that does not exist, on purpose; every other name is a real cluster.
    return {"name": "edge", "virtual_hosts": [virtual_host], "validate_clusters": False}


def grpc_routes(descriptor: Path) -> list[dict[str, Any]]:
    """Server-streaming methods first (no timeout), then one prefix route per public service."""
    streaming = [
        streaming_method_route(path, PUBLIC_SERVICES[service]) for service, path in server_streaming_methods(descriptor)
    ]
    unary = [service_route(service, cluster) for service, cluster in PUBLIC_SERVICES.items()]
    return [*streaming, *unary]


def server_streaming_methods(descriptor: Path) -> list[tuple[str, str]]:
    """(service, gRPC path) of every server-streaming method of the public services."""
    files = descriptor_pb2.FileDescriptorSet.FromString(descriptor.read_bytes()).file
    found = {f"{file.package}.{service.name}": service for file in files for service in file.service}
    missing = sorted(set(PUBLIC_SERVICES) - set(found))
    if missing:
        raise ValueError(f"{descriptor} does not describe {', '.join(missing)}")
    return [
        (name, f"/{name}/{method.name}")
        for name in PUBLIC_SERVICES
        for method in found[name].method
        if method.server_streaming
    ]


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
    """`/media/` to the object store behind a CloudFront-style signature check goes here; none yet.

    Such routes must disable the transcoder per route (`GrpcJsonTranscoderPerRoute.disabled`), or its
    `reject_unknown_method` answers them 404 before routing.
    """
    return []


def web_app_routes(web_root: Path | None) -> list[dict[str, Any]]:
    """The static web app at `/` goes here; like media routes it must disable the transcoder per route
    and leave `/api/` to the transcoder."""
    if web_root is not None:
        raise NotImplementedError("serving the web app from the edge is not built yet")
    return []


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
