"""The web app in a real browser: sign up, upload, follow the job, play, manage, administer.

Headless Debian Chromium driven by Playwright against the whole platform through its edge. Each page is
saved as a screenshot under test-artifacts/screenshots/ for people to look at.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Locator, Page, Route, expect

from tests.fixtures.platform import RunningPlatform
from tests.media_factory import MediaFactory
from videoforge.client.edge import ApiError, EdgeClient

pytestmark = pytest.mark.e2e

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 375, "height": 780}
PASSWORD = "web-pass-123"
BY = "\N{MULTIPLICATION SIGN}"  # the sign the pages put between width and height
TRANSCODE_SECONDS = 180
# Records what the upload panel shows as it changes: its bar's byte counts and its words.
RECORD_UPLOAD = """() => {
  window.progressSeen = [];
  window.uploadWords = [];
  new MutationObserver(() => {
    const panel = document.querySelector('.upload-progress');
    if (!panel) return;
    window.progressSeen.push(panel.querySelector('progress').value);
    if (window.uploadWords.at(-1) !== panel.innerText) window.uploadWords.push(panel.innerText);
  }).observe(document.body, { attributes: true, childList: true, characterData: true, subtree: true });
}"""
# The clip lasts seconds: by the time a check wants it playing it may have ended, so start it over.
# Not awaiting play()'s promise, which never settles while a player is stalled: the checks after it wait in time.
PLAY_FROM_START = (
    "(() => { const v = document.querySelector('video'); v.currentTime = 0; v.play().catch(() => {}); })()"
)


def email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@example.com"


def nav(page: Page, name: str) -> Locator:
    """A link of the site's main navigation (pages may link to the same places)."""
    return page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True)


async def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


async def sign_up(context: BrowserContext, base_url: str, address: str) -> Page:
    page = await context.new_page()
    await page.goto(f"{base_url}/signup")
    await page.get_by_label("Email").fill(address)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign up").click()
    await expect(page.get_by_role("button", name="Log out")).to_be_visible()
    return page


@pytest.fixture(scope="module")
def web_url(platform: RunningPlatform) -> str:
    page = httpx.get(f"{platform.url}/")
    assert page.headers.get("content-type", "").startswith("text/html"), (
        "the edge does not serve the web app: ./setup builds web/dist, and `videoforge up` serves it"
    )
    return platform.url


@pytest.fixture(scope="module")
async def owner(browser: Browser, web_url: str) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport=DESKTOP)
    page = await sign_up(context, web_url, email("web-owner"))
    yield page
    await context.close()


@pytest.fixture(scope="module")
async def uploaded(owner: Page, web_url: str, media_factory: MediaFactory) -> dict[str, Any]:
    """The clip uploaded through the page in parts, with part 2 cut off twice once part 1 is in.

    The first cut comes while online (the page retries after a second); the second takes the browser
    offline (the page pauses until it is back online, then sends only the part still missing).
    """
    clip = await media_factory.hd_with_audio(4)
    title = f"Web clip {uuid.uuid4().hex[:6]}"
    part_requests: dict[str, int] = {}
    part_one_in = asyncio.Event()

    async def cut_part_two(route: Route) -> None:
        part = re.search(r"partNumber=(\d+)", route.request.url)
        number = part.group(1) if part else "whole"
        part_requests[number] = part_requests.get(number, 0) + 1
        if number != "2":
            await route.fulfill(response=await route.fetch())
            part_one_in.set()
            return
        await part_one_in.wait()
        if part_requests[number] == 1:
            await route.abort("connectionreset")
        elif part_requests[number] == 2:
            await owner.context.set_offline(True)
            await route.abort("internetdisconnected")
        else:
            await route.continue_()

    await owner.route(re.compile(r".*/uploads/.*"), cut_part_two)
    await nav(owner, "Upload").click()
    await owner.get_by_label("Drag and drop a video here").set_input_files(clip)
    await expect(owner.get_by_label("Title")).to_have_value("hd-4s")
    await owner.get_by_label("Title").fill(title)
    await owner.get_by_label("Description").fill("A test pattern with a tone.")
    await owner.get_by_label("Unlisted: only people with the link").check()
    await owner.get_by_label("Public: anyone can find and watch it").check()
    await screenshot(owner, "upload")
    await owner.evaluate(RECORD_UPLOAD)
    await owner.get_by_role("button", name="Upload", exact=True).click()
    await expect(owner.get_by_role("button", name="Resume upload")).to_be_visible(timeout=30_000)
    await expect(owner.locator(".upload-progress")).to_contain_text("1 of 2 parts sent")
    await screenshot(owner, "upload-progress")
    await owner.context.set_offline(False)
    await owner.wait_for_url(re.compile(r"/jobs/\w+"), timeout=60_000)
    await screenshot(owner, "job-progress")
    job = owner.locator(".job")
    await expect(job).to_have_attribute("data-status", "COMPLETED", timeout=TRANSCODE_SECONDS * 1000)
    await owner.unroute(re.compile(r".*/uploads/.*"))
    return {
        "title": title,
        "job_id": await job.get_attribute("data-job-id"),
        "video_href": await owner.get_by_role("link", name="Watch now").get_attribute("href"),
        "size": clip.stat().st_size,
        "part_requests": part_requests,
        "progress_seen": await owner.evaluate("window.progressSeen"),
        "words_seen": "\n".join(await owner.evaluate("window.uploadWords")),
    }


