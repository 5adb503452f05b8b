"""The edge refuses what the services would refuse, before they see it: bearer JWTs (jwt_authn) and per-client
rate limits (local_ratelimit), over JSON, gRPC-Web and gRPC.

Real Envoy on the generated bootstrap, in front of one grpc.aio server with canned identity and gallery servicers
(which record each call and its Authorization header) and the real media check. Rate limits are per client
address, so each test that spends a bucket calls from an address of its own on the loopback network.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import struct
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from google.api import httpbody_pb2
from google.protobuf import descriptor_pb2

from tests.fixtures.envoy import EnvoyProcess, envoy_binary, running_envoy
from tests.fixtures.mesh_pki import MeshPki
from tests.fixtures.stand_in_services import serving_every_service
from videoforge.gallery.v1 import gallery_pb2, gallery_pb2_grpc
from videoforge.gateway.edge_clusters import JWKS_CLUSTER
from videoforge.gateway.edge_filters import jwt_rules
from videoforge.gateway.envoy_config import render_envoy_config, write_envoy_config
from videoforge.gateway.local_replies import RATE_LIMITED_MESSAGE, TOKEN_MISSING_MESSAGE
from videoforge.gateway.public_api import ANONYMOUS_METHODS, DEFAULT_DESCRIPTOR, PUBLIC_SERVICES
from videoforge.identity.adapters.jwt_issuer import RsaTokenIssuer
from videoforge.identity.domain.accounts import User
from videoforge.identity.v1 import identity_pb2, identity_pb2_grpc
from videoforge.kit.cdn import GrantVerifier
from videoforge.kit.mesh_tls import EDGE
from videoforge.kit.settings import Settings
from videoforge.kit.tokens import key_id
from videoforge.platform.ports import free_port
from videoforge.streaming.edgeauth import external_auth_pb2_grpc
from videoforge.streaming.media_authorization import MediaAuthorizationServicer

ISSUER = "videoforge-test"
AUDIENCE = "videoforge-test-api"
API_LIMIT = 100
LOGIN_LIMIT = 5
MEDIA_LIMIT = 5
ORIGIN = "https://app.example.com"
REFUSED = "The access token was refused ("
MY_VIDEOS = "/api/gallery/my-videos"  # ListMyVideos: needs a token
PUBLIC_VIDEOS = "/v1/videos"  # ListVideos: a public read
LOGIN = {"email": "ann@example.com", "password": "correct-horse-9"}
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED.value[0]


# Canned upstreams that remember who called them.


class Calls:
    """(method, Authorization header) of every call that reached a servicer."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str]] = []

    def record(self, method: str, context: grpc.aio.ServicerContext) -> None:
        metadata = dict(context.invocation_metadata() or ())
        self.received.append((method, str(metadata.get("authorization", ""))))


class Identity(identity_pb2_grpc.IdentityServiceServicer):
    def __init__(self, calls: Calls) -> None:
        self.calls = calls

    async def Login(self, request: identity_pb2.LoginRequest, context: Any) -> identity_pb2.AuthSession:
        self.calls.record("Login", context)
        return identity_pb2.AuthSession(access_token="issued", token_type="Bearer")

    async def GetJwks(self, request: identity_pb2.GetJwksRequest, context: Any) -> httpbody_pb2.HttpBody:
        self.calls.record("GetJwks", context)
        return httpbody_pb2.HttpBody(content_type="application/jwk-set+json", data=b'{"keys":[]}')


class Gallery(gallery_pb2_grpc.GalleryServiceServicer):
    def __init__(self, calls: Calls) -> None:
        self.calls = calls

    async def ListVideos(self, request: gallery_pb2.ListVideosRequest, context: Any) -> gallery_pb2.ListVideosResponse:
        self.calls.record("ListVideos", context)
        return gallery_pb2.ListVideosResponse(videos=[gallery_pb2.Video(title="public")])

    async def ListMyVideos(
        self, request: gallery_pb2.ListMyVideosRequest, context: Any
    ) -> gallery_pb2.ListVideosResponse:
        self.calls.record("ListMyVideos", context)
        return gallery_pb2.ListVideosResponse(videos=[gallery_pb2.Video(title="mine")])

    async def GetVideo(self, request: gallery_pb2.GetVideoRequest, context: Any) -> gallery_pb2.Video:
        self.calls.record("GetVideo", context)
        return gallery_pb2.Video(name=f"videos/{request.name}")


@pytest.fixture(scope="module")
def calls() -> Calls:
    return Calls()


