"""A video confirmed with `"codecs": ["h264", "av1"]` through the edge: its AV1 rungs beside the H.264 ones in
the same presentation, reported with their codecs, and played by Shaka Player in headless Chromium."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import m3u8
import pytest

from tests.e2e.test_players import SHAKA_JS, advances, playing_page
from tests.fixtures.browser import evaluate_in_time
from tests.fixtures.platform import RunningPlatform
from tests.media_factory import MediaFactory
from videoforge.client.edge import EdgeClient

pytestmark = pytest.mark.e2e

# Shaka chooses one codec family for the whole session: asked to prefer AV1, it keeps the AV1 variants only.
PLAY_AV1 = """async (url) => {
  shaka.polyfill.installAll();
  const video = document.querySelector('video');
  const player = new shaka.Player();
  window.player = player;
  player.configure({preferredVideoCodecs: ['av01']});
  await player.attach(video);
  await player.load(url);
  video.muted = true;
  await video.play();
  return player.getVariantTracks().map((track) => [track.height, track.videoCodec, track.active]);
}"""


@pytest.fixture(scope="module")
async def av1_video(platform: RunningPlatform, media_factory: MediaFactory) -> tuple[EdgeClient, dict[str, Any]]:
    client = EdgeClient(platform.url)
    client.register(f"codecs-{uuid.uuid4().hex[:8]}@example.com", "viewer-pass-1")
    source = await media_factory.sized(854, 480, seconds=4)
    video = client.upload(source, title="In AV1 too", formats=["480p", "360p"], codecs=["h264", "av1"])
    job = client.wait_for_job(video["latestJob"]["jobId"], timeout=300)
    assert job["status"] == "COMPLETED", job
    return client, video


def test_a_video_confirmed_with_av1_has_its_av1_rungs_beside_the_h264_ones(
    av1_video: tuple[EdgeClient, dict[str, Any]],
) -> None:
    client, video = av1_video
    qualities = client.request("GET", f"/api/stream/{video['id']}/qualities")["qualities"]
    assert [(q["name"], q["codecs"].split(".")[0]) for q in qualities] == [
        ("480p", "avc1"), ("360p", "avc1"), ("480p", "av01"), ("360p", "av01"),
    ]  # fmt: skip
    # A quality asked for by name is the H.264 one, which every player decodes.
    stream = client.request("GET", f"/api/stream/{video['id']}", params={"quality": "360p"})
    assert stream["rendition"]["codecs"].startswith("avc1.")
    assert m3u8.loads(httpx.get(stream["url"]).raise_for_status().text).segments

    playback = client.request("GET", f"/api/stream/{video['id']}/playback")
    master = m3u8.loads(httpx.get(playback["hlsUrl"]).raise_for_status().text)
    codecs = sorted(variant.stream_info.codecs.split(".")[0] for variant in master.playlists)
    assert codecs == ["av01", "av01", "avc1", "avc1"]
    assert all(variant.stream_info.codecs.endswith(",mp4a.40.2") for variant in master.playlists)


async def test_shaka_player_in_chromium_plays_the_av1_rungs(
    platform: RunningPlatform, av1_video: tuple[EdgeClient, dict[str, Any]]
) -> None:
    client, video = av1_video
    playback = client.request("GET", f"/api/stream/{video['id']}/playback")
    playwright, browser, page = await playing_page(platform, SHAKA_JS)
    try:
        tracks = await evaluate_in_time(page, PLAY_AV1, playback["dashUrl"])
        assert sorted(height for height, _, _ in tracks) == [360, 480]
        assert all(codec.startswith("av01.") for _, codec, _ in tracks), tracks
        assert await advances(page) > 1.5
        decoded = await page.evaluate("document.querySelector('video').getVideoPlaybackQuality().totalVideoFrames")
        assert decoded > 30
        active = await page.evaluate("window.player.getVariantTracks().find((track) => track.active).videoCodec")
        assert active.startswith("av01.")
    finally:
        await browser.close()
        await playwright.stop()