def test_the_edge_serves_the_app_with_page_fallback_and_cache_rules(web_url: str) -> None:
    home = httpx.get(f"{web_url}/")
    deep = httpx.get(f"{web_url}/watch/some-video?t=3")
    assert deep.status_code == 200 and deep.text == home.text
    assert home.headers["cache-control"] == "no-cache"
    script = re.search(r'src="(/assets/[^"]+\.js)"', home.text)
    assert script, home.text
    asset = httpx.get(f"{web_url}{script.group(1)}")
    assert asset.status_code == 200 and asset.headers["content-type"].startswith("text/javascript")
    assert "immutable" in asset.headers["cache-control"]
    assert httpx.get(f"{web_url}/assets/missing-0000.js").status_code == 404
    api = httpx.get(f"{web_url}/api/no/such/route")
    assert api.status_code == 404 and api.json()["code"] == 5
    # Nothing is fetched from elsewhere: every script, style and icon is the edge's own (or inline).
    references = re.findall(r'(?:src|href)="([^"]+)"', home.text)
    assert references and all(ref.startswith(("/", "#", "data:")) for ref in references), references


def test_an_upload_goes_up_in_parts_with_byte_progress_and_resumes_after_the_connection_drops(
    uploaded: dict[str, Any],
) -> None:
    requests = uploaded["part_requests"]
    assert requests.get("1") == 1, requests  # sent once, never again
    assert requests.get("2") == 3, requests  # cut off online, cut off offline, then sent
    seen = [float(value) for value in uploaded["progress_seen"]]
    assert max(seen) == uploaded["size"]
    assert any(0 < value < uploaded["size"] for value in seen), seen  # it moved in steps, not at the end
    words = uploaded["words_seen"]
    assert "Sending part 2 failed (the connection dropped); trying again in 1 s." in words, words
    assert "The connection was lost (1 of 2 parts still to send)" in words, words


async def test_the_job_page_follows_the_watch_stream_to_100_percent(owner: Page, uploaded: dict[str, Any]) -> None:
    await expect(owner.locator("#job-progress-label")).to_have_text("100%")
    await expect(owner.locator(".job-status")).to_contain_text("Ready to watch")
    await expect(owner.locator(".job .details")).to_contain_text(f"1080p (1920{BY}1080)")


