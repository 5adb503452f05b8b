"""Many people at once: the gallery, accounts and administration, with authorization that holds."""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.platform import RunningPlatform
from tests.media_factory import MediaFactory
from videoforge.client.edge import ApiError, EdgeClient

pytestmark = pytest.mark.e2e
PASSWORD = "gallery-pass-1"


def new_user(platform: RunningPlatform, prefix: str = "user") -> EdgeClient:
    client = EdgeClient(platform.url)
    client.register(f"{prefix}-{uuid.uuid4().hex[:8]}@example.com", PASSWORD)
    return client


def status_of(client: EdgeClient, method: str, path: str, **kwargs: Any) -> int:
    try:
        client.request(method, path, **kwargs)
    except ApiError as error:
        return error.status
    return 200


@pytest.fixture(scope="module")
def alice(platform: RunningPlatform) -> EdgeClient:
    return new_user(platform, "alice")


@pytest.fixture(scope="module")
def bob(platform: RunningPlatform) -> EdgeClient:
    return new_user(platform, "bob")


@pytest.fixture(scope="module")
def admin(platform: RunningPlatform) -> EdgeClient:
    return platform.admin_client(PASSWORD)


@pytest.fixture(scope="module")
async def private_video(alice: EdgeClient, media_factory: MediaFactory) -> dict[str, Any]:
    """Alice's private, ready video with a finished job."""
    video = alice.upload(await media_factory.tiny(), title="Alice private", visibility="private")
    job = alice.wait_for_job(video["latestJob"]["jobId"], timeout=120)
    assert job["status"] == "COMPLETED", job
    assets = alice.request("GET", f"/api/jobs/{job['id']}/assets")["assets"]
    return {"video": video, "job": job, "asset": assets[0]}


def test_another_users_private_video_is_not_found_on_every_route(
    bob: EdgeClient, private_video: dict[str, Any]
) -> None:
    video_id, job_id = private_video["video"]["id"], private_video["job"]["id"]
    missing_video, missing_job = uuid.uuid4().hex[:24], uuid.uuid4().hex[:24]
    routes = [
        ("GET", "/api/gallery/videos/{v}", {}),
        ("PUT", "/api/gallery/videos/{v}", {"json": {"title": "mine"}}),
        ("DELETE", "/api/gallery/videos/{v}", {}),
        ("GET", "/api/stream/{v}", {}),
        ("GET", "/api/stream/{v}/qualities", {}),
        ("GET", "/api/stream/{v}/playback", {}),
        ("GET", "/api/stream/{v}/thumbnail", {}),
        ("GET", "/api/jobs/{j}", {}),
        ("GET", "/api/jobs/{j}/assets", {}),
        ("GET", "/api/jobs/{j}/assets/{a}/download", {}),
        ("POST", "/api/jobs/{j}/cancel", {"json": {}}),
        ("POST", "/api/jobs", {"json": {"videoId": "{v}"}}),
    ]
    for method, template, kwargs in routes:
        real = template.format(v=video_id, j=job_id, a=private_video["asset"]["id"])
        fake = template.format(v=missing_video, j=missing_job, a="nope")
        body = kwargs.get("json")
        real_kwargs = (
            {"json": {k: v.format(v=video_id) if isinstance(v, str) else v for k, v in body.items()}} if body else {}
        )
        fake_kwargs = (
            {"json": {k: v.format(v=missing_video) if isinstance(v, str) else v for k, v in body.items()}}
            if body
            else {}
        )
        assert status_of(bob, method, real, **real_kwargs) == 404, (method, template)
        assert status_of(bob, method, fake, **fake_kwargs) == 404, (method, template)


def test_anonymous_callers_reach_only_public_reads(platform: RunningPlatform, private_video: dict[str, Any]) -> None:
    anonymous = EdgeClient(platform.url)
    assert status_of(anonymous, "GET", "/api/gallery/videos") == 200
    assert status_of(anonymous, "GET", f"/api/gallery/videos/{private_video['video']['id']}") == 404
    assert status_of(anonymous, "GET", "/api/gallery/my-videos") == 401
    assert status_of(anonymous, "POST", "/api/jobs", json={"videoId": private_video["video"]["id"]}) == 401
    assert status_of(anonymous, "POST", "/api/upload/url", json={"filename": "a.mp4", "contentType": "video/mp4",
                                                                 "size": 5}) == 401  # fmt: skip


