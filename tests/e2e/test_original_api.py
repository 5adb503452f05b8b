"""The original use-case document, replayed call by call through the edge: its five workflows, with the
requests it shows and every field of the answers it shows (ids are opaque strings here, not numbers).

The use cases build on each other as the document's do (the video uploaded in the first is transcoded in the
second and browsed in the third), so they share one story and run in order.
"""

from __future__ import annotations

import re
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
PASSWORD = "original-api-pass-1"
TITLE, DESCRIPTION = "My Amazing Video", "A video I uploaded"
NUMBER = (int, float)


def new_user(platform: RunningPlatform, *, admin: bool = False) -> EdgeClient:
    if admin:
        return platform.admin_client(PASSWORD)
    client = EdgeClient(platform.url)
    client.register(f"original-{uuid.uuid4().hex[:8]}@example.com", PASSWORD)
    return client


def status_of(client: EdgeClient, method: str, path: str, **kwargs: Any) -> int:
    try:
        client.request(method, path, **kwargs)
    except ApiError as error:
        return error.status
    return 200


def upload_as_documented(client: EdgeClient, clip: Path, **details: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Use case 1, steps 1 to 3: an upload URL without a size, one PUT, a confirm. Returns (grant, video)."""
    grant = client.request(
        "POST", "/api/upload/generate-url", json={"filename": "my-video.mp4", "contentType": "video/mp4"}
    )
    assert isinstance(grant["uploadUrl"], str) and grant["uploadUrl"].startswith("http")
    assert isinstance(grant["s3Key"], str) and grant["s3Key"]
    assert 0 < grant["expiresIn"] <= 900  # upload URLs are short-lived
    put = httpx.put(grant["uploadUrl"], content=clip.read_bytes(), headers={"Content-Type": "video/mp4"})
    assert put.status_code == 200, put.text
    video = client.request("POST", "/api/upload/confirm", json={"s3Key": grant["s3Key"], **details})
    return grant, video


def assert_plays(stream_url: str, source: Path) -> None:
    """A signed URL any player can open: the adaptive HLS master, or the source itself before a transcode."""
    reply = httpx.get(stream_url)
    assert reply.status_code == 200, reply.text[:300]
    if ".m3u8" in stream_url.split("?")[0]:
        assert reply.text.startswith("#EXTM3U") and "#EXT-X-STREAM-INF" in reply.text
    else:
        assert reply.content == source.read_bytes()


@pytest.fixture(scope="module")
def story() -> dict[str, Any]:
    """What one use case leaves for the next, as a reader of the document carries ids and tokens along."""
    return {}


@pytest.fixture(scope="module")
async def clip(media_factory: MediaFactory) -> Path:
    return await media_factory.hd_with_audio(3)


# Use case 1: upload and stream a video.


def test_use_case_1_upload_and_stream(platform: RunningPlatform, clip: Path, story: dict[str, Any]) -> None:
    user = new_user(platform)
    grant, video = upload_as_documented(user, clip, title=TITLE, description=DESCRIPTION, visibility="public")
    assert isinstance(video["id"], str) and video["id"]
    assert (video["title"], video["s3Key"], video["visibility"]) == (TITLE, grant["s3Key"], "public")
    # Confirm queues a transcode by default; until a worker takes it the video is, as documented, uploaded.
    assert video["status"] == "uploaded"

    listed = user.request("GET", "/api/gallery/videos")["videos"]
    assert video["id"] in [v["id"] for v in listed]

    stream = user.request("GET", f"/api/gallery/videos/{video['id']}/stream")
    assert set(stream) >= {"streamUrl"}
    assert_plays(stream["streamUrl"], clip)
    story.update(user=user, video=video, s3_key=grant["s3Key"])


# Use case 2: upload, transcode and stream.


def test_use_case_2_transcode_then_fetch_assets(clip: Path, story: dict[str, Any]) -> None:
    user, video = story["user"], story["video"]
    created = user.request(
        "POST", "/api/jobs", json={"inputSource": story["s3_key"], "outputFormats": ["high", "medium", "low"]}
    )
    job = created["job"]
    assert isinstance(created["message"], str) and created["message"]
    assert isinstance(job["id"], str) and job["id"]
    assert isinstance(job["userId"], str) and job["userId"]
    assert job["inputSource"] == story["s3_key"]
    assert job["status"] in ("PENDING", "DOWNLOADING", "PROCESSING", "UPLOADING", "COMPLETED")
    assert isinstance(job["progress"], int) and 0 <= job["progress"] <= 100
    # Confirm already started a transcode covering these formats: asking again answers that job.
    if started := video.get("latestJob", {}).get("jobId"):
        assert job["id"] == started
    again = user.request(
        "POST", "/api/jobs", json={"inputSource": story["s3_key"], "outputFormats": ["high", "medium", "low"]}
    )
    assert again["job"]["id"] == job["id"]

    def finished() -> dict[str, Any] | None:
        shown = user.request("GET", f"/api/jobs/{job['id']}")["job"]
        assert shown["id"] == job["id"] and isinstance(shown["progress"], int)
        assert shown["duration"] == pytest.approx(3, abs=0.2)
        assert (shown["resolution"], shown["videoCodec"], shown["audioCodec"]) == ("1920x1080", "h264", "aac")
        assert shown["status"] not in ("FAILED", "CANCELLED"), shown
        return shown if shown["status"] == "COMPLETED" else None

    done = wait_until(finished, timeout=240, step=0.5)
    assert done["progress"] == 100

    assets = user.request("GET", f"/api/jobs/{job['id']}/assets")["assets"]
    for asset in assets:
        assert isinstance(asset["id"], str) and asset["id"]
        assert isinstance(asset["assetType"], str) and isinstance(asset["format"], str)
        assert isinstance(asset["s3Key"], str) and asset["s3Key"]
        assert isinstance(asset["fileSize"], int) and asset["fileSize"] > 0
    by_type = {(a["assetType"], a["format"]) for a in assets}
    assert {("thumbnail", "jpg"), ("gif", "gif"), ("video", "mp4")} <= by_type
    videos = {a["quality"]: a for a in assets if a["assetType"] == "video"}
    assert {"high", "medium", "low"} <= set(videos)

    # `curl -L -o high-quality.mp4`: a redirect to the signed file.
    download = f"{user.base_url}/api/jobs/{job['id']}/assets/{videos['high']['id']}/download"
    auth = {"Authorization": f"Bearer {user.token}"}
    assert httpx.get(download, headers=auth).status_code == 302
    fetched = httpx.get(download, headers=auth, follow_redirects=True)
    assert fetched.status_code == 200 and len(fetched.content) == videos["high"]["fileSize"]
    story.update(job=done)


async def test_use_case_2_with_a_url_as_the_input_source(
    media_factory: MediaFactory, media_host: MediaHost, story: dict[str, Any]
) -> None:
    """The document's jobs also take a URL. The test's media host speaks plain HTTP, which only a host named in
    OUTBOUND_ALLOWED_HOSTS may; anywhere else the URL must be https on a public address."""
    user, source = story["user"], await media_factory.tiny()
    media_host.put("/uploads/my-video.mp4", Page(body=source.read_bytes()))
    url = f"http://{media_host.address}/uploads/my-video.mp4"

    created = user.request("POST", "/api/jobs", json={"inputSource": url, "outputFormats": ["high", "medium", "low"]})

    assert created["message"] == "Job created successfully"
    job = created["job"]
    assert (job["inputSource"], job["status"], job["progress"]) == (url, "PENDING", 0)
    assert isinstance(job["id"], str) and job["userId"] == story["video"]["userId"]

    def finished() -> dict[str, Any] | None:
        shown = user.request("GET", f"/api/jobs/{job['id']}")["job"]
        assert shown["status"] not in ("FAILED", "CANCELLED"), shown
        return shown if shown["status"] == "COMPLETED" else None

    done = wait_until(finished, timeout=180, step=0.5)
    assert done["progress"] == 100 and done["duration"] > 0 and done["videoCodec"] == "h264"
    assets = user.request("GET", f"/api/jobs/{job['id']}/assets")["assets"]
    assert {("thumbnail", "jpg"), ("video", "mp4")} <= {(a["assetType"], a["format"]) for a in assets}


# Use case 3: browse the public gallery without signing in.


def test_use_case_3_browse_as_anonymous(platform: RunningPlatform, clip: Path, story: dict[str, Any]) -> None:
    anonymous = EdgeClient(platform.url)
    video_id = story["video"]["id"]
    user = story["user"]
    user.wait_for_video(video_id, story["job"]["id"])

    page = anonymous.request("GET", "/api/gallery/videos", params={"page": 1, "limit": 10})
    assert {"total", "page", "limit", "totalPages"} <= set(page["pagination"])
    assert (page["pagination"]["page"], page["pagination"]["limit"]) == (1, 10)
    assert page["pagination"]["totalPages"] >= 1 and page["pagination"]["total"] >= 1
    listed = next(v for v in page["videos"] if v["id"] == video_id)
    assert (listed["title"], listed["description"], listed["visibility"]) == (TITLE, DESCRIPTION, "public")
    assert listed["status"] == "ready"
    assert listed["duration"] == pytest.approx(3, abs=0.2)
    assert listed["resolution"] == "1920x1080"
    assert isinstance(listed["views"], int)
    assert listed["thumbnailUrl"].startswith("http")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", listed["createdAt"])
    assert listed["userId"] == story["job"]["userId"]
    assert httpx.get(listed["thumbnailUrl"]).status_code == 200

    found = anonymous.request("GET", "/api/gallery/videos", params={"search": "amazing"})["videos"]
    assert video_id in [v["id"] for v in found]
    assert all("amazing" in (v["title"] + v["description"]).lower() for v in found)
    public_only = anonymous.request("GET", "/api/gallery/videos", params={"visibility": "public"})["videos"]
    assert all(v["visibility"] == "public" for v in public_only)

    details = anonymous.request("GET", f"/api/gallery/videos/{video_id}")
    assert (details["id"], details["title"]) == (video_id, TITLE)
    # Views are added in batches once a second: the listing may not have the latest yet, this answer does.
    assert details["views"] >= listed["views"] + 1
    assert (details["videoCodec"], details["audioCodec"]) == ("h264", "aac")
    assert details["fileSize"] == clip.stat().st_size

    stream = anonymous.request("GET", f"/api/gallery/videos/{video_id}/stream")
    assert ".m3u8" in stream["streamUrl"].split("?")[0]
    assert_plays(stream["streamUrl"], clip)


# Use case 4: manage one's own library.


async def test_use_case_4_manage_the_library(
    platform: RunningPlatform, media_factory: MediaFactory, story: dict[str, Any]
) -> None:
    user = story["user"]
    _, video = upload_as_documented(
        user, await media_factory.tiny(), title="Library video", description="", visibility="public"
    )
    video_id = video["id"]
    mine = user.request("GET", "/api/gallery/videos")["videos"]
    assert {video_id, story["video"]["id"]} <= {v["id"] for v in mine}

    updated = user.request(
        "PUT",
        f"/api/gallery/videos/{video_id}",
        json={"title": "Updated Title", "description": "New description", "visibility": "private"},
    )
    assert (updated["id"], updated["title"], updated["description"], updated["visibility"]) == (
        video_id, "Updated Title", "New description", "private"
    )  # fmt: skip
    assert video_id in [v["id"] for v in user.request("GET", "/api/gallery/videos")["videos"]]
    anonymous = EdgeClient(platform.url)
    assert video_id not in [v["id"] for v in anonymous.request("GET", "/api/gallery/videos")["videos"]]
    assert status_of(anonymous, "GET", f"/api/gallery/videos/{video_id}") == 404

    deleted = user.request("DELETE", f"/api/gallery/videos/{video_id}")
    assert deleted == {"message": "Video deleted successfully"}
    assert status_of(user, "GET", f"/api/gallery/videos/{video_id}") == 404


# Use case 5: an administrator manages every user's jobs.


def test_use_case_5_administer_jobs(platform: RunningPlatform, story: dict[str, Any]) -> None:
    admin = new_user(platform, admin=True)
    job = story["job"]

    everyone = admin.request("GET", "/api/jobs/admin/all")
    shown = next(j for j in everyone["jobs"] if j["id"] == job["id"])
    assert (shown["userId"], shown["status"]) == (job["userId"], "COMPLETED")
    assert {"total", "page", "limit", "totalPages"} <= set(everyone["pagination"])

    stats = admin.request("GET", "/api/jobs/admin/stats")
    for count in ("totalJobs", "pending", "processing", "completed", "failed"):
        assert isinstance(stats[count], int) and stats[count] >= 0, count
    assert stats["completed"] >= 1 and stats["totalJobs"] >= stats["completed"] + stats["failed"]
    assert isinstance(stats["avgProcessingTime"], NUMBER) and stats["avgProcessingTime"] > 0
    # Gigabytes, as the document counts storage.
    assert isinstance(stats["totalStorageUsed"], NUMBER) and 0 < stats["totalStorageUsed"] < 10

    restarted = admin.request("POST", "/api/jobs/admin/restart-failed")
    assert re.fullmatch(r"\d+ failed jobs restarted", restarted["message"])
    assert isinstance(restarted["jobIds"], list)
    assert int(restarted["message"].split()[0]) == len(restarted["jobIds"])

    cleaned = admin.request("DELETE", "/api/jobs/admin/cleanup-old", params={"days": 90})
    assert re.fullmatch(r"\d+ old jobs deleted", cleaned["message"])
    assert isinstance(cleaned["freedSpace"], NUMBER) and cleaned["freedSpace"] >= 0
    # Nothing here is 90 days old: the story's job stays.
    assert admin.request("GET", f"/api/jobs/{job['id']}").get("job", {}).get("id") == job["id"]


# The document's error handling: every error answer carries `error`, the message a person reads.


@pytest.mark.parametrize(
    ("method", "path", "body", "expected_status"),
    [
        ("GET", "/api/gallery/videos/no-such-video", None, 404),  # a service's NOT_FOUND
        ("POST", "/api/upload/generate-url", {"contentType": "video/mp4"}, 400),  # Filename is required
        ("GET", "/api/gallery/videos?orderBy=views", None, 400),  # a message with quotes in it
        ("GET", "/api/jobs", None, 401),  # the edge's own reply: no token
        ("GET", "/api/no/such/route", None, 404),  # the edge's own reply: no route
    ],
)
def test_errors_carry_the_documented_error_field(
    platform: RunningPlatform, method: str, path: str, body: dict[str, Any] | None, expected_status: int
) -> None:
    headers = {} if expected_status == 401 else {"Authorization": f"Bearer {new_user(platform).token}"}
    reply = httpx.request(method, f"{platform.url}{path}", json=body, headers=headers)
    assert reply.status_code == expected_status, reply.text
    answer = reply.json()
    assert isinstance(answer["error"], str) and answer["error"]
    # Added beside the resource-oriented fields, never in their place.
    assert answer["error"] == answer["message"]
    assert isinstance(answer["code"], int)
