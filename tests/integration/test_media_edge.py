"""The edge as the CDN: `/media/{key}` with a CloudFront-format grant, checked by the streaming service's
media check (Envoy ext_authz, gRPC) and read from a private bucket in a real SeaweedFS.

Everything is real: the servicer in a grpc.aio server from the service kit, the signer and verifier, the
generated Envoy bootstrap, Envoy itself and the object store. The first tests check the media check alone.
"""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from google.rpc import code_pb2

from tests.fixtures.envoy import EnvoyProcess, running_envoy
from tests.fixtures.mesh_pki import MeshPki
from tests.fixtures.s3 import S3Server
from videoforge.gateway.envoy_config import write_envoy_config
from videoforge.kit.cdn import GrantRefused, MediaSigner
from videoforge.kit.mesh_tls import EDGE, STREAMING
from videoforge.kit.server import RunningServer, ServiceBinding, create_server
from videoforge.kit.settings import Settings
from videoforge.platform.ports import free_port
from videoforge.streaming.edgeauth import external_auth_pb2, external_auth_pb2_grpc
from videoforge.streaming.media_authorization import AUTHORIZATION_SERVICE, MediaAuthorizationServicer, media_url

KEY_PAIR_ID = "test-key-pair"
MEDIA_BASE_URL = "https://cdn.example/media"
OBJECTS = {
    "videos/A/hls/720p/segment_1.m4s": bytes(range(256)) * 40,
    "videos/A/poster.webp": b"poster of A",
    "videos/B/poster.webp": b"poster of B",
}
SEGMENT = "videos/A/hls/720p/segment_1.m4s"


@pytest.fixture(scope="module")
def private_key() -> RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def check_request(path: str, *, method: str = "GET", host: str = "cdn.example") -> external_auth_pb2.CheckRequest:
    http = external_auth_pb2.AttributeContext.HttpRequest(method=method, path=path, host=host)
    request = external_auth_pb2.AttributeContext.Request(http=http)
    return external_auth_pb2.CheckRequest(attributes=external_auth_pb2.AttributeContext(request=request))


def relative(url: str, base: str) -> str:
    """`url` as a path on `base`'s host: what a player requests there."""
    return "/media" + url.removeprefix(base)


# The media check alone.


def test_the_url_checked_is_the_public_media_url_of_the_requested_key() -> None:
    assert media_url("/media/videos/A/hls/720p/segment_1.m4s", MEDIA_BASE_URL + "/") == (
        "https://cdn.example/media/videos/A/hls/720p/segment_1.m4s"
    )


@pytest.mark.parametrize(
    "path",
    ["/media/", "/media/videos/A/../B/x", "/media/videos/A/%2e%2E/B/x", "/media/videos/A/..%2FB/x", "/media//x", "/x"],
)
def test_a_path_that_is_not_a_plain_object_key_is_refused(path: str) -> None:
    with pytest.raises(GrantRefused):
        media_url(path, MEDIA_BASE_URL)


async def test_the_check_rebuilds_the_url_from_settings_whatever_the_host_header_says(
    private_key: RSAPrivateKey,
) -> None:
    signer = MediaSigner(private_key, key_pair_id=KEY_PAIR_ID, base_url=MEDIA_BASE_URL)
    servicer = MediaAuthorizationServicer(signer.verifier(KEY_PAIR_ID), media_base_url=MEDIA_BASE_URL)
    path = relative(signer.url(SEGMENT, signer.grant("videos/A", 60)), MEDIA_BASE_URL)

    allowed = await servicer.Check(check_request(path, host="evil.example"), context=None)  # type: ignore[arg-type]
    written = await servicer.Check(check_request(path, method="PUT"), context=None)  # type: ignore[arg-type]

    assert allowed.status.code == code_pb2.OK
    assert set(allowed.ok_response.query_parameters_to_remove) == {"Policy", "Signature", "Key-Pair-Id"}
    assert written.status.code == code_pb2.PERMISSION_DENIED
    assert written.denied_response.status.code == 403


# Through the edge.


