"""Jobs are never lost or stuck: cancelled, killed and poisoned jobs end where they should."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import psutil
import pytest
from pgserver._commands import pg_ctl

from tests.fixtures.platform import RunningPlatform
from tests.media_factory import MediaFactory
from tests.waiting import wait_until
from videoforge.client.edge import ApiError, EdgeClient

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def client(platform: RunningPlatform) -> EdgeClient:
    edge = EdgeClient(platform.url)
    edge.register(f"reliable-{uuid.uuid4().hex[:8]}@example.com", "reliable-pass-1")
    return edge


def ffmpeg_processes(platform: RunningPlatform) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if "ffmpeg" in (proc.info["name"] or "") and str(platform.data_dir) in cmdline:
            found.append(proc)
    return found


def job_when(client: EdgeClient, job_id: str, accept: Callable[[dict[str, Any]], bool], timeout: float) -> dict:
    for job in client.watch_job(job_id, timeout=timeout):
        if accept(job):
            return job
    raise AssertionError("the job ended before reaching the awaited state")


async def test_cancel_stops_ffmpeg_within_seconds(
    platform: RunningPlatform, client: EdgeClient, media_factory: MediaFactory
) -> None:
    video = client.upload(await media_factory.long_360p(minutes=3), title="long, then cancelled")
    job_id = video["latestJob"]["jobId"]
    job_when(client, job_id, lambda j: j["status"] == "PROCESSING" and j["progress"] >= 8, timeout=120)
    assert ffmpeg_processes(platform), "FFmpeg should be encoding now"
    cancelled_at = time.monotonic()
    assert client.request("POST", f"/api/jobs/{job_id}/cancel", json={})["status"] == "CANCELLED"
    wait_until(lambda: not ffmpeg_processes(platform), timeout=5)
    assert time.monotonic() - cancelled_at < 5
    assert client.request("GET", f"/v1/jobs/{job_id}")["status"] == "CANCELLED"
    assert client.request("GET", f"/api/gallery/videos/{video['id']}")["status"] == "uploaded"


async def test_a_killed_worker_loses_nothing_and_the_job_completes(
    platform: RunningPlatform, client: EdgeClient, media_factory: MediaFactory
) -> None:
    video = client.upload(await media_factory.long_360p(minutes=1), title="survives a crash")
    job_id = video["latestJob"]["jobId"]
    job_when(client, job_id, lambda j: j["status"] == "PROCESSING" and j["progress"] >= 5, timeout=120)
    growing = wait_until(lambda: watchable(client, video["id"]), timeout=60)
    assert growing["live"] and "/attempt-1/" in growing["hlsUrl"]
    workers = platform.children_running("worker")
    assert len(workers) == 1
    workers[0].kill()
    # FFmpeg dies with its parent, and the supervisor starts a new worker.
    wait_until(lambda: not ffmpeg_processes(platform), timeout=5)
    final = client.wait_for_job(job_id, timeout=180)
    assert final["status"] == "COMPLETED", final
    assert final["attempt"] >= 2
    assert client.wait_for_video(video["id"], job_id)["status"] == "ready"
    # The killed attempt's partial output is not what the video plays from, and is gone.
    playing = client.request("GET", f"/api/stream/{video['id']}/playback")
    assert not playing.get("live") and f"/attempt-{final['attempt']}/" in playing["hlsUrl"]
    assert httpx.get(growing["hlsUrl"]).status_code == 404


def watchable(client: EdgeClient, video_id: str) -> dict[str, Any] | None:
    try:
        return dict(client.request("GET", f"/api/stream/{video_id}/playback"))
    except ApiError as error:
        assert error.reason == "NOT_READY", error
        return None


async def test_a_file_that_decodes_short_fails_at_once_with_its_reason(
    client: EdgeClient, media_factory: MediaFactory
) -> None:
    video = client.upload(await media_factory.cut_short_mp4(), title="cut short")
    final = client.wait_for_job(video["latestJob"]["jobId"], timeout=120)
    assert final["status"] == "FAILED"
    assert final["attempt"] == 1, "bad media is not retried"
    assert final["error"]["code"] == 3 and "ends early" in final["error"]["message"]
    shown = client.wait_for_video(video["id"], final["id"])
    assert shown["status"] == "failed" and "ends early" in shown["latestJob"]["errorMessage"]


async def test_a_database_restart_mid_job_loses_nothing(
    platform: RunningPlatform, client: EdgeClient, media_factory: MediaFactory
) -> None:
    video = client.upload(await media_factory.long_360p(minutes=1), title="survives a database restart")
    job_id = video["latestJob"]["jobId"]
    job_when(client, job_id, lambda j: j["status"] == "PROCESSING" and j["progress"] >= 5, timeout=120)
    pgdata = platform.data_dir / "postgres"
    pg_ctl(["-w", "-m", "fast", "restart"], pgdata=pgdata, user="pgserver")
    final = client.wait_for_job(job_id, timeout=180)
    assert final["status"] == "COMPLETED", final
    assert client.wait_for_video(video["id"], job_id)["status"] == "ready"
    assert client.request("GET", "/api/gallery/my-videos")["pagination"]["total"] >= 1


async def test_a_video_hears_of_its_finished_job_after_the_gallery_was_unreachable(
    platform: RunningPlatform, client: EdgeClient, media_factory: MediaFactory
) -> None:
    video = client.upload(await media_factory.long_360p(minutes=1), title="told later")
    job_id = video["latestJob"]["jobId"]
    job_when(client, job_id, lambda j: j["status"] == "PROCESSING" and j["progress"] >= 5, timeout=120)
    (gallery,) = platform.children_running("serve", "gallery")
    gallery.suspend()
    try:
        final = wait_until(
            lambda: (j := client.request("GET", f"/v1/jobs/{job_id}"))["status"] in ("COMPLETED", "FAILED") and j,
            timeout=180,
            step=1,
        )
        assert final["status"] == "COMPLETED", final
    finally:
        gallery.resume()
    shown = wait_until(
        lambda: (v := client.request("GET", f"/api/gallery/videos/{video['id']}"))["status"] == "ready" and v,
        timeout=30,
        step=1,
    )
    assert shown["latestJob"]["state"] == "COMPLETED" and shown["thumbnailUrl"]