async def test_the_gallery_finds_the_video_and_animates_its_thumbnail(owner: Page, uploaded: dict[str, Any]) -> None:
    await nav(owner, "Gallery").click()
    await owner.get_by_role("searchbox", name="Search videos").fill(uploaded["title"])
    await owner.get_by_role("button", name="Search").click()
    await expect(owner).to_have_url(re.compile(r"\?q=Web"))
    card = owner.get_by_role("link", name=uploaded["title"])
    await expect(card).to_have_count(1)
    image = card.locator("img")
    await expect(image).to_have_attribute("src", re.compile(r"poster\.jpg"))
    await expect(image).not_to_have_js_property("naturalWidth", 0)
    await card.hover()
    await expect(image).to_have_attribute("src", re.compile(r"preview\.gif"))
    await screenshot(owner, "gallery")
    await owner.mouse.move(0, 0)
    await expect(image).to_have_attribute("src", re.compile(r"poster\.jpg"))


async def test_the_watch_page_plays_switches_quality_and_previews_the_storyboard(
    owner: Page, uploaded: dict[str, Any]
) -> None:
    await owner.get_by_role("link", name=uploaded["title"]).click()
    await expect(owner.get_by_role("heading", level=1)).to_have_text(uploaded["title"])
    player = owner.locator(".player")
    await owner.get_by_role("button", name="Play").click()
    await owner.wait_for_function("document.querySelector('video').currentTime > 0.5", timeout=20_000)
    quality = owner.get_by_role("button", name=re.compile(r"^Quality"))
    await expect(quality).to_have_accessible_name(re.compile(r"Quality: Auto \(\d+p\)"))
    await quality.focus()
    await owner.keyboard.press("Enter")
    menu = owner.get_by_role("menu", name="Quality")
    await expect(menu.get_by_role("menuitemradio")).to_have_count(5)
    await expect(menu.get_by_role("menuitemradio", name=re.compile("Auto"))).to_be_focused()
    await screenshot(owner, "watch-quality-menu")
    await owner.keyboard.press("End")
    await expect(menu.get_by_role("menuitemradio", name="360p")).to_be_focused()
    await owner.keyboard.press("Enter")
    await expect(menu).to_be_hidden()
    await expect(quality).to_be_focused()
    await expect(quality).to_have_accessible_name("Quality: 360p")
    await expect(player.locator(".quality")).to_have_attribute("data-playing-height", "360", timeout=20_000)
    await owner.evaluate(PLAY_FROM_START)
    await owner.wait_for_function("document.querySelector('video').currentTime > 0.5", timeout=20_000)

    seek = owner.get_by_role("slider", name="Seek")
    box = await seek.bounding_box()
    assert box
    await owner.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2)
    sprite = owner.locator(".preview-sprite")
    await expect(owner.locator(".scrub-preview")).to_be_visible()
    await expect(sprite).to_have_css("background-image", re.compile(r"sheet-001\.jpg\?Policy="))
    await screenshot(owner, "watch-storyboard")

    details = owner.locator(".details")
    for fact in ("0:04", f"1920{BY}1080", "h264", "aac", "1080p", "360p", "Published loudness", "(normalised)"):
        await expect(details).to_contain_text(fact)
    await expect(owner.get_by_role("link", name="Download MP4")).to_have_attribute(
        "href", re.compile(r"/downloads/720p\.mp4\?")
    )

    await owner.get_by_label("DASH (Shaka Player)").check()
    await expect(player).to_have_attribute("data-engine", "Shaka Player", timeout=20_000)
    await owner.evaluate(PLAY_FROM_START)
    await owner.wait_for_function("document.querySelector('video').currentTime > 0.3", timeout=20_000)
    await expect(quality).to_be_enabled()


async def test_pages_fit_a_phone_screen(browser: Browser, web_url: str, uploaded: dict[str, Any]) -> None:
    context = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        page = await sign_up(context, web_url, email("web-phone"))
        pages = (
            (f"/?q={uploaded['title']}", "phone-gallery"),
            (uploaded["video_href"], "phone-watch"),
            ("/upload", "phone-upload"),
        )
        for path, name in pages:
            await page.goto(f"{web_url}{path}")
            await expect(page.get_by_role("heading", level=1)).to_be_visible()
            if name == "phone-gallery":
                await expect(page.locator(".card img")).not_to_have_js_property("naturalWidth", 0)
            if name == "phone-watch":
                await expect(page.locator(".player")).to_have_attribute("data-engine", "hls.js")
            assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], path
            await screenshot(page, name)
    finally:
        await context.close()


