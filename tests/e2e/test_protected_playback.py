"""Videos confirmed with `"protection": "clearkey"` or `"aes-128"` through the edge: Shaka Player in headless
Chromium plays the clearkey one over DASH (keys from the ClearKey licence route) and the aes-128 one over HLS
(Shaka and hls.js, the key from the key URI); each plays over its own protocol only, its segments alone do not
decode, and the key routes answer only a grant of that very video."""

from __future__ import annotations

import base64
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import m3u8
import pytest

from tests.e2e.test_players import HLS_JS, SHAKA_JS, advances, playing_page
from tests.fixtures.browser import evaluate_in_time
from tests.fixtures.platform import RunningPlatform
from tests.media_factory import MediaFactory
from videoforge.client.edge import EdgeClient
from videoforge.content_protection import b64url
from videoforge.transcoder.domain.hls_encryption import decrypt_segment

pytestmark = pytest.mark.e2e
MPD = "{urn:mpeg:dash:schema:mpd:2011}"
CENC = "{urn:mpeg:cenc:2013}"
DASHIF = "{https://dashif.org/CPS}"
CLEARKEY_SYSTEM = "urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e"

PLAY = """async ([url, library]) => {
  const video = document.querySelector('video');
  window.failure = null;
  if (library === 'hls.js') {
    const hls = new Hls();
    hls.on(Hls.Events.ERROR, (_, data) => { if (data.fatal) window.failure = data.details; });
    hls.loadSource(url);
    hls.attachMedia(video);
  } else {
    shaka.polyfill.installAll();
    const player = new shaka.Player();
    player.addEventListener('error', (event) => { window.failure = String(event.detail.code); });
    await player.attach(video);
    await player.load(url);
  }
  video.muted = true;
  video.play().catch(() => {});
}"""


@pytest.fixture(scope="module")
async def protected(platform: RunningPlatform, media_factory: MediaFactory) -> dict[str, dict[str, Any]]:
    """A clearkey and an aes-128 video, transcoded, with their playback answers."""
    client = EdgeClient(platform.url)
    client.register(f"protected-{uuid.uuid4().hex[:8]}@example.com", "viewer-pass-1")
    source = await media_factory.hd_with_audio(4)
    videos = {
        protection: client.upload(source, title=f"Protected ({protection})", formats=["360p"], protection=protection)
        for protection in ("clearkey", "aes-128")
    }
    played: dict[str, dict[str, Any]] = {}
    for protection, video in videos.items():
        job = client.wait_for_job(video["latestJob"]["jobId"], timeout=300)
        assert job["status"] == "COMPLETED", job
        playback = client.request("GET", f"/api/stream/{video['id']}/playback")
        played[protection] = {"id": video["id"], "playback": playback, "job": job["id"]}
    played["clearkey"]["assets"] = client.request("GET", f"/v1/jobs/{played['clearkey']['job']}/assets")
    return played


async def _plays(platform: RunningPlatform, library: Path, url: str) -> None:
    playwright, browser, page = await playing_page(platform, library)
    try:
        await evaluate_in_time(page, PLAY, [url, "hls.js" if library == HLS_JS else "shaka"])
        await page.wait_for_function(
            "document.querySelector('video').currentTime > 1.5 || window.failure", timeout=60_000
        )
        assert await page.evaluate("window.failure") is None
        assert await advances(page) > 1.5
    finally:
        await browser.close()
        await playwright.stop()


