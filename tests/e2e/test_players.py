"""hls.js and Shaka Player, from npm, play the signed HLS and DASH URLs in headless Chromium: a finished video,
and one still being transcoded, from its growing presentation through to the end."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, async_playwright

from tests.fixtures.browser import evaluate_in_time, launch_chromium
from tests.fixtures.platform import RunningPlatform
from tests.media_factory import MediaFactory
from videoforge.client.edge import ApiError, EdgeClient

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
HLS_JS = ROOT / "web" / "node_modules" / "hls.js" / "dist" / "hls.min.js"
SHAKA_JS = ROOT / "web" / "node_modules" / "shaka-player" / "dist" / "shaka-player.compiled.js"

PLAY_HLS = """async (url) => {
  const video = document.querySelector('video');
  const hls = new Hls();
  window.player = hls;
  await new Promise((resolve, reject) => {
    hls.on(Hls.Events.MANIFEST_PARSED, resolve);
    hls.on(Hls.Events.ERROR, (_, data) => { if (data.fatal) reject(new Error(data.details)); });
    hls.loadSource(url);
    hls.attachMedia(video);
  });
  video.muted = true;
  await video.play();
  return hls.levels.map((level) => level.height);
}"""

SWITCH_HLS = """async () => {
  const hls = window.player;
  const target = hls.levels.findIndex((level) => level.height === Math.min(...hls.levels.map((l) => l.height)));
  await new Promise((resolve) => { hls.on(Hls.Events.LEVEL_SWITCHED, resolve); hls.currentLevel = target; });
  return hls.levels[hls.currentLevel].height;
}"""

PLAY_DASH = """async (url) => {
  shaka.polyfill.installAll();
  const video = document.querySelector('video');
  const player = new shaka.Player();
  window.player = player;
  await player.attach(video);
  await player.load(url);
  video.muted = true;
  await video.play();
  return player.getVariantTracks().map((track) => track.height);
}"""

SWITCH_DASH = """async () => {
  const player = window.player;
  player.configure({abr: {enabled: false}});
  const lowest = player.getVariantTracks().reduce((a, b) => (a.height <= b.height ? a : b));
  player.selectVariantTrack(lowest, true);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  return player.getVariantTracks().find((track) => track.active).height;
}"""


@pytest.fixture(scope="module")
async def ready_video(platform: RunningPlatform, media_factory: MediaFactory) -> dict[str, Any]:
    client = EdgeClient(platform.url)
    client.register(f"viewer-{uuid.uuid4().hex[:8]}@example.com", "viewer-pass-1")
    video = client.upload(await media_factory.hd_with_audio(6), title="Played in a browser", formats=["720p", "360p"])
    assert client.wait_for_job(video["latestJob"]["jobId"], timeout=300)["status"] == "COMPLETED"
    return client.request("GET", f"/api/stream/{video['id']}/playback")


async def playing_page(platform: RunningPlatform, library: Path) -> Any:
    playwright = await async_playwright().start()
    browser = await launch_chromium(playwright)
    page = await browser.new_page()
    # Opened on the edge's origin, as the web app is; the player then loads what the signed URLs name.
    await page.goto(f"{platform.url}/healthz")
    await page.set_content("<!doctype html><video width=640 height=360 playsinline></video>")
    await page.add_script_tag(path=str(library))
    return playwright, browser, page


async def advances(page: Page) -> float:
    await page.wait_for_function("document.querySelector('video').currentTime > 1.5", timeout=30_000)
    return float(await page.evaluate("document.querySelector('video').currentTime"))


@pytest.mark.parametrize(
    ("library", "url_field", "play", "switch"),
    [(HLS_JS, "hlsUrl", PLAY_HLS, SWITCH_HLS), (SHAKA_JS, "dashUrl", PLAY_DASH, SWITCH_DASH)],
    ids=["hls.js on HLS", "Shaka Player on DASH"],
)
async def test_player_plays_the_signed_url_and_switches_quality(
    platform: RunningPlatform, ready_video: dict[str, Any], library: Path, url_field: str, play: str, switch: str
) -> None:
    playwright, browser, page = await playing_page(platform, library)
    try:
        heights = await evaluate_in_time(page, play, ready_video[url_field])
        assert sorted(set(heights)) == [360, 720]
        assert await advances(page) > 1.5
        assert await page.evaluate(switch) == 360
        await page.wait_for_function("!document.querySelector('video').paused")
    finally:
        await browser.close()
        await playwright.stop()


# Started from the beginning on the growing presentation, at the lowest rung (the encoder needs the CPU more).
PLAY_LIVE_HLS = """async (url) => {
  const video = document.querySelector('video');
  const hls = new Hls({startPosition: 0, capLevelToPlayerSize: true, maxMaxBufferLength: 10});
  window.player = hls;
  window.failure = null;
  hls.on(Hls.Events.ERROR, (_, data) => { if (data.fatal) window.failure = data.details; });
  await new Promise((resolve) => { hls.on(Hls.Events.MANIFEST_PARSED, resolve); hls.loadSource(url); });
  hls.attachMedia(video);
  video.muted = true;
  video.play().catch(() => {});
}"""

PLAY_LIVE_DASH = """async (url) => {
  shaka.polyfill.installAll();
  const video = document.querySelector('video');
  const player = new shaka.Player();
  window.player = player;
  window.failure = null;
  player.configure({abr: {restrictions: {maxHeight: 360}}});
  player.addEventListener('error', (event) => { window.failure = String(event.detail.code); });
  await player.attach(video);
  await player.load(url, 0);
  video.muted = true;
  video.play().catch(() => {});
}"""

PLAYED_PAST = "(seconds) => document.querySelector('video').currentTime > seconds || window.failure"
ENDED = "() => document.querySelector('video').ended || window.failure"


async def test_players_start_while_the_video_transcodes_and_play_through_to_the_end(
    platform: RunningPlatform, media_factory: MediaFactory
) -> None:
    owner, stranger = EdgeClient(platform.url), EdgeClient(platform.url)
    owner.register(f"live-{uuid.uuid4().hex[:8]}@example.com", "viewer-pass-1")
    stranger.register(f"stranger-{uuid.uuid4().hex[:8]}@example.com", "viewer-pass-1")
    # Long enough, and three rungs from 1080p, that the encode runs well past the players' start.
    source = await media_factory.hd_with_audio(16)
    video = owner.upload(
        source, title="Watched while it transcodes", visibility="private", formats=["1080p", "720p", "360p"]
    )
    job_id = video["latestJob"]["jobId"]
    playback = await asyncio.to_thread(_live_playback, owner, video["id"], job_id)
    with pytest.raises(ApiError) as hidden:
        stranger.request("GET", f"/api/stream/{video['id']}/playback")
    assert hidden.value.status == 404, "a private video stays hidden while it transcodes"

    pages = [await playing_page(platform, HLS_JS), await playing_page(platform, SHAKA_JS)]
    try:
        await asyncio.gather(
            pages[0][2].evaluate(PLAY_LIVE_HLS, playback["hlsUrl"]),
            pages[1][2].evaluate(PLAY_LIVE_DASH, playback["dashUrl"]),
        )
        for _, _, page in pages:
            await page.wait_for_function(PLAYED_PAST, arg=1.0, timeout=60_000)
        state = owner.request("GET", f"/v1/jobs/{job_id}")["state"]
        assert state != "STATE_COMPLETED", "both players were playing before the job completed"
        for _, _, page in pages:
            await page.wait_for_function(ENDED, timeout=240_000)
            assert await page.evaluate("window.failure") is None
            played = await page.evaluate("document.querySelector('video').currentTime")
            assert played == pytest.approx(16, abs=0.6), "played to the last segment"
        assert owner.wait_for_job(job_id, timeout=60)["status"] == "COMPLETED"
        final = owner.request("GET", f"/api/stream/{video['id']}/playback")
        assert not final.get("live") and final["thumbnailUrl"]
    finally:
        for playwright, browser, _ in pages:
            await browser.close()
            await playwright.stop()


def _live_playback(client: EdgeClient, video_id: str, job_id: str) -> dict[str, Any]:
    """Playback as soon as the video plays from its growing output."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            playback = client.request("GET", f"/api/stream/{video_id}/playback")
        except ApiError as error:
            assert error.reason == "NOT_READY", error
            time.sleep(0.2)
            continue
        assert playback.get("live"), (
            f"the job finished before it could be watched: {client.request('GET', f'/v1/jobs/{job_id}')}"
        )
        return dict(playback)
    raise TimeoutError("the video did not become watchable while it transcoded")
