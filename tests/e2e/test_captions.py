"""Captions through the edge: added as SubRip or WebVTT, listed in the signed HLS master (a SUBTITLES group) and
the MPD (text adaptation sets), their segments fetched with the playback grant, and removed again."""

from __future__ import annotations

import re
import time
import uuid
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import m3u8
import pytest
from playwright.async_api import Page, async_playwright, expect
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from tests.e2e.test_cli import Cli
from tests.fixtures.browser import PLAY_MUTED_FROM_START, launch_chromium
from tests.fixtures.platform import RunningPlatform
from tests.media_factory import MediaFactory
from videoforge.client.edge import ApiError, EdgeClient

pytestmark = pytest.mark.e2e
PASSWORD = "caption-pass-1"
MPD = "{urn:mpeg:dash:schema:mpd:2011}"
ENGLISH_SRT = (
    "1\r\n00:00:00,200 --> 00:00:01,500\r\nHello from the <i>test</i>\r\n\r\n"
    "2\r\n00:00:02,000 --> 00:00:03,500\r\nSecond line\r\n"
)
FRENCH_VTT = "\ufeffWEBVTT\n\n00:00.300 --> 00:01.800\nBonjour le test\n\n00:02.100 --> 00:03.400\nAu revoir\n"


def _user(platform: RunningPlatform, email: str) -> EdgeClient:
    edge = EdgeClient(platform.url)
    edge.register(email, PASSWORD)
    return edge


@pytest.fixture(scope="module")
def owner_email() -> str:
    return f"captioner-{uuid.uuid4().hex[:8]}@example.com"


@pytest.fixture(scope="module")
def owner(platform: RunningPlatform, owner_email: str) -> EdgeClient:
    return _user(platform, owner_email)


@pytest.fixture(scope="module")
async def captioned(owner: EdgeClient, media_factory: MediaFactory) -> dict[str, Any]:
    """A 4 s clip with an English SubRip and a French WebVTT caption."""
    video = owner.upload(await media_factory.sized(320, 240, 4), title="captioned")
    job = owner.wait_for_job(video["latestJob"]["jobId"], timeout=300)
    owner.wait_for_video(video["id"], job["id"])
    english = owner.request(
        "POST",
        f"/api/gallery/videos/{video['id']}/captions",
        json={"language": "en", "label": "English", "format": "srt", "content": ENGLISH_SRT},
    )
    french = owner.request(
        "POST",
        f"/v1/videos/{video['id']}/captions",
        json={"language": "fr", "label": "Français", "format": "vtt", "content": FRENCH_VTT},
    )
    return {"video": video, "english": english, "french": french}


def _master(client: EdgeClient, video_id: str) -> m3u8.M3U8:
    playback = client.request("GET", f"/api/stream/{video_id}/playback")
    return m3u8.loads(httpx.get(playback["hlsUrl"]).raise_for_status().text)


def _mpd(client: EdgeClient, video_id: str) -> ET.Element:
    playback = client.request("GET", f"/api/stream/{video_id}/playback")
    return ET.fromstring(httpx.get(playback["dashUrl"]).raise_for_status().text)


def test_added_captions_are_answered_and_listed_for_anyone_who_may_watch(
    platform: RunningPlatform, captioned: dict[str, Any]
) -> None:
    english, french = captioned["english"], captioned["french"]
    assert (english["language"], english["label"], english["origin"], english["cueCount"]) == (
        "en", "English", "upload", 2
    )  # fmt: skip
    assert english["name"] == f"videos/{captioned['video']['id']}/captions/{english['id']}"
    assert (french["language"], french["cueCount"]) == ("fr", 2)
    anonymous = EdgeClient(platform.url)
    listed = anonymous.request("GET", f"/api/gallery/videos/{captioned['video']['id']}/captions")["captions"]
    assert [(c["language"], c["label"]) for c in listed] == [("en", "English"), ("fr", "Français")]


def test_a_repeated_add_answers_the_caption_already_added_and_adds_no_second(
    owner: EdgeClient, captioned: dict[str, Any]
) -> None:
    video_id, french = captioned["video"]["id"], captioned["french"]
    # As a client retries after its reply was lost: the same request again.
    again = owner.request(
        "POST",
        f"/v1/videos/{video_id}/captions",
        json={"language": "fr", "label": "Français", "format": "vtt", "content": FRENCH_VTT},
    )
    assert again == french
    listed = owner.request("GET", f"/api/gallery/videos/{video_id}/captions")["captions"]
    assert [c["id"] for c in listed] == [captioned["english"]["id"], french["id"]]


