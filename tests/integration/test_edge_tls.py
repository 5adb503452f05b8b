"""TLS at the edge, on real Envoy: HTTPS with HTTP/2 by ALPN (native gRPC over it), plain HTTP redirected."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from pydantic import ValidationError

from tests.fixtures.certificates import self_signed_certificate
from tests.fixtures.envoy import EnvoyProcess
from tests.fixtures.mesh_pki import MeshPki
from tests.fixtures.stand_in_services import serving_every_service
from videoforge.gateway.envoy_config import write_envoy_config
from videoforge.identity.v1 import identity_pb2, identity_pb2_grpc
from videoforge.kit.mesh_tls import EDGE
from videoforge.kit.settings import Settings
from videoforge.platform.ports import free_port

LOGIN = {"email": "ann@example.com", "password": "correct-horse-9"}


class Identity(identity_pb2_grpc.IdentityServiceServicer):
    async def Login(self, request: identity_pb2.LoginRequest, context: Any) -> identity_pb2.AuthSession:
        return identity_pb2.AuthSession(access_token=f"issued to {request.email}", token_type="Bearer")


@pytest.fixture(scope="module")
async def upstream(mesh_pki: MeshPki) -> AsyncIterator[str]:
    register = lambda s: identity_pb2_grpc.add_IdentityServiceServicer_to_server(Identity(), s)  # noqa: E731
    async with serving_every_service(mesh_pki, register) as address:
        yield address


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def edge_settings(upstream: str, certificate: tuple[Path, Path], mesh_pki: MeshPki) -> Settings:
    cert_file, key_file = certificate
    return Settings(
        **mesh_pki.settings(EDGE),
        **{f"{name}_address": upstream for name in ("identity", "gallery", "job", "streaming", "transcoder")},
        edge_host="127.0.0.1",
        edge_port=free_port(),
        edge_tls_cert_file=cert_file,
        edge_tls_key_file=key_file,
        edge_http_redirect_port=free_port(),
        cdn_base_url="https://cdn.example.com",
    )


@pytest.fixture(scope="module")
def envoy_config_path(edge_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_envoy_config(edge_settings, tmp_path_factory.mktemp("edge") / "envoy.yaml")


async def test_the_edge_answers_json_over_https(envoy: EnvoyProcess, edge_settings: Settings) -> None:
    assert edge_settings.edge_url.startswith("https://")
    trusted = ssl.create_default_context(cafile=str(edge_settings.edge_tls_cert_file))
    async with httpx.AsyncClient(base_url=edge_settings.edge_url, verify=trusted, trust_env=False) as client:
        signed_in = await client.post("/api/auth/login", json=LOGIN)

    assert signed_in.status_code == 200
    assert signed_in.json()["accessToken"] == f"issued to {LOGIN['email']}"


async def test_native_grpc_gets_http2_by_alpn(envoy: EnvoyProcess, edge_settings: Settings) -> None:
    # gRPC has no HTTP/1.1 fallback: the call works only if the edge offers h2 in the TLS handshake.
    credentials = grpc.ssl_channel_credentials(edge_settings.edge_tls_cert_file.read_bytes())
    address = f"127.0.0.1:{edge_settings.edge_port}"
    async with grpc.aio.secure_channel(address, credentials) as channel:
        session = await identity_pb2_grpc.IdentityServiceStub(channel).Login(
            identity_pb2.LoginRequest(email="bo@example.com", password="x"), timeout=10
        )

    assert session.access_token == "issued to bo@example.com"


async def test_plain_http_is_redirected_to_https(envoy: EnvoyProcess, edge_settings: Settings) -> None:
    plain = f"http://127.0.0.1:{edge_settings.edge_http_redirect_port}"
    async with httpx.AsyncClient(trust_env=False) as client:
        answer = await client.get(f"{plain}/api/gallery/videos?search=cats")

    assert answer.status_code == 301
    assert answer.headers["location"] == f"https://127.0.0.1:{edge_settings.edge_port}/api/gallery/videos?search=cats"


async def test_plain_http_on_the_https_port_gets_nothing(envoy: EnvoyProcess, edge_settings: Settings) -> None:
    async with httpx.AsyncClient(trust_env=False) as client:
        with pytest.raises(httpx.HTTPError):
            await client.get(f"http://127.0.0.1:{edge_settings.edge_port}/healthz")


def test_tls_needs_both_files_and_the_redirect_needs_tls(certificate: tuple[Path, Path]) -> None:
    cert_file, _ = certificate
    with pytest.raises(ValidationError, match="both"):
        Settings(edge_tls_cert_file=cert_file)
    with pytest.raises(ValidationError, match="redirects to HTTPS"):
        Settings(edge_http_redirect_port=8080)