def test_only_the_owner_or_an_admin_changes_a_public_video(
    alice: EdgeClient, bob: EdgeClient, admin: EdgeClient, private_video: dict[str, Any]
) -> None:
    video_id = private_video["video"]["id"]
    alice.request("PUT", f"/api/gallery/videos/{video_id}", json={"visibility": "public"})
    assert status_of(bob, "PUT", f"/api/gallery/videos/{video_id}", json={"title": "hijacked"}) == 403
    assert status_of(bob, "DELETE", f"/api/gallery/videos/{video_id}") == 403
    renamed = admin.request("PUT", f"/api/gallery/videos/{video_id}", json={"title": "Renamed by admin"})
    assert renamed["title"] == "Renamed by admin" and renamed["visibility"] == "public"
    alice.request(
        "PUT", f"/api/gallery/videos/{video_id}", params={"updateMask": "visibility"}, json={"visibility": "private"}
    )
    assert alice.request("GET", f"/api/gallery/videos/{video_id}")["title"] == "Renamed by admin"


def test_update_refuses_unknown_fields_and_bad_visibility(alice: EdgeClient, private_video: dict[str, Any]) -> None:
    path = f"/api/gallery/videos/{private_video['video']['id']}"
    assert status_of(alice, "PUT", path, json={"visibility": "friends-only"}) == 400
    assert status_of(alice, "PUT", path, params={"updateMask": "viewCount"}, json={}) == 400


async def test_concurrent_views_are_all_counted(platform: RunningPlatform, alice: EdgeClient) -> None:
    video = await asyncio.to_thread(_public_video_without_transcode, alice, platform)
    before = alice.request("GET", f"/api/gallery/videos/{video}")["views"]
    async with httpx.AsyncClient(base_url=platform.url, timeout=30) as http:
        replies = await asyncio.gather(*(http.get(f"/api/gallery/videos/{video}") for _ in range(100)))
    assert all(r.status_code == 200 for r in replies)
    after = alice.request("GET", f"/api/gallery/videos/{video}")["views"]
    assert after == before + 1 + 100


def _public_video_without_transcode(client: EdgeClient, platform: RunningPlatform) -> str:
    """A video record is all views need."""
    clip = asyncio.run(MediaFactory(Path(tempfile.mkdtemp())).tiny())
    grant = client.request("POST", "/api/upload/url", json={"filename": "v.mp4", "contentType": "video/mp4",
                                                            "size": clip.stat().st_size})  # fmt: skip
    httpx.put(grant["uploadUrl"], content=clip.read_bytes(), headers=grant["headers"]).raise_for_status()
    return client.request(
        "POST", "/api/upload/confirm", json={"s3Key": grant["s3Key"], "title": "Counted", "formats": ["mobile"]}
    )["id"]


async def test_unlisted_plays_by_link_but_never_lists_and_search_finds_by_words(
    platform: RunningPlatform, alice: EdgeClient, bob: EdgeClient, media_factory: MediaFactory
) -> None:
    word = f"zebra{uuid.uuid4().hex[:6]}"
    unlisted = alice.upload(await media_factory.tiny(), title=f"Hidden {word}", visibility="unlisted")
    listed = alice.upload(await media_factory.tiny(), title="Shown", description=f"about a {word} crossing")
    alice.wait_for_job(unlisted["latestJob"]["jobId"], timeout=120)
    alice.wait_for_job(listed["latestJob"]["jobId"], timeout=120)
    found = bob.request("GET", "/api/gallery/videos", params={"search": word})
    assert [v["id"] for v in found["videos"]] == [listed["id"]]
    assert bob.request("GET", f"/api/gallery/videos/{unlisted['id']}")["title"].startswith("Hidden")
    assert bob.request("GET", f"/api/stream/{unlisted['id']}/playback")["hlsUrl"]
    own = alice.request("GET", "/api/gallery/videos", params={"search": word})
    assert {v["id"] for v in own["videos"]} == {listed["id"], unlisted["id"]}