def test_the_signed_master_lists_both_subtitle_renditions_and_their_segments_download(
    owner: EdgeClient, captioned: dict[str, Any]
) -> None:
    master = _master(owner, captioned["video"]["id"])
    subtitles = [m for m in master.media if m.type == "SUBTITLES"]
    assert sorted((m.language, m.name) for m in subtitles) == [("en", "English"), ("fr", "Français")]
    assert master.playlists and all(p.stream_info.subtitles == "subtitles" for p in master.playlists)
    english = next(m for m in subtitles if m.language == "en")
    playlist = m3u8.loads(httpx.get(english.uri).raise_for_status().text)
    assert playlist.is_endlist and playlist.segments
    first = httpx.get(playlist.segments[0].uri).raise_for_status()
    assert first.text.startswith("WEBVTT") and "Hello from the <i>test</i>" in first.text
    # The grant is the URL's: without it the same segment is refused.
    assert httpx.get(playlist.segments[0].uri.split("?")[0]).status_code == 403


def test_the_mpd_has_a_text_adaptation_set_per_caption_whose_segments_download(
    owner: EdgeClient, captioned: dict[str, Any]
) -> None:
    texts = [
        s for s in _mpd(owner, captioned["video"]["id"]).iter(f"{MPD}AdaptationSet") if s.get("contentType") == "text"
    ]
    assert sorted(s.get("lang") for s in texts) == ["en", "fr"]
    representation = texts[0].find(f"{MPD}Representation")
    assert representation is not None and representation.get("mimeType") == "text/vtt"
    template = representation.find(f"{MPD}SegmentTemplate")
    assert template is not None
    first = httpx.get(template.get("media", "").replace("$Number$", "1")).raise_for_status().text
    assert first.startswith("WEBVTT") and "Hello from the <i>test</i>" in first


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"language": "english", "format": "srt", "content": ENGLISH_SRT}, "language"),
        ({"language": "en", "format": "ass", "content": ENGLISH_SRT}, "format"),
        ({"language": "en", "format": "srt", "content": "1\n00:00:02,000 --> 00:00:01,000\nBackwards\n"}, "content"),
        ({"language": "en", "format": "srt", "content": "1\n00:01:00,000 --> 00:01:02,000\nPast the end\n"}, "content"),
        ({"language": "en", "format": "vtt", "content": ENGLISH_SRT}, "content"),
    ],
)
def test_bad_captions_are_refused_as_invalid_naming_the_field(
    owner: EdgeClient, captioned: dict[str, Any], body: dict[str, str], field: str
) -> None:
    with pytest.raises(ApiError) as refused:
        owner.request("POST", f"/api/gallery/videos/{captioned['video']['id']}/captions", json=body)
    assert refused.value.status == 400 and refused.value.message.startswith(f"{field}:")


def test_only_the_owner_may_add_or_delete_captions(platform: RunningPlatform, captioned: dict[str, Any]) -> None:
    stranger, video_id = _user(platform, f"stranger-{uuid.uuid4().hex[:8]}@example.com"), captioned["video"]["id"]
    body = {"language": "de", "format": "vtt", "content": FRENCH_VTT}
    with pytest.raises(ApiError) as refused:
        stranger.request("POST", f"/api/gallery/videos/{video_id}/captions", json=body)
    assert refused.value.status == 403
    with pytest.raises(ApiError) as refused:
        stranger.request("DELETE", f"/api/gallery/videos/{video_id}/captions/{captioned['english']['id']}")
    assert refused.value.status == 403


