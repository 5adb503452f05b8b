"""Media beyond the anchors, as a user meets it: one file with an English and a French audio track (quiet, about
-30 LUFS) and an English SubRip track, uploaded through the edge, then a French WebVTT caption added.

- The HLS master lists both audio renditions with their languages and both subtitle renditions; the MPD has the
  matching audio and text adaptation sets; the published audio measures -16 +-1 LUFS.
- The same file confirmed with `codecs: ["h264", "av1"]` and `protection: "clearkey"` plays in Shaka Player, its
  source caption and AV1 rungs in the same protected presentation.

The menus that switch among the tracks are driven in test_audio_tracks.py and test_captions.py.
"""

from __future__ import annotations

import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx
import m3u8
import pytest

from tests.e2e.test_players import SHAKA_JS, advances, playing_page
from tests.fixtures.browser import evaluate_in_time
from tests.fixtures.platform import RunningPlatform
from tests.media_factory import QUICK_H264, MediaFactory
from videoforge.client.edge import EdgeClient

pytestmark = pytest.mark.e2e
MPD = "{urn:mpeg:dash:schema:mpd:2011}"
SECONDS = 6
ENGLISH_SRT = "1\n00:00:00,500 --> 00:00:02,000\nHello\n\n2\n00:00:03,000 --> 00:00:05,000\nGoodbye\n"
FRENCH_VTT = "WEBVTT\n\n00:00:00.500 --> 00:00:02.000\nBonjour\n\n00:00:03.000 --> 00:00:05.000\nAu revoir\n"
PLAY_DASH = """async (url) => {
  shaka.polyfill.installAll();
  const video = document.querySelector('video');
  const player = new shaka.Player();
  window.failure = null;
  player.addEventListener('error', (event) => { window.failure = String(event.detail.code); });
  await player.attach(video);
  await player.load(url);
  window.player = player;
  video.muted = true;
  video.play().catch(() => {});
}"""


def _quiet_tone(frequency: int, layout: str) -> list[str]:
    # lavfi's sine measures about -21.8 LUFS: 8.2 dB under is about -30 LUFS.
    tone = f"sine=frequency={frequency}:sample_rate=48000:duration={SECONDS},volume=-8.2dB"
    return ["-f", "lavfi", "-i", f"{tone},aformat=channel_layouts={layout}"]


