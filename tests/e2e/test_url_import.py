"""Import from a URL through the edge, against the whole platform and a real web server on loopback that the
platform may reach because OUTBOUND_ALLOWED_HOSTS names it: the video plays; addresses off limits, a redirect to
one, a missing file and a web page are refused with a readable reason, and nothing is stored for them."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.media_host import MediaHost, Page
from tests.fixtures.platform import RunningPlatform
from tests.media_factory import MediaFactory
from tests.waiting import wait_until
from videoforge.client.edge import ApiError, EdgeClient

pytestmark = pytest.mark.e2e
PASSWORD = "url-import-pass-1"


@pytest.fixture(scope="module")
def user(platform: RunningPlatform) -> EdgeClient:
    client = EdgeClient(platform.url)
    client.register(f"importer-{uuid.uuid4().hex[:8]}@example.com", PASSWORD)
    return client


@pytest.fixture(scope="module")
async def hosted_clip(media_factory: MediaFactory, media_host: MediaHost) -> tuple[str, Path]:
    clip = await media_factory.tiny()
    media_host.put("/films/holiday.mp4", Page(body=clip.read_bytes(), headers={"Content-Type": "video/mp4"}))
    return f"http://{media_host.address}/films/holiday.mp4?token=secret", clip


def my_video_ids(user: EdgeClient) -> list[str]:
    return [video["id"] for video in user.request("GET", "/api/gallery/my-videos").get("videos", [])]


def finished_job(user: EdgeClient, job_id: str) -> dict[str, Any]:
    def final() -> dict[str, Any] | None:
        job = user.request("GET", f"/api/jobs/{job_id}")["job"]
        return job if job["status"] in ("COMPLETED", "FAILED", "CANCELLED") else None

    return wait_until(final, timeout=180, step=0.5)


def failed_video(user: EdgeClient, video_id: str) -> dict[str, Any] | None:
    shown = user.request("GET", f"/v1/videos/{video_id}")
    return shown if shown["status"] == "failed" else None


async def stored_objects(platform: RunningPlatform, video: dict[str, Any]) -> list[str]:
    """Every object of the video: its source's folder and its outputs."""
    store, folder = platform.blob_store(), video["s3Key"].rsplit("/", 1)[0] + "/"
    return [info.key for prefix in (folder, f"videos/{video['id']}/") for info in await store.list(prefix)]


def test_an_imported_video_is_transcoded_and_plays(
    platform: RunningPlatform, user: EdgeClient, hosted_clip: tuple[str, Path]
) -> None:
    url, clip = hosted_clip
    video = user.request(
        "POST",
        "/api/upload/import",
        json={
            "url": url,
            "title": "Holiday",
            "description": "From the web",
            "visibility": "public",
            "formats": ["low"],
        },
    )
    assert (video["title"], video["visibility"]) == ("Holiday", "public")
    job_id = video["latestJob"]["jobId"]
    assert job_id, "the answer carries the job that imports it"

    job = finished_job(user, job_id)

    assert job["status"] == "COMPLETED", job
    assert job["inputSource"] == url.split("?")[0] + "?…", "the URL is shown without its query"
    user.wait_for_video(video["id"], job_id)  # job events reach the gallery a moment after the job ends
    shown = user.request("GET", f"/api/gallery/videos/{video['id']}")
    assert shown["status"] == "ready"
    assert shown["duration"] > 0 and shown["resolution"] and shown["videoCodec"] == "h264"
    assert shown["fileSize"] == clip.stat().st_size
    stored = user.request("GET", f"/v1/videos/{video['id']}")["media"]
    assert {"container", "frameRate", "bitrate", "sizeBytes"} <= set(stored), "as complete as an upload's"
    playback = user.request("GET", f"/api/stream/{video['id']}/playback")
    master = httpx.get(playback["hlsUrl"])
    assert master.status_code == 200 and "#EXT-X-STREAM-INF" in master.text


def test_an_import_sent_again_with_its_request_id_answers_the_same_video_and_job(
    user: EdgeClient, hosted_clip: tuple[str, Path]
) -> None:
    url, _ = hosted_clip
    request_id = str(uuid.uuid4())
    first = user.import_video(url, title="Sent twice", formats=["low"], request_id=request_id)
    # As a client retries after its reply was lost: the same request, the same id.
    again = user.import_video(url, title="Sent twice", formats=["low"], request_id=request_id)

    assert (again["id"], again["latestJob"]["jobId"]) == (first["id"], first["latestJob"]["jobId"])
    assert my_video_ids(user).count(first["id"]) == 1
    assert user.wait_for_job(first["latestJob"]["jobId"], timeout=180)["status"] == "COMPLETED"
    # Another id is another import.
    other = user.import_video(url, title="Sent twice", formats=["low"], request_id=str(uuid.uuid4()))
    assert other["id"] != first["id"]
    user.wait_for_job(other["latestJob"]["jobId"], timeout=180)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://127.0.0.1:9/clip.mp4", "127.0.0.1 is a loopback address"),
        ("https://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata address"),
        ("https://0x7f.1/clip.mp4", "127.0.0.1 is a loopback address"),
        ("https://[::ffff:169.254.169.254]/", "is a cloud metadata address"),
        ("http://example.com/clip.mp4", "only https:// URLs are accepted"),
    ],
)
def test_a_url_off_limits_is_refused_at_once_and_nothing_is_created(user: EdgeClient, url: str, reason: str) -> None:
    before = my_video_ids(user)

    with pytest.raises(ApiError) as refused:
        user.request("POST", "/api/upload/import", json={"url": url, "title": "Nope"})

    assert refused.value.status == 400 and reason in refused.value.message
    assert my_video_ids(user) == before


@pytest.mark.parametrize(
    ("path", "page", "error"),
    [
        (
            "/moved.mp4",
            Page(302, headers={"Location": "http://127.0.0.1:9/clip.mp4"}),
            "Failed to download source video: only https:// URLs are accepted, not http:// ones",
        ),
        (
            "/to-metadata.mp4",
            Page(307, headers={"Location": "https://169.254.169.254/latest/meta-data/"}),
            "Failed to download source video: 169.254.169.254 is a cloud metadata address",
        ),
        ("/missing.mp4", Page(404, b"no such file"), "Failed to download source video: 404 Not Found"),
        ("/page.mp4", Page(body=b"<!DOCTYPE html><html><body>Log in</body></html>"), "The file is an HTML page"),
    ],
)
async def test_a_fetch_that_is_refused_fails_the_job_with_its_reason_and_stores_nothing(
    platform: RunningPlatform, user: EdgeClient, media_host: MediaHost, path: str, page: Page, error: str
) -> None:
    media_host.put(path, page)
    video = user.request(
        "POST", "/api/upload/import", json={"url": f"http://{media_host.address}{path}", "title": "Refused"}
    )

    job = finished_job(user, video["latestJob"]["jobId"])

    assert job["status"] == "FAILED" and job["errorText"].startswith(error), job
    # The job's events reach the video a moment later.
    shown = wait_until(lambda: failed_video(user, video["id"]), timeout=30, step=0.5)
    assert shown["latestJob"]["errorMessage"] == job["errorText"]
    assert await stored_objects(platform, video) == []
