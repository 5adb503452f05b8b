"""Playback of a video still being transcoded: signed URLs of its growing presentation, DASH templates signed
as templates, and the completed output once the job completes (never the growing one kept in its place)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.blobs import InMemoryBlobStore
from tests.fakes.streaming import InMemoryPublishedOutputs, InMemoryVideoCatalog
from videoforge.kit.cdn import MediaSigner
from videoforge.media_model import Rendition
from videoforge.streaming.domain.ports import OutputAsset, PlayableOutput, VisibleVideo
from videoforge.streaming.service_layer.playback import Playback

PREFIX = "videos/v1/jobs/j1/attempt-1/"
GROWING_MPD = """<?xml version="1.0" encoding="utf-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="dynamic" availabilityStartTime="2026-01-01T00:00:00Z">
  <Period id="0" start="PT0.0S"><AdaptationSet id="0" contentType="video">
    <Representation id="0" mimeType="video/mp4" codecs="avc1.64001e" bandwidth="800000" width="640" height="360">
      <SegmentTemplate timescale="15360" initialization="$RepresentationID$/init.mp4"
        media="$RepresentationID$/$Number%05d$.m4s" startNumber="1">
        <SegmentTimeline><S t="0" d="30720" r="1" /></SegmentTimeline>
      </SegmentTemplate>
    </Representation>
  </AdaptationSet></Period>
</MPD>"""


class World:
    def __init__(self) -> None:
        self.signer = MediaSigner(
            rsa.generate_private_key(public_exponent=65537, key_size=2048),
            key_pair_id="K1",
            base_url="https://cdn.example.com/media",
        )
        self.videos, self.outputs, self.blobs = InMemoryVideoCatalog(), InMemoryPublishedOutputs(), InMemoryBlobStore()
        self.videos.videos["v1"] = VisibleVideo("v1", "processing", "uploads/u1/a1/source")
        manifests = [
            OutputAsset("HLS_MASTER", PREFIX + "master.m3u8"),
            OutputAsset("DASH_MANIFEST", PREFIX + "manifest.mpd"),
        ]
        self.outputs.outputs["v1"] = PlayableOutput("j1", manifests, [Rendition("360p", 640, 360)], 16.0, live=True)
        self.blobs.put(PREFIX + "manifest.mpd", GROWING_MPD.encode())
        self.playback = Playback(
            self.videos,
            self.outputs,
            self.blobs,
            self.signer,
            self.signer.verifier("K1"),
            api_base_url="https://edge.example.com",
            seconds=600,
        )


@pytest.fixture
def world() -> World:
    return World()


async def test_a_video_being_transcoded_plays_its_growing_presentation(world: World) -> None:
    urls = await world.playback.playback("v1")

    assert urls.live
    assert urls.hls_url.startswith("https://edge.example.com/api/stream/v1/manifest/jobs/j1/attempt-1/master.m3u8?")
    assert urls.dash_url.startswith("https://edge.example.com/api/stream/v1/manifest/jobs/j1/attempt-1/manifest.mpd?")
    assert urls.thumbnail_url == "", "no poster before the job completes"


async def test_the_growing_mpd_keeps_its_segment_templates_signed(world: World) -> None:
    urls = await world.playback.playback("v1")
    path = urlsplit(urls.dash_url).path.split("/manifest/", 1)[1]
    token = parse_qs(urlsplit(urls.dash_url).query)["token"][0]

    _, body = await world.playback.manifest("v1", path, token)

    mpd = body.decode()
    assert 'type="dynamic"' in mpd
    media = f"https://cdn.example.com/media/{PREFIX}$RepresentationID$/$Number%05d$.m4s?"
    assert f'media="{media}' in mpd and "Signature=" in mpd


async def test_once_the_job_completes_its_completed_output_plays(world: World) -> None:
    await world.playback.playback("v1")
    completed = [
        OutputAsset("HLS_MASTER", PREFIX + "master.m3u8"),
        OutputAsset("DASH_MANIFEST", PREFIX + "manifest.mpd"),
        OutputAsset("POSTER", PREFIX + "images/poster.jpg"),
    ]
    world.outputs.outputs["v1"] = PlayableOutput("j1", completed, [Rendition("360p", 640, 360)], 16.0)
    world.videos.videos["v1"] = VisibleVideo("v1", "ready", "uploads/u1/a1/source", published_job_id="j1")

    urls = await world.playback.playback("v1")

    assert not urls.live
    assert urls.thumbnail_url.startswith(f"https://cdn.example.com/media/{PREFIX}images/poster.jpg?")
