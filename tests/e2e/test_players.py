"""hls.js and Shaka Player, from npm, play the signed HLS and DASH URLs in headless Chromium."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, async_playwright

from tests.fixtures.platform import RunningPlatform
from tests.media_factory import MediaFactory
from videoforge.client.edge import EdgeClient

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
HLS_JS = ROOT / "web" / "node_modules" / "hls.js" / "dist" / "hls.min.js"
SHAKA_JS = ROOT / "web" / "node_modules" / "shaka-player" / "dist" / "shaka-player.compiled.js"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--autoplay-policy=no-user-gesture-required",
]  # fmt: skip

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
    browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
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
        heights = await page.evaluate(play, ready_video[url_field])
        assert sorted(set(heights)) == [360, 720]
        assert await advances(page) > 1.5
        assert await page.evaluate(switch) == 360
        await page.wait_for_function("!document.querySelector('video').paused")
    finally:
        await browser.close()
        await playwright.stop()
