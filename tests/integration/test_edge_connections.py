"""What the edge allows one connection, and whose address it believes, on real Envoy.

Rate limits are per client address, so they show which address the edge took for the client: a sign-in bucket
that runs dry names the client it belongs to.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from tests.fixtures.envoy import EnvoyProcess
from tests.fixtures.mesh_pki import MeshPki
from tests.fixtures.stand_in_services import serving_every_service
from videoforge.gateway.connections import MAX_REQUEST_HEADERS_KB
from videoforge.gateway.envoy_config import write_envoy_config
from videoforge.identity.v1 import identity_pb2, identity_pb2_grpc
from videoforge.kit.mesh_tls import EDGE
from videoforge.kit.settings import Settings
from videoforge.platform.ports import free_port

LOGIN_LIMIT = 3
LOGIN = {"email": "ann@example.com", "password": "correct-horse-9"}
PROXY = "127.0.0.7"  # the load balancer, in the trusted network
OUTSIDER = "127.0.0.8"  # a client reaching the edge directly, around the load balancer


class Identity(identity_pb2_grpc.IdentityServiceServicer):
    async def Login(self, request: identity_pb2.LoginRequest, context: Any) -> identity_pb2.AuthSession:
        return identity_pb2.AuthSession(access_token="issued", token_type="Bearer")


@pytest.fixture(scope="module")
async def upstream(mesh_pki: MeshPki) -> AsyncIterator[str]:
    register = lambda s: identity_pb2_grpc.add_IdentityServiceServicer_to_server(Identity(), s)  # noqa: E731
    async with serving_every_service(mesh_pki, register) as address:
        yield address


@pytest.fixture(scope="module")
def edge_settings(upstream: str, mesh_pki: MeshPki) -> Settings:
    return Settings(
        **mesh_pki.settings(EDGE),
        **{f"{name}_address": upstream for name in ("identity", "gallery", "job", "streaming", "transcoder")},
        edge_host="127.0.0.1",
        edge_port=free_port(),
        edge_login_rate_limit_per_minute=LOGIN_LIMIT,
        edge_trusted_proxy_cidrs=[f"{PROXY}/32"],
        cdn_base_url="https://cdn.example.com",
    )


@pytest.fixture(scope="module")
def envoy_config_path(edge_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_envoy_config(edge_settings, tmp_path_factory.mktemp("edge") / "envoy.yaml")


def client_at(settings: Settings, local_address: str) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=local_address)
    return httpx.AsyncClient(base_url=settings.edge_url, transport=transport, timeout=10, trust_env=False)


async def sign_ins(client: httpx.AsyncClient, count: int, forwarded_for: str | None = None) -> list[int]:
    headers = {"x-forwarded-for": forwarded_for} if forwarded_for else {}
    return [(await client.post("/api/auth/login", json=LOGIN, headers=headers)).status_code for _ in range(count)]


async def test_forwarded_for_is_honoured_from_a_trusted_proxy_only(
    envoy: EnvoyProcess, edge_settings: Settings
) -> None:
    async with client_at(edge_settings, PROXY) as proxy, client_at(edge_settings, OUTSIDER) as outsider:
        # Through the proxy, each client named in X-Forwarded-For has a bucket of its own.
        first = await sign_ins(proxy, LOGIN_LIMIT + 1, "198.51.100.9")
        second = await sign_ins(proxy, 1, "198.51.100.10")
        # Around it, the header is the client's own claim: changing it every time buys no new bucket.
        spoofed = [(await sign_ins(outsider, 1, f"203.0.113.{n}"))[0] for n in range(LOGIN_LIMIT + 1)]

    assert first == [200] * LOGIN_LIMIT + [429]
    assert second == [200]
    assert spoofed == [200] * LOGIN_LIMIT + [429]


async def test_request_headers_past_the_cap_are_refused(envoy: EnvoyProcess, edge_settings: Settings) -> None:
    async with client_at(edge_settings, "127.0.0.9") as client:
        huge = await client.get("/healthz", headers={"x-padding": "a" * (MAX_REQUEST_HEADERS_KB * 1024)})
        fine = await client.get("/healthz", headers={"x-padding": "a" * 1024})

    assert huge.status_code == 431
    assert fine.status_code == 200


def test_the_bootstrap_bounds_headers_streams_and_connections(envoy_config_path: Path) -> None:
    text = envoy_config_path.read_text()

    for bound in ("request_headers_timeout", "max_concurrent_streams", "max_requests_per_connection"):
        assert bound in text


def test_proxies_are_trusted_by_network_or_by_hops_never_both() -> None:
    with pytest.raises(ValidationError, match="not both"):
        Settings(edge_trusted_proxy_cidrs=["10.0.0.0/8"], edge_trusted_proxy_hops=2)
    with pytest.raises(ValidationError):
        Settings(edge_trusted_proxy_cidrs=["10.0.0.300/8"])