@pytest.fixture(scope="module")
async def source(media_factory: MediaFactory, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("acceptance")
    subtitles = folder / "english.srt"
    subtitles.write_text(ENGLISH_SRT)
    return await media_factory.render(
        folder / "two-languages.mkv",
        [
            "-f", "lavfi", "-i", f"testsrc2=size=640x360:rate=25:duration={SECONDS}",
            *_quiet_tone(440, "stereo"), *_quiet_tone(660, "stereo"), "-i", str(subtitles),
            "-map", "0:v", "-map", "1:a", "-map", "2:a", "-map", "3:s", *QUICK_H264, "-c:a", "aac", "-c:s", "srt",
            "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fre", "-metadata:s:s:0", "language=eng",
        ],
    )  # fmt: skip


@pytest.fixture(scope="module")
def owner(platform: RunningPlatform) -> EdgeClient:
    client = EdgeClient(platform.url)
    client.register(f"acceptance-{uuid.uuid4().hex[:8]}@example.com", "acceptance-pass-1")
    return client


def _transcoded(owner: EdgeClient, video: dict[str, Any]) -> dict[str, Any]:
    job = owner.wait_for_job(video["latestJob"]["jobId"], timeout=600)
    assert job["status"] == "COMPLETED", job.get("error") or job
    owner.wait_for_video(video["id"], job["id"])
    return video


def _captions_of(owner: EdgeClient, video_id: str, count: int) -> list[dict[str, Any]]:
    """The video's captions once `count` are listed (a source's own are added as its job completes)."""
    deadline = time.monotonic() + 60
    while len(listed := owner.request("GET", f"/v1/videos/{video_id}/captions")["captions"]) < count:
        assert time.monotonic() < deadline, f"only {listed} appeared"
        time.sleep(0.5)
    return listed


@pytest.fixture(scope="module")
def bilingual(owner: EdgeClient, source: Path) -> dict[str, Any]:
    video = _transcoded(owner, owner.upload(source, title="Two languages"))
    _captions_of(owner, video["id"], 1)
    owner.request(
        "POST",
        f"/api/gallery/videos/{video['id']}/captions",
        json={"language": "fr", "label": "Français", "format": "vtt", "content": FRENCH_VTT},
    )
    return owner.request("GET", f"/api/stream/{video['id']}/playback") | {"id": video["id"]}


def test_the_master_lists_two_audio_and_two_subtitle_renditions(owner: EdgeClient, bilingual: dict[str, Any]) -> None:
    master = m3u8.loads(httpx.get(bilingual["hlsUrl"]).raise_for_status().text)

    audio = [m.language for m in master.media if m.type == "AUDIO"]
    subtitles = sorted(m.language for m in master.media if m.type == "SUBTITLES")
    assert (audio, subtitles) == (["en", "fr"], ["en", "fr"])
    captions = _captions_of(owner, bilingual["id"], 2)
    assert sorted((c["language"], c["origin"]) for c in captions) == [("en", "source"), ("fr", "upload")]


def test_the_mpd_has_the_matching_adaptation_sets(bilingual: dict[str, Any]) -> None:
    mpd = ET.fromstring(httpx.get(bilingual["dashUrl"]).raise_for_status().text)

    sets = list(mpd.iter(f"{MPD}AdaptationSet"))
    assert [s.get("lang") for s in sets if s.get("contentType") == "audio"] == ["en", "fr"]
    assert sorted(str(s.get("lang")) for s in sets if s.get("contentType") == "text") == ["en", "fr"]


def test_the_published_audio_measures_minus_16_lufs(owner: EdgeClient, bilingual: dict[str, Any]) -> None:
    loudness = owner.request("GET", f"/api/gallery/videos/{bilingual['id']}")["loudness"]

    assert loudness["inputIntegratedLufs"] == pytest.approx(-30.0, abs=1.0)
    assert loudness["outputIntegratedLufs"] == pytest.approx(-16.0, abs=1.0)


async def test_the_same_file_with_av1_and_clearkey_plays_in_shaka_player(
    platform: RunningPlatform, owner: EdgeClient, source: Path
) -> None:
    video = _transcoded(
        owner, owner.upload(source, title="Two languages, protected", codecs=["h264", "av1"], protection="clearkey")
    )
    _captions_of(owner, video["id"], 1)
    playback = owner.request("GET", f"/api/stream/{video['id']}/playback")
    assert playback["dashUrl"] and not playback.get("hlsUrl"), "a clearkey video plays over DASH"
    mpd = ET.fromstring(httpx.get(playback["dashUrl"]).raise_for_status().text)
    codecs = {r.get("codecs", "")[:4] for r in mpd.iter(f"{MPD}Representation") if r.get("mimeType") == "video/mp4"}
    assert {"avc1", "av01"} <= codecs, codecs

    playwright, browser, page = await playing_page(platform, SHAKA_JS)
    try:
        await evaluate_in_time(page, PLAY_DASH, playback["dashUrl"])
        await page.wait_for_function(
            "document.querySelector('video').currentTime > 1.5 || window.failure", timeout=90_000
        )
        assert await page.evaluate("window.failure") is None
        assert await advances(page) > 1.5
        languages = await page.evaluate("[...new Set(window.player.getVariantTracks().map((t) => t.language))]")
        texts = await page.evaluate("window.player.getTextTracks().map((t) => t.language)")
        assert (sorted(languages), sorted(texts)) == (["en", "fr"], ["en"])
    finally:
        await browser.close()
        await playwright.stop()