@pytest.fixture(scope="module")
async def media_bucket(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> str:
    store = s3_server.blob_store(f"media-{uuid.uuid4().hex[:20]}")
    await store.ensure_bucket()
    root = tmp_path_factory.mktemp("objects")
    for key, data in OBJECTS.items():
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(data)
    await store.upload_dir(root, "")
    return store.bucket


@pytest.fixture(scope="module")
def edge_settings(s3_server: S3Server, media_bucket: str, mesh_pki: MeshPki) -> Settings:
    return Settings(
        **mesh_pki.settings(EDGE),
        edge_host="127.0.0.1",
        edge_port=free_port(),
        edge_admin_port=0,
        s3_endpoint_url=s3_server.endpoint_url,
        s3_region=s3_server.region,
        s3_bucket=media_bucket,
        s3_access_key_id=s3_server.access_key_id,
        s3_secret_access_key=s3_server.secret_access_key,
        cdn_key_pair_id=KEY_PAIR_ID,
    )


@pytest.fixture(scope="module")
def signer(private_key: RSAPrivateKey, edge_settings: Settings) -> MediaSigner:
    return MediaSigner(private_key, key_pair_id=KEY_PAIR_ID, base_url=edge_settings.media_base_url)


@pytest.fixture(scope="module")
async def media_check(signer: MediaSigner, edge_settings: Settings, mesh_pki: MeshPki) -> AsyncIterator[RunningServer]:
    servicer = MediaAuthorizationServicer(signer.verifier(KEY_PAIR_ID), media_base_url=edge_settings.media_base_url)
    binding = ServiceBinding(
        lambda s: external_auth_pb2_grpc.add_AuthorizationServicer_to_server(servicer, s), [AUTHORIZATION_SERVICE]
    )
    running = await create_server("127.0.0.1:0", [binding], verifier=None, credentials=mesh_pki.credentials(STREAMING))
    try:
        yield running
    finally:
        await running.stop(0)


def settings_with(settings: Settings, **updates: object) -> Settings:
    # Validated afresh: a copy would keep the derived URLs (edge_url, media_base_url) of the original.
    return Settings.model_validate({**settings.model_dump(), **updates})


def with_services_at(settings: Settings, address: str) -> Settings:
    """`settings` with every service at `address`; only the streaming one is asked anything here (the others
    never pass the edge's check of their certificate's name, which no test here needs)."""
    return settings_with(
        settings, **{f"{name}_address": address for name in ("identity", "gallery", "job", "streaming", "transcoder")}
    )


async def raw_status(settings: Settings, target: str) -> int:
    """The status Envoy answers for `target` sent exactly as written (HTTP clients resolve `..` themselves)."""
    reader, writer = await asyncio.open_connection(settings.edge_host, settings.edge_port)
    try:
        writer.write(f"GET {target} HTTP/1.1\r\nHost: edge\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        status_line = await reader.readline()
    finally:
        writer.close()
        await writer.wait_closed()
    return int(status_line.split()[1])


@pytest.fixture(scope="module")
def envoy_config_path(
    edge_settings: Settings, media_check: RunningServer, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    settings = with_services_at(edge_settings, f"127.0.0.1:{media_check.port}")
    return write_envoy_config(settings, tmp_path_factory.mktemp("edge") / "envoy.yaml")


@pytest.fixture
async def edge(envoy: EnvoyProcess, edge_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=edge_settings.edge_url, timeout=10, trust_env=False) as client:
        yield client


def signed_path(signer: MediaSigner, key: str, *, grant_prefix: str = "videos/A", seconds: int = 60) -> str:
    return relative(signer.url(key, signer.grant(grant_prefix, seconds)), signer.base_url)


def assert_refused(response: httpx.Response, reason: str) -> None:
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    message = f"The media link is not valid ({reason}); ask for a new playback URL."
    assert response.json() == {"code": 7, "message": message, "error": message}


async def test_a_signed_url_serves_the_object(edge: httpx.AsyncClient, signer: MediaSigner) -> None:
    response = await edge.get(signed_path(signer, SEGMENT))

    assert response.status_code == 200
    assert response.content == OBJECTS[SEGMENT]
    assert response.headers["cache-control"] == "private, max-age=86400, immutable"
    assert not [name for name in response.headers if name.startswith(("x-amz-", "seaweed-"))]


async def test_a_range_request_gets_just_those_bytes(edge: httpx.AsyncClient, signer: MediaSigner) -> None:
    response = await edge.get(signed_path(signer, SEGMENT), headers={"range": "bytes=100-199"})

    assert response.status_code == 206
    assert response.content == OBJECTS[SEGMENT][100:200]
    assert response.headers["content-range"] == f"bytes 100-199/{len(OBJECTS[SEGMENT])}"


async def test_one_grant_covers_every_object_of_its_video(edge: httpx.AsyncClient, signer: MediaSigner) -> None:
    grant = signer.grant("videos/A", 60)

    responses = [await edge.get(relative(signer.url(key, grant), signer.base_url)) for key in OBJECTS if "/A/" in key]

    assert [response.content for response in responses] == [data for key, data in OBJECTS.items() if "/A/" in key]


async def test_a_missing_object_is_a_404_that_no_cache_keeps(edge: httpx.AsyncClient, signer: MediaSigner) -> None:
    response = await edge.get(signed_path(signer, "videos/A/hls/720p/segment_2.m4s"))

    assert response.status_code == 404
    assert "cache-control" not in response.headers


async def test_a_url_without_a_grant_is_refused(edge: httpx.AsyncClient) -> None:
    assert_refused(await edge.get(f"/media/{SEGMENT}"), "missing Policy or Signature")


async def test_an_expired_grant_is_refused(edge: httpx.AsyncClient, signer: MediaSigner) -> None:
    grant = signer.grant("videos/A", 1)
    assert grant.expires is not None
    await asyncio.sleep(max(0.0, grant.expires.timestamp() - time.time()) + 0.1)

    assert_refused(await edge.get(relative(signer.url(SEGMENT, grant), signer.base_url)), "expired")


def cloudfront_b64(data: bytes) -> str:
    return base64.b64encode(data).decode().replace("+", "-").replace("=", "_").replace("/", "~")


async def test_a_tampered_signature_is_refused(edge: httpx.AsyncClient, signer: MediaSigner) -> None:
    grant = signer.grant("videos/A", 60)
    signature = grant.query["Signature"]
    tampered = {**grant.query, "Signature": ("A" if signature[0] != "A" else "B") + signature[1:]}

    response = await edge.get(f"/media/{SEGMENT}", params=tampered)

    assert_refused(response, "bad signature or policy")


async def test_a_policy_widened_after_signing_is_refused(edge: httpx.AsyncClient, signer: MediaSigner) -> None:
    grant = signer.grant("videos/A", 60)
    policy = base64.b64decode(grant.query["Policy"].replace("-", "+").replace("_", "=").replace("~", "/"))
    assert b"/videos/A/*" in policy
    widened = cloudfront_b64(policy.replace(b"/videos/A/*", b"/videos/*"))

    response = await edge.get("/media/videos/B/poster.webp", params={**grant.query, "Policy": widened})

    assert_refused(response, "bad signature or policy")


async def test_a_grant_for_one_video_does_not_open_another(edge: httpx.AsyncClient, signer: MediaSigner) -> None:
    response = await edge.get(signed_path(signer, "videos/B/poster.webp", grant_prefix="videos/A"))

    assert_refused(response, "the grant does not cover this path")


async def test_a_grant_naming_another_key_pair_is_refused(edge: httpx.AsyncClient, signer: MediaSigner) -> None:
    grant = signer.grant("videos/A", 60)

    response = await edge.get(f"/media/{SEGMENT}", params={**grant.query, "Key-Pair-Id": "another-key-pair"})

    assert_refused(response, "unknown Key-Pair-Id")


async def test_extra_query_parameters_never_reach_the_store(edge: httpx.AsyncClient, signer: MediaSigner) -> None:
    # `?acl`, `?response-content-type=text/html`: S3 sub-resources and overrides a grant does not cover.
    response = await edge.get(signed_path(signer, SEGMENT) + "&response-content-type=text/html")

    assert_refused(response, "unexpected query parameter 'response-content-type'")


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
async def test_media_is_read_only_even_with_a_valid_grant(
    edge: httpx.AsyncClient, signer: MediaSigner, method: str
) -> None:
    path = signed_path(signer, SEGMENT)

    response = await edge.request(method, path, content=b"overwritten")

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
    assert response.json()["code"] == 12
    assert (await edge.get(path)).content == OBJECTS[SEGMENT]


async def test_dot_segments_never_reach_the_store(
    edge: httpx.AsyncClient, edge_settings: Settings, signer: MediaSigner
) -> None:
    query = signed_path(signer, SEGMENT).split("?", 1)[1]

    # Envoy resolves a plain `..` before routing, out of /media/ here; an encoded one is refused by the check.
    outside = await raw_status(edge_settings, f"/media/../{SEGMENT}?{query}")
    inside = await raw_status(edge_settings, f"/media/videos/A/../B/poster.webp?{query}")
    encoded = await edge.get(f"/media/videos/A/..%2F..%2Fvideos/B/poster.webp?{query}")

    assert (outside, inside) == (404, 403)
    assert_refused(encoded, "not an object path")


async def test_players_on_other_origins_may_read_media_and_its_ranges(
    edge: httpx.AsyncClient, signer: MediaSigner
) -> None:
    path, origin = signed_path(signer, SEGMENT), "https://player.example"

    preflight = await edge.options(
        path,
        headers={"origin": origin, "access-control-request-method": "GET", "access-control-request-headers": "range"},
    )
    read = await edge.get(path, headers={"origin": origin, "range": "bytes=0-9"})

    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == origin
    assert "range" in preflight.headers["access-control-allow-headers"]
    assert read.status_code == 206
    assert read.headers["access-control-allow-origin"] == origin
    exposed = {name.strip() for name in read.headers["access-control-expose-headers"].split(",")}
    assert {"content-length", "content-range", "accept-ranges"} <= exposed
    # The edge's CORS policy, not the store's (which allows every method).
    assert "access-control-allow-methods" not in read.headers


async def test_the_bucket_itself_is_private(s3_server: S3Server, media_bucket: str) -> None:
    async with httpx.AsyncClient(trust_env=False) as client:
        response = await client.get(f"{s3_server.endpoint_url}/{media_bucket}/{SEGMENT}")

    assert response.status_code == 403


async def test_media_is_unavailable_not_open_while_the_check_cannot_run(
    edge_settings: Settings, signer: MediaSigner, tmp_path: Path
) -> None:
    nobody = f"127.0.0.1:{free_port()}"
    settings = with_services_at(settings_with(edge_settings, edge_port=free_port()), nobody)
    config = write_envoy_config(settings, tmp_path / "envoy.yaml")

    async with running_envoy(config), httpx.AsyncClient(base_url=settings.edge_url, trust_env=False) as client:
        response = await client.get(signed_path(signer, SEGMENT))

    assert response.status_code == 503
    assert response.json() == {
        "code": 14,
        "message": "Media links cannot be checked right now; try again shortly.",
        "error": "Media links cannot be checked right now; try again shortly.",
    }
