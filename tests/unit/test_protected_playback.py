"""Playback of protected videos on fakes of its ports: each plays over its own protocol, its served manifests say
where the key is (with the same grant), the key goes to that grant alone, and a video in the clear costs its
manifests one read of its output, not one each."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import m3u8
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.blobs import InMemoryBlobStore
from tests.fakes.streaming import InMemoryVideoCatalog
from tests.unit.test_playback_caches import CountingOutputs, output
from videoforge.content_protection import ContentKey, b64url
from videoforge.kit.cdn import MediaSigner
from videoforge.kit.errors import NotFound, PermissionDenied
from videoforge.streaming.domain.ports import OutputAsset, VisibleVideo
from videoforge.streaming.service_layer.playback import Playback

KEY = ContentKey(bytes(range(16)), bytes(range(16, 32)))
FOLDER = "videos/v1/jobs/j1/attempt-1/"
PLAYLIST = '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI="0/init.mp4"\n#EXTINF:2.0,\n0/1.m4s\n#EXT-X-ENDLIST\n'
MPD = (
    '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011"><Period><AdaptationSet>'
    '<Representation id="0"><SegmentTemplate media="$RepresentationID$/$Number$.m4s"/></Representation>'
    "</AdaptationSet></Period></MPD>"
)
World = tuple[Playback, CountingOutputs]


@pytest.fixture
def world() -> World:
    signer = MediaSigner(
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        key_pair_id="K1",
        base_url="https://cdn.example.com/media",
    )
    videos, outputs, blobs = InMemoryVideoCatalog(), CountingOutputs(), InMemoryBlobStore()
    videos.videos["v1"] = VisibleVideo("v1", "ready", "uploads/u1/a1/source", published_job_id="j1")
    outputs.outputs["v1"] = output("j1")
    blobs.put(FOLDER + "media_0.m3u8", PLAYLIST.encode())
    blobs.put(FOLDER + "manifest.mpd", MPD.encode())
    playback = Playback(
        videos, outputs, blobs, signer, signer.verifier("K1"), api_base_url="https://edge.example.com", seconds=600
    )
    return playback, outputs


def _protect(world: World, protection: str) -> Playback:
    playback, outputs = world
    mpd = OutputAsset("DASH_MANIFEST", FOLDER + "manifest.mpd")
    protected = output("j1")
    outputs.outputs["v1"] = replace(protected, assets=[*protected.assets, mpd], protection=protection, content_key=KEY)
    return playback


def _token(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


async def test_an_aes128_video_plays_over_hls_and_its_key_goes_to_its_grant(world: World) -> None:
    playback = _protect(world, "aes-128")
    urls = await playback.playback("v1")
    assert urls.hls_url and not urls.dash_url
    token = _token(urls.hls_url)

    _, served = await playback.manifest("v1", "jobs/j1/attempt-1/media_0.m3u8", token)

    key_uri = m3u8.loads(served.decode()).segments[0].key.uri
    assert key_uri == f"https://edge.example.com/api/stream/v1/key?token={token}"
    assert await playback.content_key("v1", token) == KEY.key
    with pytest.raises(PermissionDenied):
        await playback.content_key("v1", "")
    with pytest.raises(NotFound):
        await playback.clearkey_license("v1", token, [b64url(KEY.key_id)])


async def test_a_clearkey_video_plays_over_dash_with_its_licence(world: World) -> None:
    playback = _protect(world, "clearkey")
    urls = await playback.playback("v1")
    assert urls.dash_url and not urls.hls_url
    assert (await playback.stream("v1", "")).url == "", "no HLS playlist of a clearkey video"
    assert (await playback.video_stream("v1")).kind == "dash"
    token = _token(urls.dash_url)

    _, served = await playback.manifest("v1", "jobs/j1/attempt-1/manifest.mpd", token)

    assert f"/api/stream/v1/license?token={token}" in served.decode() and KEY.kid_uuid in served.decode()
    (jwk,) = await playback.clearkey_license("v1", token, [b64url(KEY.key_id)])
    assert jwk.k == b64url(KEY.key)
    with pytest.raises(NotFound):
        await playback.content_key("v1", token)


async def test_the_manifests_of_a_video_in_the_clear_read_its_output_once(world: World) -> None:
    playback, outputs = world
    token = _token((await playback.playback("v1")).hls_url)
    before = outputs.reads

    for _ in range(10):
        _, served = await playback.manifest("v1", "jobs/j1/attempt-1/media_0.m3u8", token)
        assert b"EXT-X-KEY" not in served

    assert outputs.reads == before + 1


async def test_a_key_asked_after_the_video_changed_protection_is_the_new_ones(world: World) -> None:
    playback = _protect(world, "clearkey")
    token = _token((await playback.playback("v1")).dash_url)
    await playback.clearkey_license("v1", token, [b64url(KEY.key_id)])

    # Transcoded again with aes-128, as another replica saw: this one's kept output is the clearkey one.
    _protect(world, "aes-128")

    assert await playback.content_key("v1", token) == KEY.key
