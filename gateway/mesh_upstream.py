"""The edge's side of the mesh's mutual TLS: every service cluster, ext_authz's included, gets the edge's
certificate and trusts only a server whose certificate names that service."""

from __future__ import annotations

from typing import Any

from videoforge.kit.settings import Settings

_API = "type.googleapis.com/envoy.extensions"


def mesh_upstream_tls(settings: Settings, service: str) -> dict[str, Any]:
    """An UpstreamTlsContext presenting the edge's certificate to `service`, whose name its certificate carries."""
    if settings.mesh_ca_file is None or settings.mesh_cert_file is None or settings.mesh_key_file is None:
        raise ValueError(
            "the edge calls the services over mutual TLS: set MESH_CA_FILE, MESH_CERT_FILE and MESH_KEY_FILE "
            "to the mesh CA and the edge's certificate and key"
        )
    return {
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": f"{_API}.transport_sockets.tls.v3.UpstreamTlsContext",
            "sni": service,
            "common_tls_context": {
                # gRPC servers speak HTTP/2 and refuse a TLS connection that does not offer it.
                "alpn_protocols": ["h2"],
                "tls_certificates": [
                    {
                        "certificate_chain": {"filename": str(settings.mesh_cert_file)},
                        "private_key": {"filename": str(settings.mesh_key_file)},
                    }
                ],
                "validation_context": {
                    "trusted_ca": {"filename": str(settings.mesh_ca_file)},
                    "match_typed_subject_alt_names": [{"san_type": "DNS", "matcher": {"exact": service}}],
                },
            },
        },
    }