@pytest.fixture(scope="module")
async def upstream(calls: Calls, mesh_pki: MeshPki) -> AsyncIterator[str]:
    """One server for every cluster: identity, gallery, the media check, and gRPC health (SERVING)."""
    # Requests here carry no grant, so any key will do: the check refuses them all.
    verifier = GrantVerifier(new_key().public_key(), key_pair_id="test-key-pair")
    media_check = MediaAuthorizationServicer(verifier, media_base_url="http://127.0.0.1/media")
    async with serving_every_service(
        mesh_pki,
        lambda s: identity_pb2_grpc.add_IdentityServiceServicer_to_server(Identity(calls), s),
        lambda s: gallery_pb2_grpc.add_GalleryServiceServicer_to_server(Gallery(calls), s),
        lambda s: external_auth_pb2_grpc.add_AuthorizationServicer_to_server(media_check, s),
    ) as address:
        yield address


# Keys and tokens.


def new_key() -> RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def write_key(key: RSAPrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return path


@pytest.fixture(scope="module")
def signing_key() -> RSAPrivateKey:
    return new_key()


@pytest.fixture(scope="module")
def other_key() -> RSAPrivateKey:
    return new_key()


def issued_token(key: RSAPrivateKey, *, issuer: str = ISSUER, audience: str = AUDIENCE) -> str:
    """A token as the platform's own issuer writes it."""
    user = User(id="u1", email="ann@example.com", display_name="Ann", role="user", password_hash="",
                create_time=datetime.now(UTC))  # fmt: skip
    return RsaTokenIssuer(key, issuer=issuer, audience=audience, expires_in=300).access_token(user)


def signed_token(key: RSAPrivateKey, *, kid: str, **claims: object) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "u1", "role": "user", "iat": now, "exp": now + 300, **claims}
    return jwt.encode({k: v for k, v in body.items() if v is not None}, key, algorithm="RS256", headers={"kid": kid})


def _b64(value: dict[str, object] | bytes) -> str:
    data = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made_token(key: RSAPrivateKey, alg: str, sign: Callable[[bytes], bytes]) -> str:
    header = {"alg": alg, "typ": "JWT", "kid": key_id(key)}
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "u1", "exp": int(time.time()) + 300}
    signing_input = f"{_b64(header)}.{_b64(claims)}"
    return f"{signing_input}.{_b64(sign(signing_input.encode()))}"


