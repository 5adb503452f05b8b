"""The Envoy edge's bootstrap: JSON<->gRPC transcoding, gRPC-Web, CORS and health for the public services, and signed
media from the object store.

`render_envoy_config` builds the v3 bootstrap as a dict; `write_envoy_config` writes it where `envoy -c` can read
it. The parts live by concern: listeners here, `edge_filters`, `edge_routes`, `edge_clusters`, and `public_api` for
what the edge exposes. Request flow: health_check -> cors -> grpc_web -> grpc_json_transcoder -> local_ratelimit ->
ext_authz (media only) -> jwt_authn -> buffer -> router. After the transcoder, routes match the gRPC path
(`/videoforge.gallery.v1.GalleryService/GetVideo`), so the route table is an allow-list of public gRPC services;
anything else, internal services included, gets a 404 whatever protocol asked (JSON bodies from `local_replies`,
UNIMPLEMENTED for gRPC and gRPC-Web). Rate limits and token requirements match those gRPC paths too: each client
address has its own buckets, and a caller without a token reaches only sign-in and public reads
(`ANONYMOUS_METHODS`).

Unless a real CDN serves media (`cdn_base_url`), the edge plays it: `GET
/media/{key}?Policy=...&Signature=...&Key-Pair-Id=...` is checked by the streaming service (ext_authz, gRPC)
against its CloudFront-format grant, then read from the private bucket with a SigV4 request the object-store
cluster signs itself.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml

from videoforge.gateway.connections import client_address_detection, connection_protections
from videoforge.gateway.edge_clusters import (
    edge_serves_media,
    jwks_cluster,
    object_store_cluster,
    service_cluster,
    socket_address,
)
from videoforge.gateway.edge_filters import http_filters
from videoforge.gateway.edge_routes import route_config
from videoforge.gateway.edge_stats import stats_clusters, stats_listeners
from videoforge.gateway.edge_tls import downstream_tls_socket, https_redirect_manager
from videoforge.gateway.local_replies import local_reply_config
from videoforge.gateway.mesh_upstream import mesh_upstream_tls
from videoforge.gateway.public_api import DEFAULT_DESCRIPTOR
from videoforge.kit.settings import Settings

_API = "type.googleapis.com/envoy.extensions"

MAX_DOWNSTREAM_CONNECTIONS = 50_000


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
        "admin": {"address": socket_address("127.0.0.1", settings.edge_admin_port)},
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
    return {"name": name, "address": socket_address(host, port), "filter_chains": [chain]}
