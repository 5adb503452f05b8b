"""Mutual TLS between the services, the workers and the edge: what a process presents, and whom it trusts.

Every party holds the mesh CA and a certificate whose DNS name is its identity (`gallery`, `worker`, `edge`...).
Servers require a caller's certificate, and `caller_access` reads the caller's identity from it; callers check
that the server's certificate names the service they meant to reach, whatever address they dialled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import grpc

from videoforge.kit.settings import Settings

IDENTITY = "identity"
GALLERY = "gallery"
JOB = "job"
STREAMING = "streaming"
TRANSCODER = "transcoder"
WORKER = "worker"
EDGE = "edge"
# People's tools (health checks, reflection) that talk to a service directly.
OPERATOR = "operator"
MESH_IDENTITIES = (IDENTITY, GALLERY, JOB, STREAMING, TRANSCODER, WORKER, EDGE, OPERATOR)


class MeshTlsNotConfigured(ValueError):
    """A process of the mesh was started without its certificate; the message says what to set."""


@dataclass(frozen=True)
class MeshCredentials:
    """PEM bytes: the mesh CA, this process's certificate chain and its private key."""

    ca: bytes
    certificate: bytes
    key: bytes = field(repr=False)

    @classmethod
    def from_files(cls, ca_file: Path, cert_file: Path, key_file: Path) -> MeshCredentials:
        return cls(ca_file.read_bytes(), cert_file.read_bytes(), key_file.read_bytes())

    @classmethod
    def from_settings(cls, settings: Settings) -> MeshCredentials:
        if settings.mesh_ca_file is None or settings.mesh_cert_file is None or settings.mesh_key_file is None:
            raise MeshTlsNotConfigured(
                "MESH_CA_FILE, MESH_CERT_FILE and MESH_KEY_FILE are not set: services, workers and the edge speak "
                "only mutual TLS to each other. `videoforge up` makes them; see deploy/README.md otherwise."
            )
        return cls.from_files(settings.mesh_ca_file, settings.mesh_cert_file, settings.mesh_key_file)

    def server_credentials(self) -> grpc.ServerCredentials:
        """A server's side: its own certificate, and callers must present one the mesh CA signed."""
        return grpc.ssl_server_credentials(
            [(self.key, self.certificate)], root_certificates=self.ca, require_client_auth=True
        )

    def channel_credentials(self) -> grpc.ChannelCredentials:
        """A caller's side: its own certificate, and only servers the mesh CA signed are trusted."""
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca, private_key=self.key, certificate_chain=self.certificate
        )


def server_name_options(server_identity: str) -> list[tuple[str, str]]:
    """Channel options that make the server's certificate name `server_identity`, not the dialled address.

    Addresses are loopback ports on one machine and Service names in a cluster; the identity is the same in both.
    """
    return [("grpc.ssl_target_name_override", server_identity)]