def public_pem(key: RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


INVALID_TOKENS: dict[str, Callable[[RSAPrivateKey, RSAPrivateKey], str]] = {
    "expired": lambda key, other: signed_token(key, kid=key_id(key), exp=int(time.time()) - 3600),
    "signed by another key under our key id": lambda key, other: signed_token(other, kid=key_id(key)),
    "signed by an unknown key": lambda key, other: signed_token(other, kid=key_id(other)),
    "for another audience": lambda key, other: issued_token(key, audience="another-api"),
    "from another issuer": lambda key, other: issued_token(key, issuer="someone-else"),
    "without an expiry": lambda key, other: signed_token(key, kid=key_id(key), exp=None),
    "unsigned (alg none)": lambda key, other: hand_made_token(key, "none", lambda _: b""),
    "HMAC keyed with the public key": lambda key, other: hand_made_token(
        key, "HS256", lambda data: hmac.new(public_pem(key), data, hashlib.sha256).digest()
    ),
    "malformed": lambda key, other: "x.y.z",
    "not a JWT at all": lambda key, other: "garbage",
}


# The edge.


@pytest.fixture(scope="module")
def edge_settings(
    upstream: str, signing_key: RSAPrivateKey, tmp_path_factory: pytest.TempPathFactory, mesh_pki: MeshPki
) -> Settings:
    key_file = write_key(signing_key, tmp_path_factory.mktemp("keys") / "jwt.pem")
    return Settings(
        **mesh_pki.settings(EDGE),
        **{f"{name}_address": upstream for name in ("identity", "gallery", "job", "streaming", "transcoder")},
        edge_host="127.0.0.1",
        edge_port=free_port(),
        edge_admin_port=0,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        jwt_private_key_file=key_file,
        edge_rate_limit_per_minute=API_LIMIT,
        edge_login_rate_limit_per_minute=LOGIN_LIMIT,
        edge_media_rate_limit_per_minute=MEDIA_LIMIT,
    )


@pytest.fixture(scope="module")
def envoy_config_path(edge_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_envoy_config(edge_settings, tmp_path_factory.mktemp("edge") / "envoy.yaml")


def client_at(settings: Settings, local_address: str = "127.0.0.1") -> httpx.AsyncClient:
    """A client calling from `local_address`: to the edge, another client with buckets of its own."""
    transport = httpx.AsyncHTTPTransport(local_address=local_address)
    return httpx.AsyncClient(base_url=settings.edge_url, transport=transport, timeout=10, trust_env=False)


@pytest.fixture
async def edge(envoy: EnvoyProcess, edge_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with client_at(edge_settings) as client:
        yield client


@pytest.fixture
async def edge_channel(envoy: EnvoyProcess, edge_settings: Settings) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(f"{edge_settings.edge_host}:{edge_settings.edge_port}") as channel:
        yield channel


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def grpc_web_frame(message: Any) -> bytes:
    payload = message.SerializeToString()
    return struct.pack(">BI", 0, len(payload)) + payload


GRPC_WEB = {"content-type": "application/grpc-web+proto", "x-grpc-web": "1"}


# Tokens.


def test_only_the_listed_methods_are_anonymous_and_every_public_service_needs_a_token_otherwise() -> None:
    rules = jwt_rules(DEFAULT_DESCRIPTOR)

    anonymous = {rule["match"]["path"] for rule in rules if "requires_any" in rule["requires"]}
    required = [rule["match"]["prefix"] for rule in rules if "provider_name" in rule["requires"]]
    assert anonymous == ANONYMOUS_METHODS
    assert "/videoforge.gallery.v1.GalleryService/" in required and len(required) == len(PUBLIC_SERVICES)
    # Exact anonymous paths come first; a prefix rule would otherwise shadow them.
    assert all("path" in rule["match"] for rule in rules[: len(anonymous)])


def test_an_anonymous_method_missing_from_the_descriptor_set_is_an_error(tmp_path: Path) -> None:
    files = descriptor_pb2.FileDescriptorSet.FromString(DEFAULT_DESCRIPTOR.read_bytes())
    gallery = next(service for file in files.file for service in file.service if service.name == "GalleryService")
    kept = [method for method in gallery.method if method.name != "ListVideos"]
    del gallery.method[:]
    gallery.method.extend(kept)
    renamed = tmp_path / "without-list-videos.binpb"
    renamed.write_bytes(files.SerializeToString())

    with pytest.raises(ValueError, match="GalleryService/ListVideos"):
        jwt_rules(renamed)


async def test_a_valid_token_reaches_a_protected_method_with_its_authorization_header(
    edge: httpx.AsyncClient, calls: Calls, signing_key: RSAPrivateKey
) -> None:
    token = issued_token(signing_key)

    response = await edge.get(MY_VIDEOS, headers=bearer(token))

    assert response.status_code == 200, response.text
    assert response.json()["videos"][0]["title"] == "mine"
    assert calls.received[-1] == ("ListMyVideos", f"Bearer {token}")


async def test_without_a_token_a_protected_method_is_a_json_401_that_never_reaches_the_service(
    edge: httpx.AsyncClient, calls: Calls
) -> None:
    before = len(calls.received)

    response = await edge.get(MY_VIDEOS, headers={"origin": ORIGIN})

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"code": 16, "message": TOKEN_MISSING_MESSAGE, "error": TOKEN_MISSING_MESSAGE}
    assert response.headers["www-authenticate"] == 'Bearer realm="videoforge"'
    # A browser app may read the 401 and send its user to sign in.
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert len(calls.received) == before


async def test_without_a_token_public_reads_and_signing_in_still_answer(edge: httpx.AsyncClient, calls: Calls) -> None:
    videos = await edge.get(PUBLIC_VIDEOS)
    video = await edge.get(f"{PUBLIC_VIDEOS}/v1")
    keys = await edge.get("/.well-known/jwks.json")
    login = await edge.post("/api/auth/login", json=LOGIN)

    assert [r.status_code for r in (videos, video, keys, login)] == [200, 200, 200, 200]
    assert calls.received[-4:] == [("ListVideos", ""), ("GetVideo", ""), ("GetJwks", ""), ("Login", "")]


async def test_the_bearer_scheme_may_be_written_in_lower_case(
    edge: httpx.AsyncClient, signing_key: RSAPrivateKey
) -> None:
    response = await edge.get(MY_VIDEOS, headers={"authorization": f"bearer {issued_token(signing_key)}"})

    assert response.status_code == 200, response.text


async def test_a_refusal_echoes_neither_the_query_string_nor_the_token(edge: httpx.AsyncClient) -> None:
    response = await edge.get(f"{MY_VIDEOS}?page_token=query-secret", headers=bearer("token-secret"))

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="videoforge", error="invalid_token"'
    echoed = response.text + "".join(response.headers.values())
    assert "query-secret" not in echoed and "token-secret" not in echoed


@pytest.mark.parametrize("kind", INVALID_TOKENS)
async def test_an_invalid_token_is_a_401_at_the_edge_even_on_public_reads(
    edge: httpx.AsyncClient, calls: Calls, signing_key: RSAPrivateKey, other_key: RSAPrivateKey, kind: str
) -> None:
    headers = bearer(INVALID_TOKENS[kind](signing_key, other_key))
    before = len(calls.received)

    protected = await edge.get(MY_VIDEOS, headers=headers)
    public = await edge.get(PUBLIC_VIDEOS, headers=headers)

    for response in (protected, public):
        assert response.status_code == 401
        body = response.json()
        assert body["code"] == 16
        assert body["message"].startswith(REFUSED), body
    assert len(calls.received) == before


async def test_a_grpc_caller_without_a_valid_token_is_unauthenticated(
    edge_channel: grpc.aio.Channel, calls: Calls, signing_key: RSAPrivateKey, other_key: RSAPrivateKey
) -> None:
    gallery = gallery_pb2_grpc.GalleryServiceStub(edge_channel)
    before = len(calls.received)

    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await gallery.ListMyVideos(gallery_pb2.ListMyVideosRequest(), timeout=5)
    refused = []
    for token in (signed_token(other_key, kid=key_id(signing_key)), issued_token(signing_key, audience="another")):
        with pytest.raises(grpc.aio.AioRpcError) as error:
            metadata = [("authorization", f"Bearer {token}")]
            await gallery.GetVideo(gallery_pb2.GetVideoRequest(name="v1"), metadata=metadata, timeout=5)
        refused.append(error.value)

    assert (missing.value.code(), missing.value.details()) == (grpc.StatusCode.UNAUTHENTICATED, TOKEN_MISSING_MESSAGE)
    assert [error.code() for error in refused] == [grpc.StatusCode.UNAUTHENTICATED] * 2
    assert all((error.details() or "").startswith(REFUSED) for error in refused)
    assert len(calls.received) == before
    valid = [("authorization", f"Bearer {issued_token(signing_key)}")]
    mine = await gallery.ListMyVideos(gallery_pb2.ListMyVideosRequest(), metadata=valid, timeout=5)
    assert mine.videos[0].title == "mine"


async def test_a_grpc_web_caller_without_a_token_reads_unauthenticated_in_its_headers(
    edge: httpx.AsyncClient,
) -> None:
    response = await edge.post(
        "/videoforge.gallery.v1.GalleryService/ListMyVideos",
        content=grpc_web_frame(gallery_pb2.ListMyVideosRequest()),
        headers=GRPC_WEB,
    )

    assert response.headers["grpc-status"] == str(UNAUTHENTICATED)
    assert response.headers["grpc-message"] == TOKEN_MISSING_MESSAGE


async def test_cors_preflights_and_health_need_no_token(edge: httpx.AsyncClient) -> None:
    preflight = await edge.options(
        MY_VIDEOS,
        headers={
            "origin": ORIGIN,
            "access-control-request-method": "GET",
            "access-control-request-headers": "authorization",
        },
    )
    health_check = await edge.get("/healthz")

    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert "authorization" in preflight.headers["access-control-allow-headers"]
    assert health_check.status_code == 200


async def test_media_is_checked_by_its_grant_and_never_by_a_token(
    envoy: EnvoyProcess, edge_settings: Settings, other_key: RSAPrivateKey
) -> None:
    forged = bearer(signed_token(other_key, kid="whatever"))
    async with client_at(edge_settings, "127.0.0.4") as client:
        response = await client.get("/media/videos/A/poster.webp", headers=forged)

    # The media check's own refusal (no grant), not jwt_authn's 401.
    assert response.status_code == 403
    assert response.json()["message"].startswith("The media link is not valid")


# Rate limits.


async def test_sign_in_beyond_its_limit_is_a_json_429_while_other_calls_and_clients_still_answer(
    envoy: EnvoyProcess, edge_settings: Settings
) -> None:
    async with client_at(edge_settings, "127.0.0.2") as client, client_at(edge_settings, "127.0.0.3") as neighbour:
        allowed = [await client.post("/api/auth/login", json=LOGIN) for _ in range(LOGIN_LIMIT)]
        limited = await client.post("/api/auth/login", json=LOGIN)
        grpc_web = await client.post(
            "/videoforge.identity.v1.IdentityService/Login",
            content=grpc_web_frame(identity_pb2.LoginRequest(**LOGIN)),
            headers=GRPC_WEB,
        )
        other_bucket = await client.get(PUBLIC_VIDEOS)
        other_client = await neighbour.post("/api/auth/login", json=LOGIN)

    assert [response.status_code for response in allowed] == [200] * LOGIN_LIMIT
    assert limited.status_code == 429
    assert limited.headers["content-type"] == "application/json"
    assert limited.json() == {"code": 8, "message": RATE_LIMITED_MESSAGE, "error": RATE_LIMITED_MESSAGE}
    assert int(limited.headers["retry-after"]) == 60 // LOGIN_LIMIT  # one token back, at this limit
    # gRPC-Web reads its status off the HTTP 429 (UNAVAILABLE); native gRPC callers get RESOURCE_EXHAUSTED.
    assert (grpc_web.headers["grpc-status"], grpc_web.headers["grpc-message"]) == ("14", RATE_LIMITED_MESSAGE)
    assert other_bucket.status_code == 200
    assert other_client.status_code == 200


async def test_api_calls_beyond_the_general_limit_are_429_for_that_client_only(
    envoy: EnvoyProcess, edge_settings: Settings
) -> None:
    async with client_at(edge_settings, "127.0.0.5") as client, client_at(edge_settings, "127.0.0.6") as neighbour:
        burst = await asyncio.gather(*(client.get(f"{PUBLIC_VIDEOS}/v{n}") for n in range(API_LIMIT + 10)))
        other_client = await neighbour.get(PUBLIC_VIDEOS)

    statuses = [response.status_code for response in burst]
    # Buckets refill continuously: a token or two may come back while the burst is under way.
    assert API_LIMIT <= statuses.count(200) <= API_LIMIT + 3
    assert set(statuses) == {200, 429}
    assert other_client.status_code == 200


async def test_media_reads_spend_their_own_bucket_not_the_api_one(envoy: EnvoyProcess, edge_settings: Settings) -> None:
    async with client_at(edge_settings, "127.0.0.7") as client:
        media = [await client.get("/media/videos/A/segment.m4s") for _ in range(MEDIA_LIMIT + 1)]
        api = await client.get(PUBLIC_VIDEOS)

    assert [response.status_code for response in media] == [403] * MEDIA_LIMIT + [429]
    assert media[-1].json() == {"code": 8, "message": RATE_LIMITED_MESSAGE, "error": RATE_LIMITED_MESSAGE}
    assert api.status_code == 200


# An external issuer (Cognito): keys from its JWKS URL.

POOL = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example"
CLIENT_ID = "app-client-1"


async def test_an_external_issuers_tokens_are_checked_against_its_jwks_url(
    edge_settings: Settings, jwks_url: str, pool_key: RSAPrivateKey, signing_key: RSAPrivateKey, tmp_path: Path
) -> None:
    values = {**edge_settings.model_dump(), "edge_port": free_port(), "jwt_jwks_url": jwks_url}
    settings = Settings.model_validate({**values, "jwt_issuer": POOL, "jwt_audience": CLIENT_ID})
    pool_token = signed_token(pool_key, kid=key_id(pool_key), iss=POOL, aud=CLIENT_ID)
    local_token = issued_token(signing_key)

    async with running_envoy(write_envoy_config(settings, tmp_path / "envoy.yaml")), client_at(settings) as client:
        # The edge listens before its first fetch of the keys is done.
        deadline = time.monotonic() + 10
        while (trusted := await client.get(MY_VIDEOS, headers=bearer(pool_token))).status_code != 200:
            assert time.monotonic() < deadline, trusted.text
            await asyncio.sleep(0.1)
        local = await client.get(MY_VIDEOS, headers=bearer(local_token))

    assert local.status_code == 401
    assert local.json()["message"].startswith(REFUSED)


def test_a_bootstrap_trusting_cognito_fetches_its_keys_over_tls_and_passes_envoy_validation(
    tmp_path: Path, mesh_pki: MeshPki
) -> None:
    url = f"{POOL}/.well-known/jwks.json"
    settings = Settings(jwt_jwks_url=url, jwt_issuer=POOL, jwt_audience=CLIENT_ID, **mesh_pki.settings(EDGE))
    config = write_envoy_config(settings, tmp_path / "envoy.json")

    validation = subprocess.run(
        [envoy_binary(), "--mode", "validate", "-c", str(config), "-l", "critical"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert validation.returncode == 0, validation.stdout + validation.stderr
    rendered = render_envoy_config(settings)
    jwks = next(c for c in rendered["static_resources"]["clusters"] if c["name"] == JWKS_CLUSTER)
    assert jwks["transport_socket"]["typed_config"]["sni"] == "cognito-idp.eu-west-1.amazonaws.com"
    assert jwks["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"] == {
        "address": "cognito-idp.eu-west-1.amazonaws.com",
        "port_value": 443,
    }
