"""Live job watches are bounded, through the edge as clients meet them: a user past the cap of concurrent watches
gets HTTP 429, and a stream ends cleanly after its lifetime while `videoforge jobs watch` resumes to the end.

A platform of its own with a cap of 2 watches and a 5 s lifetime. Its worker is paused while a test needs a job
that stays PENDING.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.platform import RunningPlatform, start_platform, stop_platform
from tests.media_factory import MediaFactory
from tests.waiting import wait_until
from videoforge.client.edge import EdgeClient
from videoforge.platform.ports import free_port

pytestmark = pytest.mark.e2e
PASSWORD = "watch-pass-word-1"
CAP, LIFETIME_SECONDS = 2, 5.0


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    environment = {"WATCH_STREAMS_PER_USER": str(CAP), "WATCH_STREAM_MAX_SECONDS": str(LIFETIME_SECONDS)}
    running = start_platform(tmp_path_factory.mktemp("vf-watch"), free_port(), environment=environment)
    try:
        yield running
    finally:
        stop_platform(running.process)


@contextlib.contextmanager
def worker_paused(platform: RunningPlatform) -> Iterator[None]:
    (worker,) = platform.children_running("worker")
    worker.suspend()
    try:
        yield
    finally:
        worker.resume()


def new_user(platform: RunningPlatform) -> tuple[EdgeClient, str]:
    client, email = EdgeClient(platform.url), f"watch-{uuid.uuid4().hex[:8]}@example.com"
    client.register(email, PASSWORD)
    return client, email


@dataclass
class Watch:
    reply: httpx.Response
    # Held for the stream's life: the line iterator closes the connection when it is dropped.
    lines: Iterator[str]

    def next_job(self) -> dict[str, Any]:
        return json.loads(next(line for line in self.lines if line.strip()))


@contextlib.contextmanager
def open_watch(client: EdgeClient, job_id: str) -> Iterator[Watch]:
    headers = {"Authorization": f"Bearer {client.token}"}
    with httpx.stream("GET", f"{client.base_url}/api/jobs/{job_id}/watch", headers=headers, timeout=30) as reply:
        yield Watch(reply, reply.iter_lines())


async def test_a_user_past_the_watch_cap_gets_429_until_a_watch_closes(
    platform: RunningPlatform, media_factory: MediaFactory
) -> None:
    client, _ = new_user(platform)
    with worker_paused(platform):
        job_id = client.upload(await media_factory.tiny(), title="capped")["latestJob"]["jobId"]
        with open_watch(client, job_id) as first, open_watch(client, job_id) as second:
            assert first.next_job()["status"] == second.next_job()["status"] == "PENDING"
            with open_watch(client, job_id) as refused:
                refused.reply.read()
            assert refused.reply.status_code == 429, refused.reply.text
            assert "At most 2 jobs can be watched at once" in refused.reply.json()["message"]
        # Closing a watch gives its slot back as soon as the job service hears the stream close.

        def watch_again() -> bool:
            with open_watch(client, job_id) as again:
                return again.reply.status_code == 200 and again.next_job()["id"] == job_id

        wait_until(watch_again, 10, step=0.2)


async def test_a_watch_ends_after_its_lifetime_and_the_cli_resumes_until_the_job_ends(
    platform: RunningPlatform, media_factory: MediaFactory, tmp_path: Path
) -> None:
    client, email = new_user(platform)
    with worker_paused(platform):
        job_id = client.upload(await media_factory.tiny(), title="resumed")["latestJob"]["jobId"]
        started = time.monotonic()
        with open_watch(client, job_id) as watch:
            lines = [json.loads(line) for line in watch.lines if line.strip()]
        lasted = time.monotonic() - started
        assert watch.reply.status_code == 200 and [job["status"] for job in lines] == ["PENDING"], lines
        assert 0.9 * LIFETIME_SECONDS - 0.5 <= lasted <= LIFETIME_SECONDS + 5, lasted

        environment = {**os.environ, "VIDEOFORGE_CONFIG_DIR": str(tmp_path)}
        cli = [sys.executable, "-m", "videoforge"]
        login = [*cli, "login", "--email", email, "--password", PASSWORD, "--server", platform.url]
        subprocess.run(login, env=environment, check=True, capture_output=True, timeout=60)
        watching = subprocess.Popen(
            [*cli, "jobs", "watch", job_id], env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        # Past two lifetimes of its stream while the job still waits: the command must have resumed.
        time.sleep(2 * LIFETIME_SECONDS + 1)
        assert watching.poll() is None, watching.communicate()[0]
    output = watching.communicate(timeout=180)[0].decode(errors="replace")
    assert watching.returncode == 0 and f"Job {job_id}: COMPLETED" in output, output
