"""The edge's upstreams: a cluster per service (HTTP/2, health-checked, mutual TLS), the object store read
with SigV4, and an external issuer's JWKS.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

import certifi

from videoforge.kit.settings import Settings

_API = "type.googleapis.com/envoy.extensions"

HEALTH_CHECK_INTERVAL = "1s"


OBJECT_STORE_CLUSTER = "object-store"


# Objects are immutable per job attempt. `private`: the grant is in the URL, so no shared cache may keep the
# object past it for someone else.
MEDIA_CACHE_CONTROL = "private, max-age=86400, immutable"


# The store's own bookkeeping is none of the client's business.
STORE_RESPONSE_HEADERS = ["x-amz-request-id", "x-amz-id-2", "seaweed-x-amz-etag", "seaweed-x-amz-owner"]


JWKS_CLUSTER = "jwks"


def edge_serves_media(settings: Settings) -> bool:
    """True unless a CDN (CloudFront) serves the signed media URLs."""
    return not settings.cdn_base_url


def object_store_url(settings: Settings) -> str:
    return settings.s3_endpoint_url or f"https://s3.{settings.s3_region}.amazonaws.com"


def service_cluster(name: str, address: str) -> dict[str, Any]:
    host, port = split_host_port(address)
    cluster: dict[str, Any] = {
        "name": name,
        # An IP is used as is; a name (a Kubernetes Service) is re-resolved and may give several pods.
        "type": "STATIC" if _is_ip(host) else "STRICT_DNS",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": socket_address(host, port)}}]}],
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
                {"lb_endpoints": [{"endpoint": {"address": socket_address(host, parts.port or (443 if tls else 80))}}]}
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


def socket_address(host: str, port: int) -> dict[str, Any]:
    return {"socket_address": {"address": host, "port_value": port}}