async def test_a_failed_transcode_says_why_and_retry_starts_a_new_job(owner: Page, media_factory: MediaFactory) -> None:
    clip = await media_factory.cut_short_mp4()
    await nav(owner, "Upload").click()
    await owner.get_by_label("Drag and drop a video here").set_input_files(clip)
    await owner.get_by_label("Title").fill(f"Cut short {uuid.uuid4().hex[:6]}")
    await owner.get_by_label("360p").check()
    await owner.get_by_role("button", name="Upload", exact=True).click()
    await owner.wait_for_url(re.compile(r"/jobs/\w+"), timeout=60_000)
    failed_url = owner.url
    failure = owner.get_by_role("alert").filter(has_text="The transcode failed.")
    await expect(failure).to_contain_text("ends early", timeout=60_000)
    await expect(owner.locator(".job .details")).to_contain_text("360p")
    await screenshot(owner, "job-failed")
    await owner.get_by_role("button", name="Retry").click()
    await expect(owner).not_to_have_url(failed_url)
    await expect(owner.locator(".job .details")).to_contain_text("360p")  # the same formats again
    await expect(failure).to_contain_text("ends early", timeout=60_000)


async def test_the_owner_edits_the_title_and_a_private_video_is_hidden_from_others(
    owner: Page, browser: Browser, web_url: str, uploaded: dict[str, Any]
) -> None:
    await nav(owner, "My videos").click()
    row = owner.locator(".row", has_text=uploaded["title"])
    await row.get_by_role("button", name="Edit").click()
    renamed = f"{uploaded['title']} renamed"
    await row.get_by_label("Title").fill(renamed)
    await row.get_by_role("button", name="Save").click()
    await expect(row.get_by_role("heading", level=2)).to_have_text(renamed)
    await row.get_by_label("Visibility").select_option("private")
    await expect(row.get_by_role("status").filter(has_text="Visibility is now Private.")).to_be_visible()
    await screenshot(owner, "my-videos")
    uploaded["title"] = renamed

    context = await browser.new_context(viewport=DESKTOP)
    try:
        stranger = await sign_up(context, web_url, email("web-stranger"))
        await stranger.goto(f"{web_url}{uploaded['video_href']}")
        await expect(stranger.get_by_role("heading", level=1)).to_have_text("Not found")
        await expect(stranger.get_by_role("alert")).to_contain_text("No video")
        await stranger.goto(f"{web_url}/?q={uploaded['title'].split()[-2]}")
        await expect(stranger.locator(".empty")).to_contain_text("No videos match")
    finally:
        await context.close()


