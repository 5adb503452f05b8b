"""A source with two audio tracks, uploaded through the edge: the signed HLS master lists both in one audio group
and the MPD an AdaptationSet for each, with their languages; in headless Chromium the watch page's Audio menu
lists them by name and switches hls.js and Shaka Player to the chosen one, and stays hidden for a single track."""

from __future__ import annotations

import posixpath
import re
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import m3u8
import pytest
from playwright.async_api import Browser, Page, expect

from tests.fixtures.browser import PLAY_MUTED_FROM_START
from tests.fixtures.platform import RunningPlatform
from tests.media_factory import QUICK_H264, MediaFactory
from videoforge.client.edge import EdgeClient

pytestmark = pytest.mark.e2e
MPD = "{urn:mpeg:dash:schema:mpd:2011}"
SECONDS = 6


def _tone(frequency: int, layout: str) -> list[str]:
    tone = f"sine=frequency={frequency}:sample_rate=48000:duration={SECONDS},aformat=channel_layouts={layout}"
    return ["-f", "lavfi", "-i", tone]


@pytest.fixture(scope="module")
def owner(platform: RunningPlatform) -> EdgeClient:
    edge = EdgeClient(platform.url)
    edge.register(f"audio-{uuid.uuid4().hex[:8]}@example.com", "audio-pass-1")
    return edge


def _transcoded(owner: EdgeClient, clip: Path, title: str) -> dict[str, Any]:
    video = owner.upload(clip, title=title)
    job = owner.wait_for_job(video["latestJob"]["jobId"], timeout=300)
    assert job["status"] == "COMPLETED", job.get("error") or job
    owner.wait_for_video(video["id"], job["id"])
    return video


@pytest.fixture(scope="module")
async def bilingual(
    owner: EdgeClient, media_factory: MediaFactory, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """English in mono, then French in stereo with a title of its own."""
    clip = await media_factory.render(
        tmp_path_factory.mktemp("audio-tracks") / "bilingual.mkv",
        [
            "-f", "lavfi", "-i", f"testsrc2=size=320x240:rate=25:duration={SECONDS}",
            *_tone(440, "mono"), *_tone(660, "stereo"),
            "-map", "0:v", "-map", "1:a", "-map", "2:a", *QUICK_H264, "-c:a", "aac",
            "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fre",
            "-metadata:s:a:1", "title=Français",
        ],
    )  # fmt: skip
    return _transcoded(owner, clip, "bilingual")


def _playback(owner: EdgeClient, video: dict[str, Any]) -> dict[str, Any]:
    return owner.request("GET", f"/api/stream/{video['id']}/playback")


def _audio_renditions(owner: EdgeClient, video: dict[str, Any]) -> list[m3u8.Media]:
    master = m3u8.loads(httpx.get(_playback(owner, video)["hlsUrl"]).raise_for_status().text)
    return [media for media in master.media if media.type == "AUDIO"]


def test_the_signed_master_lists_each_track_in_one_audio_group(owner: EdgeClient, bilingual: dict[str, Any]) -> None:
    audio = _audio_renditions(owner, bilingual)

    assert [(m.language, m.name, m.default, m.autoselect) for m in audio] == [
        ("en", "English", "YES", "YES"),
        ("fr", "Français", "NO", "YES"),
    ]
    assert len({m.group_id for m in audio}) == 1
    for rendition in audio:
        playlist = m3u8.loads(httpx.get(rendition.uri).raise_for_status().text)
        assert httpx.get(playlist.segments[0].uri).raise_for_status().content


def test_the_signed_mpd_has_an_audio_adaptation_set_per_track(owner: EdgeClient, bilingual: dict[str, Any]) -> None:
    mpd = ET.fromstring(httpx.get(_playback(owner, bilingual)["dashUrl"]).raise_for_status().text)

    sets = [s for s in mpd.iter(f"{MPD}AdaptationSet") if s.get("contentType") == "audio"]
    assert [(s.get("lang"), s.findtext(f"{MPD}Label")) for s in sets] == [("en", "English"), ("fr", "Français")]


def _stream_folder(owner: EdgeClient, rendition: m3u8.Media) -> str:
    """The path of the folder a rendition's segments are fetched from."""
    playlist = m3u8.loads(httpx.get(rendition.uri).raise_for_status().text)
    return posixpath.dirname(urlsplit(playlist.segments[0].uri).path) + "/"


async def test_the_audio_menu_switches_tracks_in_both_players(
    platform: RunningPlatform, owner: EdgeClient, bilingual: dict[str, Any], browser: Browser
) -> None:
    english, french = (_stream_folder(owner, r) for r in _audio_renditions(owner, bilingual))
    page = await browser.new_page(viewport={"width": 1280, "height": 860})
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(urlsplit(request.url).path))
    try:
        await page.goto(f"{platform.url}/watch/{bilingual['id']}")
        player = page.locator(".player")
        await expect(player).to_have_attribute("data-engine", "hls.js", timeout=20_000)
        for engine in ("hls.js", "Shaka Player"):
            if engine == "Shaka Player":
                fetched.clear()
                await page.get_by_label("DASH (Shaka Player)").check()
                await expect(player).to_have_attribute("data-engine", engine, timeout=20_000)
            await page.evaluate(PLAY_MUTED_FROM_START)
            audio = page.get_by_role("button", name=re.compile(r"^Audio"))
            await expect(audio).to_have_accessible_name("Audio: English", timeout=20_000)
            await _wait_for_a_segment_from(page, fetched, english, engine)
            await audio.click()
            menu = page.get_by_role("menu", name="Audio")
            await expect(menu.get_by_role("menuitemradio")).to_have_text(["English", "Français"])
            fetched.clear()
            await menu.get_by_role("menuitemradio", name="Français").click()
            await expect(audio).to_have_accessible_name("Audio: Français")
            await expect(player.locator(".audio")).to_have_attribute("data-language", "fr")
            await page.evaluate(PLAY_MUTED_FROM_START)
            await _wait_for_a_segment_from(page, fetched, french, engine)
            await audio.click()
            await menu.get_by_role("menuitemradio", name="English").click()
            await expect(audio).to_have_accessible_name("Audio: English")
    finally:
        await page.close()


async def _wait_for_a_segment_from(page: Page, fetched: list[str], folder: str, engine: str) -> None:
    for _ in range(300):
        if any(path.startswith(folder) and path.endswith(".m4s") for path in fetched):
            return
        await page.wait_for_timeout(100)
    raise AssertionError(f"{engine} fetched no segment of the chosen track: {fetched}")


async def test_a_single_track_shows_no_audio_menu(
    platform: RunningPlatform, owner: EdgeClient, media_factory: MediaFactory, browser: Browser
) -> None:
    video = _transcoded(owner, await media_factory.sized(320, 240, 4), "one track")
    page = await browser.new_page(viewport={"width": 1280, "height": 860})
    try:
        await page.goto(f"{platform.url}/watch/{video['id']}")
        player = page.locator(".player")
        await expect(player).to_have_attribute("data-engine", "hls.js", timeout=20_000)
        await expect(player.locator(".quality-button")).to_be_enabled(timeout=20_000)
        await expect(player.locator(".audio")).to_be_hidden()
    finally:
        await page.close()
