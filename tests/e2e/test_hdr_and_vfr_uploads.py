"""HDR and variable-frame-rate uploads through the edge: a PQ upload plays as BT.709-tagged SDR that looks as
graded, and an upload whose frame rate changes plays in 2 s segments that each start on a keyframe."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import av
import httpx
import m3u8
import pytest
from PIL import ImageStat

from tests.decoding import segment_lengths
from tests.fixtures.platform import RunningPlatform
from tests.media_factory import MediaFactory
from videoforge.client.edge import EdgeClient

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def owner(platform: RunningPlatform) -> EdgeClient:
    edge = EdgeClient(platform.url)
    edge.register(f"hdr-{uuid.uuid4().hex[:8]}@example.com", "hdr-pass-1")
    return edge


def _variants(owner: EdgeClient, clip: Path, title: str) -> list[m3u8.M3U8]:
    """The video's signed HLS media playlists once its transcode completed, largest rung first."""
    video = owner.upload(clip, title=title)
    job = owner.wait_for_job(video["latestJob"]["jobId"], timeout=300)
    assert job["status"] == "COMPLETED", job.get("error") or job
    owner.wait_for_video(video["id"], job["id"])
    playback: dict[str, Any] = owner.request("GET", f"/api/stream/{video['id']}/playback")
    master = m3u8.loads(httpx.get(playback["hlsUrl"]).raise_for_status().text)
    return [m3u8.loads(httpx.get(variant.uri).raise_for_status().text) for variant in master.playlists]


def _first_segment(playlist: m3u8.M3U8, out: Path) -> Path:
    """Its init segment and first media segment, as a player joins them, in one file."""
    out.write_bytes(
        httpx.get(playlist.segment_map[0].uri).raise_for_status().content
        + httpx.get(playlist.segments[0].uri).raise_for_status().content
    )
    return out


async def test_a_pq_upload_plays_as_sdr_tagged_bt709(
    owner: EdgeClient, media_factory: MediaFactory, tmp_path: Path
) -> None:
    variants = _variants(owner, await media_factory.hdr("smpte2084"), "pq")

    with av.open(str(_first_segment(variants[-1], tmp_path / "first.mp4"))) as container:
        stream = container.streams.video[0]
        frame = next(container.decode(stream))
        tags = (frame.color_primaries, frame.color_trc, frame.colorspace)
    assert tags == (1, 1, 1)  # BT.709 primaries, transfer and matrix (H.273 code points)
    # testsrc2's bars as graded, not PQ's code values read as SDR (a grey wash near 150 with little colour).
    image = frame.to_image()
    assert 90 < ImageStat.Stat(image.convert("L")).mean[0] < 150
    assert ImageStat.Stat(image.convert("HSV")).mean[1] > 180


async def test_an_uneven_frame_rate_upload_plays_in_segments_of_its_seconds_each_starting_on_a_keyframe(
    owner: EdgeClient, media_factory: MediaFactory, tmp_path: Path
) -> None:
    variants = _variants(owner, await media_factory.uneven_frame_rate(), "uneven")

    for number, playlist in enumerate(variants):
        assert [segment.duration for segment in playlist.segments] == pytest.approx(segment_lengths(7), abs=1 / 12)
        first = _first_segment(playlist, tmp_path / f"variant-{number}.mp4")
        with av.open(str(first)) as container:
            packets = [packet for packet in container.demux(video=0) if packet.size]
        assert packets[0].is_keyframe and not any(packet.is_keyframe for packet in packets[1:])
        # Half a second at 30 fps: the source's own frames, none added.
        assert len(packets) == 15
