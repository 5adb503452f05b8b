"""TLS at the edge, as the original platform's load balancer terminated it: HTTPS with HTTP/2 by ALPN on the
edge's port, and an optional plain-HTTP port that only redirects to HTTPS.

Part of the edge's bootstrap (`envoy_config`). Without a certificate in the settings the edge speaks plain
HTTP, as it does on one machine and behind a TLS-terminating load balancer.
"""

from __future__ import annotations

from typing import Any

from videoforge.gateway.connections import connection_protections
from videoforge.kit.settings import Settings

_API = "type.googleapis.com/envoy.extensions"
# Browsers and gRPC clients both get HTTP/2 when they offer it; HTTP/1.1 stays for curl and older clients.
ALPN_PROTOCOLS = ["h2", "http/1.1"]
MINIMUM_TLS_VERSION = "TLSv1_2"


def downstream_tls_socket(settings: Settings) -> dict[str, Any] | None:
    """The edge listener's transport socket, or None for plain HTTP."""
    if settings.edge_tls_cert_file is None or settings.edge_tls_key_file is None:
        return None
    certificate = {
        "certificate_chain": {"filename": str(settings.edge_tls_cert_file.resolve())},
        "private_key": {"filename": str(settings.edge_tls_key_file.resolve())},
    }
    return {
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": f"{_API}.transport_sockets.tls.v3.DownstreamTlsContext",
            "common_tls_context": {
                "tls_certificates": [certificate],
                "alpn_protocols": ALPN_PROTOCOLS,
                "tls_params": {"tls_minimum_protocol_version": MINIMUM_TLS_VERSION},
            },
        },
    }


def https_redirect_manager(settings: Settings) -> dict[str, Any]:
    """A connection manager that answers every plain-HTTP request with a redirect to the same URL over HTTPS."""
    redirect = {"https_redirect": True, "port_redirect": settings.edge_port}
    return {
        "@type": f"{_API}.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "http_redirect",
        "codec_type": "AUTO",
        **connection_protections(),
        "route_config": {
            "virtual_hosts": [
                {"name": "https", "domains": ["*"], "routes": [{"match": {"prefix": "/"}, "redirect": redirect}]}
            ]
        },
        "http_filters": [
            {"name": "envoy.filters.http.router", "typed_config": {"@type": f"{_API}.filters.http.router.v3.Router"}}
        ],
    }