def _token(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


def _clearkey_protection(mpd_url: str) -> tuple[str, str]:
    """The served MPD's default KID (as base64url) and licence URL, the same in every AdaptationSet."""
    mpd = ET.fromstring(httpx.get(mpd_url).raise_for_status().text)
    found = set()
    for adaptation_set in mpd.iter(f"{MPD}AdaptationSet"):
        protections = adaptation_set.findall(f"{MPD}ContentProtection")
        kid = next(p.get(f"{CENC}default_KID") for p in protections if p.get("value") == "cenc")
        laurl = next(p.findtext(f"{DASHIF}Laurl") for p in protections if p.get("schemeIdUri") == CLEARKEY_SYSTEM)
        found.add((b64url(bytes.fromhex(str(kid).replace("-", ""))), str(laurl)))
    assert len(found) == 1, found
    return found.pop()


async def test_a_clearkey_video_plays_over_dash_with_its_licence(
    platform: RunningPlatform, protected: dict[str, dict[str, Any]]
) -> None:
    playback = protected["clearkey"]["playback"]
    assert playback["dashUrl"] and not playback.get("hlsUrl"), "CENC plays over DASH only"
    _, license_url = _clearkey_protection(playback["dashUrl"])
    assert license_url.startswith(f"{platform.url}/api/stream/{protected['clearkey']['id']}/license?token=")
    kinds = {asset["kind"] for asset in protected["clearkey"]["assets"]["assets"]}
    assert "KIND_POSTER" in kinds and "KIND_MP4" not in kinds, "no downloads in the clear"

    await _plays(platform, SHAKA_JS, playback["dashUrl"])


@pytest.mark.parametrize("library", [SHAKA_JS, HLS_JS], ids=["Shaka Player", "hls.js"])
async def test_an_aes128_video_plays_over_hls_with_its_key(
    platform: RunningPlatform, protected: dict[str, dict[str, Any]], library: Path
) -> None:
    playback = protected["aes-128"]["playback"]
    assert playback["hlsUrl"] and not playback.get("dashUrl"), "whole-segment AES-128 plays over HLS only"

    await _plays(platform, library, playback["hlsUrl"])


async def test_the_segments_alone_do_not_decode_and_the_key_opens_them(
    protected: dict[str, dict[str, Any]],
) -> None:
    master = m3u8.loads(httpx.get(protected["aes-128"]["playback"]["hlsUrl"]).raise_for_status().text)
    assert not master.iframe_playlists, "byte ranges of encrypted segments cannot be decrypted alone"
    media = m3u8.loads(httpx.get(master.playlists[0].uri).raise_for_status().text)
    key_tag = media.segments[0].key
    assert key_tag.method == "AES-128" and key_tag.iv is None
    init = httpx.get(media.segment_map[0].uri).raise_for_status().content
    first = httpx.get(media.segments[0].uri).raise_for_status().content
    assert b"moof" not in first and b"mdat" not in first, "what the store serves is ciphertext"
    key = httpx.get(key_tag.uri).raise_for_status().content
    assert len(key) == 16
    clear = decrypt_segment(first, key, media.media_sequence)
    assert clear[4:8] in (b"styp", b"moof") and b"mdat" in clear
    assert b"moov" in init, "the init segment is in the clear"


async def test_keys_go_only_to_a_grant_of_that_very_video(protected: dict[str, dict[str, Any]]) -> None:
    clearkey, aes = protected["clearkey"], protected["aes-128"]
    kid, license_url = _clearkey_protection(clearkey["playback"]["dashUrl"])
    base = license_url.split("?")[0]
    media = m3u8.loads(
        httpx.get(m3u8.loads(httpx.get(aes["playback"]["hlsUrl"]).text).playlists[0].uri).raise_for_status().text
    )
    key_url = media.segments[0].key.uri
    key_base = key_url.split("?")[0]
    request = {"kids": [kid], "type": "temporary"}

    granted = httpx.post(license_url, json=request).raise_for_status().json()
    assert granted["type"] == "temporary" and len(granted["keys"]) == 1
    (jwk,) = granted["keys"]
    assert (jwk["kty"], jwk["kid"]) == ("oct", kid) and len(base64.urlsafe_b64decode(jwk["k"] + "==")) == 16
    assert httpx.post(license_url, json={"kids": [b64url(b"\x01" * 16)]}).json().get("keys", []) == []

    aes_token = _token(key_url)
    clearkey_token = _token(license_url)
    assert httpx.post(base, json=request).status_code == 403, "no grant, no licence"
    assert httpx.post(base, params={"token": aes_token}, json=request).status_code == 403, "another video's grant"
    assert httpx.post(base, params={"token": clearkey_token[:-6] + "AAAAAA"}, json=request).status_code == 403
    assert httpx.get(key_base).status_code == 403, "no grant, no key"
    assert httpx.get(key_base, params={"token": clearkey_token}).status_code == 403, "another video's grant"
    own_key_route = f"{base.rsplit('/', 1)[0]}/key"
    assert httpx.get(own_key_route, params={"token": clearkey_token}).status_code == 404, "a clearkey video has none"
