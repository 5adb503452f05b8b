"""The original API's stream URL: the adaptive master of a transcoded video, the source of any other."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.blobs import InMemoryBlobStore
from tests.fakes.streaming import InMemoryPublishedOutputs, InMemoryVideoCatalog
from videoforge.kit.cdn import MediaSigner
from videoforge.streaming.domain.ports import OutputAsset, PlayableOutput, VisibleVideo
from videoforge.streaming.service_layer.playback import Playback

SOURCE = "uploads/u1/a1/source"


@pytest.fixture
def playback() -> Playback:
    signer = MediaSigner(
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        key_pair_id="K1",
        base_url="https://cdn.example.com/media",
    )
    videos, outputs = InMemoryVideoCatalog(), InMemoryPublishedOutputs()
    videos.videos["v1"] = VisibleVideo("v1", "uploaded", SOURCE)
    videos.videos["v2"] = VisibleVideo("v2", "ready", "uploads/u1/a2/source")
    outputs.outputs["v2"] = PlayableOutput("j2", [OutputAsset("HLS_MASTER", "videos/v2/jobs/j2/attempt-1/master.m3u8")])
    return Playback(
        videos,
        outputs,
        InMemoryBlobStore(),
        signer,
        signer.verifier("K1"),
        api_base_url="https://edge.example.com",
        seconds=60,
    )


async def test_a_video_never_transcoded_streams_its_signed_source(playback: Playback) -> None:
    stream = await playback.video_stream("v1")
    assert stream.kind == "source"
    assert stream.url.startswith(f"https://cdn.example.com/media/{SOURCE}?") and "Signature=" in stream.url


async def test_a_transcoded_video_streams_its_signed_adaptive_master(playback: Playback) -> None:
    stream = await playback.video_stream("v2")
    assert stream.kind == "hls"
    assert stream.url.startswith("https://edge.example.com/api/stream/v2/manifest/jobs/j2/attempt-1/master.m3u8?token=")