def test_deleting_a_caption_takes_it_out_of_the_list_and_the_manifests(
    owner: EdgeClient, captioned: dict[str, Any]
) -> None:
    video_id = captioned["video"]["id"]
    extra = owner.request(
        "POST",
        f"/api/gallery/videos/{video_id}/captions",
        json={"language": "de", "label": "Deutsch", "format": "vtt", "content": FRENCH_VTT},
    )
    (german,) = [m for m in _master(owner, video_id).media if m.language == "de"]
    segment = m3u8.loads(httpx.get(german.uri).raise_for_status().text).segments[0].uri
    assert httpx.get(segment).status_code == 200
    owner.request("DELETE", f"/api/gallery/videos/{video_id}/captions/{extra['id']}")
    # Its packaged files go with it, though the grant that named them is still valid.
    assert httpx.get(segment).status_code == 404
    assert [c["language"] for c in owner.request("GET", f"/v1/videos/{video_id}/captions")["captions"]] == ["en", "fr"]
    assert sorted(m.language for m in _master(owner, video_id).media if m.type == "SUBTITLES") == ["en", "fr"]
    texts = [s for s in _mpd(owner, video_id).iter(f"{MPD}AdaptationSet") if s.get("contentType") == "text"]
    assert len(texts) == 2
    with pytest.raises(ApiError) as missing:
        owner.request("DELETE", f"/api/gallery/videos/{video_id}/captions/{extra['id']}")
    assert missing.value.status == 404


def test_the_cli_adds_lists_and_deletes_captions(
    platform: RunningPlatform,
    owner_email: str,
    captioned: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    cli, video_id = Cli(platform, tmp_path_factory.mktemp("caption-cli")), captioned["video"]["id"]
    cli("login", "--email", owner_email, "--password", PASSWORD, "--server", platform.url)
    subs = tmp_path_factory.mktemp("subs") / "spanish.srt"
    subs.write_bytes(b"\xef\xbb\xbf" + ENGLISH_SRT.encode())
    added = cli.json("videos", "captions", "add", video_id, str(subs), "--language", "es", "--label", "Español")
    assert (added["language"], added["label"], added["cueCount"]) == ("es", "Español", 2)
    listed = cli("videos", "captions", "list", video_id)
    assert "Español" in listed.stdout and added["id"] in listed.stdout
    cli("videos", "captions", "delete", video_id, added["id"])
    assert added["id"] not in [c["id"] for c in cli.json("videos", "captions", "list", video_id)["captions"]]
    latin1 = subs.with_name("latin1.srt")
    latin1.write_bytes("1\n00:00:01,000 --> 00:00:02,000\nCafé\n".encode("latin-1"))
    refused = cli("videos", "captions", "add", video_id, str(latin1), "--language", "fr", ok=False)
    assert refused.returncode == 2 and "not UTF-8" in refused.stderr
    bad = cli("videos", "captions", "add", video_id, str(subs), "--language", "nope!", ok=False)
    assert bad.returncode == 1 and "language:" in bad.stderr and "Traceback" not in bad.stderr
    for command in ("add", "list", "delete"):
        assert "Example:" in cli("videos", "captions", command, "--help").stdout


PAUSE_IN_FIRST_CUE = "(() => { const v = document.querySelector('video'); v.pause(); v.currentTime = 0.5; })()"
# The track the page's <video> shows, once its cues are loaded: (language, first cue's text).
SHOWN_TRACK = """() => {
  const shown = Array.from(document.querySelector('video').textTracks).find((t) => t.mode === 'showing');
  const cue = shown && shown.cues && shown.cues.length ? shown.cues[0].text : '';
  return shown ? [shown.language, cue] : null;
}"""


async def test_the_watch_page_caption_menu_lists_the_captions_and_shows_the_chosen_one(
    platform: RunningPlatform, captioned: dict[str, Any]
) -> None:
    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 860})
            await page.goto(f"{platform.url}/watch/{captioned['video']['id']}")
            player = page.locator(".player")
            await expect(player).to_have_attribute("data-engine", "hls.js", timeout=20_000)
            for engine in ("hls.js", "Shaka Player"):
                if engine == "Shaka Player":
                    await page.get_by_label("DASH (Shaka Player)").check()
                    await expect(player).to_have_attribute("data-engine", engine, timeout=20_000)
                await page.evaluate(PLAY_MUTED_FROM_START)
                captions = page.get_by_role("button", name=re.compile(r"^Captions"))
                await expect(captions).to_have_accessible_name("Captions: Off", timeout=20_000)
                await expect(captions).to_be_enabled()
                await captions.click()
                menu = page.get_by_role("menu", name="Captions")
                await expect(menu.get_by_role("menuitemradio")).to_have_text(["Off", "English", "Français"])
                await menu.get_by_role("menuitemradio", name="Français").click()
                await expect(captions).to_have_accessible_name("Captions: Français")
                await expect(player.locator(".captions")).to_have_attribute("data-language", "fr")
                await _show_first_cue(page)
                assert (await page.evaluate(SHOWN_TRACK))[0] == "fr", engine
                await captions.click()
                await menu.get_by_role("menuitemradio", name="Off").click()
                await expect(captions).to_have_accessible_name("Captions: Off")
                await page.wait_for_function(f"({SHOWN_TRACK})() === null", timeout=10_000)
        finally:
            await browser.close()


