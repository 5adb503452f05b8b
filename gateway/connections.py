"""What the edge allows one client connection: header size and time, streams, requests, and whose address it is.

Part of the edge's bootstrap (`envoy_config`): the settings of the listener's HTTP connection manager that keep
slow, greedy or lying clients from holding the edge or from passing for someone else.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from videoforge.kit.settings import Settings

_API = "type.googleapis.com/envoy.extensions"
# A client has this long to send its request headers; slowloris clients hold nothing longer.
REQUEST_HEADERS_TIMEOUT = "10s"
# Headers of our requests are a bearer token and a few short values: 32 KiB is several times that.
MAX_REQUEST_HEADERS_KB = 32
MAX_REQUEST_HEADERS = 100
# A connection that has been idle this long is closed; streams have their own, per-route timeouts.
CONNECTION_IDLE_TIMEOUT = "300s"
# One connection may not be held forever by one client: browsers and gRPC channels reconnect.
MAX_REQUESTS_PER_CONNECTION = 10_000
# HTTP/2: Envoy's edge recommendations. Few parallel streams and small windows bound what one client buffers here.
MAX_CONCURRENT_STREAMS = 100
INITIAL_STREAM_WINDOW_BYTES = 64 * 1024
INITIAL_CONNECTION_WINDOW_BYTES = 1024 * 1024


def connection_protections() -> dict[str, Any]:
    """HttpConnectionManager fields bounding each connection and the requests on it."""
    return {
        "request_headers_timeout": REQUEST_HEADERS_TIMEOUT,
        "max_request_headers_kb": MAX_REQUEST_HEADERS_KB,
        "common_http_protocol_options": {
            "idle_timeout": CONNECTION_IDLE_TIMEOUT,
            "max_headers_count": MAX_REQUEST_HEADERS,
            "max_requests_per_connection": MAX_REQUESTS_PER_CONNECTION,
        },
        "http2_protocol_options": {
            "max_concurrent_streams": MAX_CONCURRENT_STREAMS,
            "initial_stream_window_size": INITIAL_STREAM_WINDOW_BYTES,
            "initial_connection_window_size": INITIAL_CONNECTION_WINDOW_BYTES,
        },
    }


def client_address_detection(settings: Settings) -> dict[str, Any]:
    """How the edge tells who the client is, for rate limits and logs; never from a claim the client makes.

    By default the peer's address. With `edge_trusted_proxy_cidrs`, X-Forwarded-For is read only when the peer
    is one of those proxies, and then past every proxy of those networks from the right: a client that reaches
    the edge directly, around the load balancer, is itself the client whatever header it sends. The older
    `edge_trusted_proxy_hops` trusts that many entries from whoever connects.
    """
    if not settings.edge_trusted_proxy_cidrs:
        return {"use_remote_address": True, "xff_num_trusted_hops": settings.edge_trusted_proxy_hops}
    cidrs = [ipaddress.ip_network(cidr, strict=False) for cidr in settings.edge_trusted_proxy_cidrs]
    xff = {
        "@type": f"{_API}.http.original_ip_detection.xff.v3.XffConfig",
        "xff_trusted_cidrs": {
            "cidrs": [{"address_prefix": str(net.network_address), "prefix_len": net.prefixlen} for net in cidrs]
        },
    }
    return {
        # The extension replaces use_remote_address (Envoy refuses both): it falls back to the peer itself.
        "original_ip_detection_extensions": [
            {"name": "envoy.extensions.http.original_ip_detection.xff", "typed_config": xff}
        ],
    }
