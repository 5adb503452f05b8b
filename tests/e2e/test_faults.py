"""Faults the platform must ride out without losing a job or deleting what a video plays from, on the real
parts: a reply lost after the job service committed, the job service killed between commit and reply, the
object store restarted mid-job, a full scratch disk, and a job restarted after it was dead-lettered.

A platform of its own (two deliveries per job, so a dead letter comes quickly); where a test needs to stand
between a worker and the job service, it runs its own worker through a fault proxy while the platform's worker
is paused.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import m3u8
import psutil
import pytest

from tests.fixtures.fault_proxy import FaultProxy
from tests.fixtures.mesh_pki import MeshPki
from tests.fixtures.platform import RunningPlatform, start_platform, stop_platform
from tests.media_factory import MediaFactory
from tests.waiting import wait_until
from videoforge.client.edge import FINAL_JOB_STATES, ApiError, EdgeClient
from videoforge.kit.mesh_tls import JOB, WORKER
from videoforge.platform.mesh_certificates import mesh_directory
from videoforge.platform.ports import free_port

pytestmark = pytest.mark.e2e
PASSWORD = "fault-pass-word-1"


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    running = start_platform(tmp_path_factory.mktemp("vf-faults"), free_port(), environment={"QUEUE_MAX_ATTEMPTS": "2"})
    try:
        yield running
    finally:
        stop_platform(running.process)


@pytest.fixture(scope="module")
def client(platform: RunningPlatform) -> EdgeClient:
    edge = EdgeClient(platform.url)
    edge.register(f"faults-{uuid.uuid4().hex[:8]}@example.com", PASSWORD)
    return edge


@contextlib.contextmanager
def own_worker(platform: RunningPlatform, *, data_dir: Path | None = None, **overrides: str) -> Iterator[None]:
    """A worker of the test's, with the platform worker's settings but `overrides`; the platform's own worker is
    paused meanwhile so that this one takes the job."""
    (platform_worker,) = platform.children_running("worker")
    environment = {**platform_worker.environ(), **overrides}
    if data_dir is not None:
        environment["VIDEOFORGE_DATA_DIR"] = str(data_dir)
    platform_worker.suspend()
    worker = subprocess.Popen([sys.executable, "-m", "videoforge", "worker"], env=environment)
    try:
        yield
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
        platform_worker.resume()


@contextlib.contextmanager
def proxied_job_service(platform: RunningPlatform) -> Iterator[FaultProxy]:
    pki = MeshPki.made_in(mesh_directory(platform.data_dir))
    proxy = FaultProxy(platform.service_address("job"), pki, server=JOB, caller=WORKER).start()
    try:
        yield proxy
    finally:
        proxy.stop()


def first_and_last_segments_play(client: EdgeClient, video_id: str) -> bool:
    """The first and last media segment of every rendition answer 200 through the edge with their grant."""
    playback = client.request("GET", f"/api/stream/{video_id}/playback")
    master = m3u8.loads(httpx.get(playback["hlsUrl"], timeout=30).raise_for_status().text)
    for variant in master.playlists:
        segments = m3u8.loads(httpx.get(variant.uri, timeout=30).raise_for_status().text).segments
        for segment in (segments[0], segments[-1]):
            if httpx.get(segment.absolute_uri or segment.uri, timeout=30).status_code != 200:
                return False
    return bool(master.playlists)


def final_job(client: EdgeClient, job_id: str, timeout: float) -> dict[str, Any]:
    """Polls the job until it is final, through restarts of the services on the way (which a watch stream
    does not outlive)."""

    def read() -> dict[str, Any] | None:
        try:
            job = client.request("GET", f"/v1/jobs/{job_id}")
        except (ApiError, httpx.HTTPError):
            return None
        return job if job["status"] in FINAL_JOB_STATES else None

    return wait_until(read, timeout, step=0.5)


def kill(process: psutil.Process) -> None:
    process.kill()
    process.wait(10)


@pytest.mark.parametrize("fault", ["reply lost", "job service killed"])
async def test_a_completion_whose_reply_never_came_back_still_publishes_once(
    platform: RunningPlatform, client: EdgeClient, media_factory: MediaFactory, fault: str
) -> None:
    with proxied_job_service(platform) as proxy, own_worker(platform, JOB_ADDRESS=proxy.address):
        if fault == "job service killed":
            (job_service,) = platform.children_running("serve", "job")
            proxy.lose_next_reply("CompleteAttempt", before=lambda: kill(job_service))
        else:
            proxy.lose_next_reply("CompleteAttempt")
        video = client.upload(await media_factory.tiny(), title=f"completion {fault}")
        job = final_job(client, video["latestJob"]["jobId"], timeout=120)
        # The job completed with the first call; the worker, which never heard so, asks again and is told OK.
        wait_until(lambda: proxy.calls.count("CompleteAttempt") >= 2, timeout=60)
        time.sleep(1)
    assert job["status"] == "COMPLETED" and job["attempt"] == 1, job
    assert proxy.calls.count("DiscardAttempt") == 0, "nothing was thrown away"
    assert client.wait_for_video(video["id"], job["id"])["status"] == "ready"
    assert first_and_last_segments_play(client, video["id"])


async def test_the_object_store_restarted_mid_job_loses_nothing(
    platform: RunningPlatform, client: EdgeClient, media_factory: MediaFactory
) -> None:
    video = client.upload(await media_factory.long_360p(minutes=1), title="store restarted")
    job_id = video["latestJob"]["jobId"]
    for job in client.watch_job(job_id, timeout=120):
        if job["status"] == "PROCESSING":
            break
    (store,) = [p for p in psutil.Process(platform.process.pid).children(recursive=True) if p.name() == "weed"]
    kill(store)
    final = final_job(client, job_id, timeout=240)
    assert final["status"] == "COMPLETED", final
    assert first_and_last_segments_play(client, video["id"])


async def test_a_full_scratch_disk_fails_the_attempt_as_retryable_and_publishes_nothing_half_done(
    platform: RunningPlatform, client: EdgeClient, media_factory: MediaFactory, tmp_path: Path
) -> None:
    clip = await media_factory.long_360p(minutes=1)
    scratch = tmp_path / "small-disk"
    scratch.mkdir()
    # Room for the source and a little more: the encode runs out of space part way.
    size = clip.stat().st_size + 512 * 1024
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(scratch)]).returncode != 0:
        pytest.skip("mounting a small tmpfs needs root; the disk-full case cannot be made here")
    try:
        with own_worker(platform, data_dir=scratch):
            video = client.upload(clip, title="disk full")
            job_id = video["latestJob"]["jobId"]
            failed = wait_until(
                lambda: (
                    (j := client.request("GET", f"/v1/jobs/{job_id}"))["attempt"] >= 1
                    and j["status"] in ("PENDING", "FAILED")
                    and j
                ),
                timeout=120,
            )
    finally:
        subprocess.run(["umount", "-l", str(scratch)], check=False)
    assert failed["status"] == "PENDING", f"retryable, never the file's fault: {failed}"
    assert client.request("GET", f"/api/gallery/videos/{video['id']}")["status"] != "ready"
    # The platform's own worker, with room to work, takes the retry and finishes it.
    final = client.wait_for_job(job_id, timeout=180)
    # The small-disk worker may fail the job again before it stops, so the retry that completes can be any later one.
    assert final["status"] == "COMPLETED" and final["attempt"] >= 2, final
    assert first_and_last_segments_play(client, video["id"])
    # The segments the failed attempts uploaded as they went (their growing presentations) go once the job completes.
    bucket = platform.blob_store()
    for attempt in range(1, final["attempt"]):
        assert await bucket.list(f"videos/{video['id']}/jobs/{job_id}/attempt-{attempt}/") == [], attempt


async def test_restart_failed_after_a_dead_letter_runs_the_job_again_to_completion(
    platform: RunningPlatform, client: EdgeClient, media_factory: MediaFactory, tmp_path: Path
) -> None:
    clip = await media_factory.tiny()
    admin = platform.admin_client(PASSWORD)
    bucket = platform.blob_store()
    (platform_worker,) = platform.children_running("worker")
    platform_worker.suspend()  # the source goes missing before any worker reads it
    try:
        video = client.upload(clip, title="dead letter, then restarted")
        source_key = client.request("GET", f"/api/gallery/videos/{video['id']}")["s3Key"]
        await bucket.delete(source_key)
    finally:
        platform_worker.resume()
    job_id = video["latestJob"]["jobId"]
    failed = client.wait_for_job(job_id, timeout=120)
    assert failed["status"] == "FAILED" and failed["attempt"] == 2, failed

    await bucket.upload_file(clip, source_key, "video/mp4")
    assert job_id in admin.request("POST", "/api/jobs/admin/restart-failed", json={})["jobIds"]
    final = client.wait_for_job(job_id, timeout=120)
    assert final["status"] == "COMPLETED" and final["attempt"] == 3, final
    time.sleep(6)  # a sweep of the dead letters has run since
    assert client.request("GET", f"/v1/jobs/{job_id}")["status"] == "COMPLETED"
    assert first_and_last_segments_play(client, video["id"])