async def _show_first_cue(page: Page) -> None:
    """Pauses inside the first cue (a clip this short would end, and its cues go, before a check) until the shown
    track holds it; a seek that raced the track's loading is made again."""
    for _ in range(3):
        await page.evaluate(PAUSE_IN_FIRST_CUE)
        try:
            await page.wait_for_function(f"({SHOWN_TRACK})()?.[1] === 'Bonjour le test'", timeout=8_000)
            return
        except PlaywrightTimeoutError:
            continue
    engine = await page.locator(".player").get_attribute("data-engine")
    raise AssertionError(f"{engine}: the chosen caption never showed its first cue: {await page.evaluate(SHOWN_TRACK)}")


async def test_a_source_with_embedded_mov_text_gets_its_caption_automatically(
    owner: EdgeClient, media_factory: MediaFactory, tmp_path: Path
) -> None:
    subs = tmp_path / "embedded.srt"
    subs.write_text("1\n00:00:00,200 --> 00:00:01,500\nEmbedded hello\n\n2\n00:00:02,000 --> 00:00:03,000\nBye\n")
    clip = await media_factory.render(
        tmp_path / "with-mov-text.mp4",
        ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30:duration=4", "-i", str(subs),
         "-map", "0:v", "-map", "1:s", "-c:v", "libx264", "-preset", "ultrafast", "-c:s", "mov_text",
         "-metadata:s:s:0", "language=fra"],
    )  # fmt: skip
    video = owner.upload(clip, title="embedded captions")
    job = owner.wait_for_job(video["latestJob"]["jobId"], timeout=300)
    assert job["status"] == "COMPLETED", job
    owner.wait_for_video(video["id"], job["id"])
    deadline = time.monotonic() + 30
    while not (listed := owner.request("GET", f"/v1/videos/{video['id']}/captions")["captions"]):
        assert time.monotonic() < deadline, "the embedded caption never appeared"
        time.sleep(0.5)
    assert [(c["language"], c["origin"], c["cueCount"]) for c in listed] == [("fr", "source", 2)]
    master = _master(owner, video["id"])
    (french,) = [m for m in master.media if m.type == "SUBTITLES"]
    playlist = m3u8.loads(httpx.get(french.uri).raise_for_status().text)
    assert "Embedded hello" in httpx.get(playlist.segments[0].uri).raise_for_status().text


def test_captions_added_and_deleted_at_once_all_show_in_the_manifests(
    platform: RunningPlatform, owner: EdgeClient, captioned: dict[str, Any]
) -> None:
    video_id, languages = captioned["video"]["id"], ["it", "nl", "pt"]

    def add(language: str) -> str:
        with EdgeClient(platform.url, owner.token) as client:
            body = {"language": language, "format": "vtt", "content": FRENCH_VTT}
            return client.request("POST", f"/api/gallery/videos/{video_id}/captions", json=body)["id"]

    def delete(caption_id: str) -> None:
        with EdgeClient(platform.url, owner.token) as client:
            client.request("DELETE", f"/api/gallery/videos/{video_id}/captions/{caption_id}")

    with ThreadPoolExecutor(len(languages)) as pool:
        added = list(pool.map(add, languages))
        assert _subtitle_languages(owner, video_id) == ["en", "fr", "it", "nl", "pt"]
        list(pool.map(delete, added))
    assert _subtitle_languages(owner, video_id) == ["en", "fr"]


def _subtitle_languages(client: EdgeClient, video_id: str) -> list[str]:
    return sorted(m.language for m in _master(client, video_id).media if m.type == "SUBTITLES")