async def test_an_admin_sees_every_job_and_runs_maintenance(
    browser: Browser, platform: RunningPlatform, web_url: str, uploaded: dict[str, Any]
) -> None:
    address = email("web-admin")
    subprocess.run(
        [sys.executable, "-m", "videoforge", "users", "create", "--email", address, "--password", PASSWORD,
         "--admin", "--data-dir", str(platform.data_dir)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    context = await browser.new_context(viewport=DESKTOP)
    try:
        page = await context.new_page()
        await page.goto(f"{web_url}/admin")
        await expect(page).to_have_url(re.compile(r"/login\?next=%2Fadmin"))
        await page.get_by_label("Email").fill(address)
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Log in").click()
        await expect(page.get_by_role("heading", name="Administration")).to_be_visible()
        await expect(nav(page, "Admin")).to_have_attribute("aria-current", "page")
        await expect(page.locator(f'tr[data-job-id="{uploaded["job_id"]}"]')).to_contain_text("Completed")
        await expect(page.locator(".stats")).to_contain_text("Jobs")
        # The activity charts, drawn from the platform's own records (the uploaded video's job among them).
        jobs_chart = page.get_by_role("img", name="Jobs per hour, by state")
        await expect(jobs_chart.locator("rect").first).to_be_visible()
        await expect(page.get_by_role("img", name="Average time per stage, by the hour jobs finished")).to_be_visible()
        await expect(page.get_by_role("img", name="Jobs in the queue").locator("polyline")).to_have_count(1)
        await expect(page.locator(".chart-legend").first).to_contain_text("Completed")
        await page.get_by_role("button", name="Restart failed jobs").click()
        await expect(page.get_by_role("status").filter(has_text=re.compile("Restarted|no failed jobs"))).to_be_visible()
        await page.get_by_label("Delete finished jobs older than (days)").fill("365")
        await page.get_by_role("button", name="Clean up").click()
        await expect(page.get_by_role("status").filter(has_text="Deleted 0 jobs")).to_be_visible()
        await screenshot(page, "admin")
    finally:
        await context.close()


async def test_the_owner_deletes_the_video(owner: Page, web_url: str, uploaded: dict[str, Any]) -> None:
    row = owner.locator(".row", has_text=uploaded["title"])
    await row.get_by_role("button", name="Delete").click()
    await row.get_by_role("button", name="Yes, delete it").click()
    await expect(row).to_have_count(0)
    token = await owner.evaluate("JSON.parse(localStorage.getItem('videoforge.session')).accessToken")
    gone = httpx.get(f"{web_url}{uploaded['video_href'].replace('/watch/', '/api/gallery/videos/')}",
                     headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert gone.status_code == 404


async def test_the_watch_page_plays_a_video_still_being_transcoded(
    browser: Browser, web_url: str, media_factory: MediaFactory
) -> None:
    context = await browser.new_context(viewport=DESKTOP)
    try:
        page = await sign_up(context, web_url, email("web-live"))
        client = EdgeClient(web_url)
        client.token = await page.evaluate("JSON.parse(localStorage.getItem('videoforge.session')).accessToken")
        # Long enough, and three rungs from 1080p, that the encode runs well past the player's start.
        source = await media_factory.hd_with_audio(16)
        video = await asyncio.to_thread(
            client.upload, source, title="Still being made", formats=["1080p", "720p", "360p"]
        )
        await asyncio.to_thread(_until_watchable, client, video["id"])

        await page.goto(f"{web_url}/watch/{video['id']}")
        await expect(page.get_by_role("status").filter(has_text="Still being transcoded")).to_be_visible()
        await page.get_by_role("button", name="Play").click()
        await page.wait_for_function("document.querySelector('video').currentTime > 0.5", timeout=60_000)
        job = client.request("GET", f"/v1/jobs/{video['latestJob']['jobId']}")
        assert job["state"] != "STATE_COMPLETED", "it played while the job still ran"
        await screenshot(page, "watch-while-transcoding")
    finally:
        await context.close()


async def test_the_upload_form_asks_for_extra_codecs_and_protection(owner: Page, media_factory: MediaFactory) -> None:
    confirms: list[dict[str, Any]] = []

    async def keep_confirm(route: Route) -> None:
        # Only what the page asks is checked here; the platform's answer to these fields has its own tests.
        confirms.append(route.request.post_data_json)
        await route.abort("failed")

    await owner.route(re.compile(r".*/v1/videos$"), keep_confirm)
    try:
        await nav(owner, "Upload").click()
        await owner.get_by_label("Drag and drop a video here").set_input_files(await media_factory.tiny())
        await owner.get_by_text("Codecs and protection").click()
        await owner.get_by_label("AV1").check()
        await owner.get_by_label("ClearKey: encrypted, played over DASH").check()
        await screenshot(owner, "upload-codecs-and-protection")
        await owner.get_by_role("button", name="Upload", exact=True).click()
        await expect(owner.get_by_role("alert").first).to_be_visible(timeout=30_000)
    finally:
        await owner.unroute(re.compile(r".*/v1/videos$"))
    assert confirms and confirms[0]["codecs"] == ["av1"] and confirms[0]["protection"] == "clearkey", confirms


def _until_watchable(client: EdgeClient, video_id: str) -> None:
    deadline = time.monotonic() + TRANSCODE_SECONDS
    while time.monotonic() < deadline:
        try:
            client.request("GET", f"/api/stream/{video_id}/playback")
            return
        except ApiError as error:
            assert error.reason == "NOT_READY", error
            time.sleep(0.2)
    raise TimeoutError("the video did not become watchable while it transcoded")