def test_pages_are_newest_first_with_totals(platform: RunningPlatform, alice: EdgeClient) -> None:
    page1 = alice.request("GET", "/api/gallery/my-videos", params={"page": 1, "limit": 2})
    assert page1["pagination"]["limit"] == 2 and len(page1["videos"]) <= 2
    total = page1["pagination"]["total"]
    assert page1["pagination"]["totalPages"] == -(-total // 2)
    times = [v["createTime"] for v in page1["videos"]]
    assert times == sorted(times, reverse=True)
    if page1.get("nextPageToken"):
        page2 = alice.request(
            "GET", "/api/gallery/my-videos", params={"pageSize": 2, "pageToken": page1["nextPageToken"]}
        )
        assert not {v["id"] for v in page2["videos"]} & {v["id"] for v in page1["videos"]}
    by_views = alice.request("GET", "/api/gallery/videos", params={"orderBy": "view_count desc", "limit": 50})
    views = [v["views"] for v in by_views["videos"]]
    assert views == sorted(views, reverse=True)
    assert status_of(alice, "GET", "/api/gallery/videos", params={"orderBy": "title"}) == 400


def test_refresh_rotates_tokens_and_logout_revokes_them(platform: RunningPlatform) -> None:
    client = EdgeClient(platform.url)
    session = client.register(f"sess-{uuid.uuid4().hex[:8]}@example.com", PASSWORD)
    renewed = client.request("POST", "/api/auth/refresh", json={"refreshToken": session["refreshToken"]})
    assert renewed["accessToken"] and renewed["refreshToken"] != session["refreshToken"]
    assert status_of(client, "POST", "/api/auth/refresh", json={"refreshToken": session["refreshToken"]}) == 401
    client.request("POST", "/api/auth/logout", json={"refreshToken": renewed["refreshToken"]})
    assert status_of(client, "POST", "/api/auth/refresh", json={"refreshToken": renewed["refreshToken"]}) == 401


def test_change_password_needs_the_current_one(platform: RunningPlatform) -> None:
    email = f"pw-{uuid.uuid4().hex[:8]}@example.com"
    client = EdgeClient(platform.url)
    client.register(email, PASSWORD)
    wrong = {"currentPassword": "not-it-123", "newPassword": "brand-new-pass-2"}
    assert status_of(client, "POST", "/api/auth/change-password", json=wrong) == 401
    weak = {"currentPassword": PASSWORD, "newPassword": "short"}
    assert status_of(client, "POST", "/api/auth/change-password", json=weak) == 400
    client.request(
        "POST", "/api/auth/change-password", json={"currentPassword": PASSWORD, "newPassword": "brand-new-pass-2"}
    )
    assert (
        status_of(EdgeClient(platform.url), "POST", "/api/auth/login", json={"email": email, "password": PASSWORD})
        == 401
    )
    EdgeClient(platform.url).login(email, "brand-new-pass-2")


def test_admin_routes_are_forbidden_to_users_and_work_for_admins(
    bob: EdgeClient, admin: EdgeClient, private_video: dict[str, Any]
) -> None:
    admin_routes = [
        ("GET", "/api/jobs/admin/all"),
        ("GET", "/api/jobs/admin/stats"),
        ("POST", "/api/jobs/admin/restart-failed"),
        ("DELETE", "/api/jobs/admin/cleanup-old?days=3"),
    ]
    for method, path in admin_routes:
        kwargs = {"json": {}} if method == "POST" else {}
        assert status_of(bob, method, path, **kwargs) == 403, path
    everyone = admin.request("GET", "/api/jobs/admin/all", params={"limit": 100})
    assert private_video["job"]["id"] in [j["id"] for j in everyone["jobs"]]
    owner = private_video["video"]["ownerId"]
    only_alice = admin.request("GET", "/api/jobs/admin/all", params={"filter": f"user={owner}"})
    assert {j["userId"] for j in only_alice["jobs"]} == {owner}
    stats = admin.request("GET", "/api/jobs/admin/stats")
    assert stats["jobsByState"]["COMPLETED"] >= 1 and int(stats["storageBytes"]) > 0
    assert admin.request("DELETE", "/api/jobs/admin/cleanup-old", params={"days": 1}).get("deletedJobs", 0) >= 0


async def test_deleting_a_video_removes_its_objects_even_mid_transcode(
    platform: RunningPlatform, alice: EdgeClient, admin: EdgeClient, media_factory: MediaFactory
) -> None:
    before = int(admin.request("GET", "/api/jobs/admin/stats")["storageBytes"])
    video = alice.upload(await media_factory.long_360p(minutes=1), title="deleted while transcoding")
    for job in alice.watch_job(video["latestJob"]["jobId"], timeout=120):
        if job["status"] == "PROCESSING":
            break
    alice.request("DELETE", f"/api/gallery/videos/{video['id']}")
    assert status_of(alice, "GET", f"/api/gallery/videos/{video['id']}") == 404
    assert status_of(alice, "GET", f"/api/jobs/{video['latestJob']['jobId']}") == 404
    # The worker learns of it on its next report (about a second) and deletes what it wrote.
    await asyncio.sleep(3)
    after = int(admin.request("GET", "/api/jobs/admin/stats")["storageBytes"])
    assert after <= before
