"""Chaos benchmark: jobs transcode while workers, services and the object store are SIGKILLed at random.

    .venv/bin/python -m bench.chaos --jobs 20 --kills 200 [--backend postgres|sqs|both] [--seed N]
    .venv/bin/python -m bench.chaos --jobs 2 --kills 4        # smoke: a minute or two

Each backend gets its own platform, started the way a user starts it (`videoforge up --workers 2` on a fresh
data directory, with a 6 s queue lease so a killed worker's job is rescued quickly); the SQS backend also
gets its own moto server with a queue and a dead-letter queue. One user uploads `--jobs` short 480p clips
through the edge; then, one kill every `--gap` seconds, a seeded RNG picks a component that is running and
serving (a transcoder worker, the job, gallery or streaming service, or SeaweedFS) and SIGKILLs it.
`videoforge up` restarts what died, with backoff. The kills stop after `--kills` kills, once every job is
final, or after `--chaos-seconds`; then every job gets `--settle-seconds` to become final, and the run is
measured from outside, through the edge and the bucket (read with the data directory's S3 credentials):

- lost: uploads whose video is gone or has no job, or whose job is gone (GET /v1/jobs/{id} is 404).
- duplicate publishes: jobs with more than one complete output set in the bucket, plus videos whose
  published output changed once it was first seen. An output set is an attempt prefix
  (`videos/{video}/jobs/{job}/attempt-{n}/`); it is complete when it holds an HLS master playlist and
  every media playlist, init segment and media segment that master leads to. The published output is
  the attempt named by the signed HLS URL of GET /api/stream/{video}/playback, sampled every poll once
  the job is COMPLETED and again at the end.
- orphans: attempt prefixes holding objects, once every job is final, that are not the output of their
  job's COMPLETED attempt (the prefix of the keys GET /v1/jobs/{id}/assets names). Every attempt prefix
  of a job that did not complete is an orphan.
- stuck: jobs not COMPLETED, FAILED or CANCELLED when the settle time ran out.
- playable: videos whose signed HLS master answers, and whose first and last media segment of every
  rendition (video variants and audio) answer 200 through the edge's /media/ route.
- recovery p95: per kill, the seconds until the component is back and serving. A worker is back when a
  worker process started after the kill exists (each new process answers one kill, oldest first); a
  service when a call through the edge that only it answers succeeds (gallery: the public list; job: the
  first job; streaming: a manifest path it refuses as BAD_PATH); SeaweedFS when it lists the bucket and reads an object.

Targets (printed beside the figures): 0 lost / 0 duplicate publishes / 0 orphans / 0 stuck / N of N
playable. Jobs that ended FAILED (say, after the queue's last attempt) are counted and their errors shown;
they are not playable. The command exits 0 whatever the figures; non-zero only when it could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import logging
import os
import random
import re
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin

import boto3
import httpx
import m3u8
import psutil
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from tests.fixtures.platform import RunningPlatform, start_platform, stop_platform
from tests.fixtures.sqs import moto_sqs_server
from tests.media_factory import MediaFactory
from videoforge.client.edge import FINAL_JOB_STATES, ApiError, EdgeClient
from videoforge.platform.keys import ensure_local_secrets
from videoforge.platform.ports import free_port
from videoforge.queue.sqs import ensure_queues

log = logging.getLogger("bench.chaos")

WORKERS = 2
COMPONENTS = ("worker", "job", "gallery", "streaming", "seaweedfs")
# The tail of each supervised child's command line (`python -m videoforge serve job`); SeaweedFS is `weed ...`.
ARGV_TAILS = {
    "worker": ("worker",),
    "job": ("serve", "job"),
    "gallery": ("serve", "gallery"),
    "streaming": ("serve", "streaming"),
}
# One user and a few hundred polls a minute: far above the edge's per-client limits, which this does not measure.
PLATFORM_ENVIRONMENT = {
    "EDGE_RATE_LIMIT_PER_MINUTE": "1000000",
    "EDGE_MEDIA_RATE_LIMIT_PER_MINUTE": "1000000",
}
CLIP_WIDTH, CLIP_HEIGHT = 854, 480  # two rungs (480p, 360p) plus audio
CLIP_SECONDS = (3, 4, 5)
POLL_SECONDS = 2.0
TICK_SECONDS = 0.1
PROBE_TIMEOUT_SECONDS = 2.0
RECOVERY_WAIT_SECONDS = 120.0
ATTEMPT_KEY = re.compile(r"^(videos/[^/]+/jobs/([^/]+)/attempt-\d+/)(.*)$")
PUBLISHED_ATTEMPT = re.compile(r"/manifest/(jobs/[^/]+/attempt-\d+/)")
HLS_MASTER_KIND = "KIND_HLS_MASTER"
MASTER_NAME = "master.m3u8"


@dataclass(frozen=True)
class Upload:
    video_id: str
    job_id: str


@dataclass
class Kill:
    component: str
    pid: int
    at: float  # wall clock, comparable with psutil's create_time
    recovered_at: float | None = None

    @property
    def recovery_seconds(self) -> float | None:
        return None if self.recovered_at is None else self.recovered_at - self.at


@dataclass
class Figures:
    backend: str
    jobs: int
    lost: int = 0
    duplicates: int = 0
    orphans: int = 0
    stuck: int = 0
    playable: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # job id -> error message
    kills: list[Kill] = field(default_factory=list)
    wall_seconds: float = 0.0

    @property
    def recovery_p95(self) -> float | None:
        return percentile([k.recovery_seconds for k in self.kills if k.recovery_seconds is not None], 0.95)

    @property
    def unrecovered(self) -> int:
        return sum(1 for k in self.kills if k.recovered_at is None)


# The platform and what it needs.


@contextlib.contextmanager
def patched_environ(updates: dict[str, str]) -> Iterator[None]:
    """`start_platform` passes this process's environment on to `videoforge up`."""
    saved = {name: os.environ.get(name) for name in updates}
    os.environ.update(updates)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def sqs_queues(scratch: Path) -> Iterator[dict[str, str]]:
    """A moto SQS server with a job queue and its dead-letter queue; yields the platform's settings for it."""
    with moto_sqs_server(scratch) as endpoint:
        credentials = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
        client = boto3.client(
            "sqs",
            region_name="us-east-1",
            endpoint_url=endpoint,
            aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
        )
        queue_url, dlq_url = ensure_queues(client, f"chaos-{uuid.uuid4().hex[:12]}")
        client.close()
        yield {
            "QUEUE_BACKEND": "sqs",
            "SQS_QUEUE_URL": queue_url,
            "SQS_DEAD_LETTER_QUEUE_URL": dlq_url,
            "SQS_ENDPOINT_URL": endpoint,
            "SQS_REGION": "us-east-1",
            **credentials,
        }


@contextlib.contextmanager
def running_platform(data_dir: Path, environment: dict[str, str]) -> Iterator[RunningPlatform]:
    with patched_environ(environment):
        platform = start_platform(data_dir, free_port(), "--workers", str(WORKERS))
    try:
        yield platform
    finally:
        stop_platform(platform.process)


def bucket_client(platform: RunningPlatform, *, attempts: int) -> tuple[BaseClient, str]:
    """boto3 on the platform's own SeaweedFS, with the credentials `up` generated into the data directory."""
    environment = child_environment(platform, "gallery")
    credentials = ensure_local_secrets(platform.data_dir).s3
    client = boto3.client(
        "s3",
        endpoint_url=environment["S3_ENDPOINT_URL"],
        region_name=environment.get("S3_REGION", "us-east-1"),
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            connect_timeout=PROBE_TIMEOUT_SECONDS,
            read_timeout=10,
            retries={"max_attempts": attempts, "mode": "standard"},
        ),
    )
    return client, environment["S3_BUCKET"]


def child_environment(platform: RunningPlatform, service: str) -> dict[str, str]:
    for process in platform.children_running("serve", service):
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            return dict(process.environ())
    raise LookupError(f"no {service} service running")


def make_clips(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    factory = MediaFactory(directory)

    async def make() -> list[Path]:
        return [await factory.sized(CLIP_WIDTH, CLIP_HEIGHT, seconds) for seconds in CLIP_SECONDS]

    return asyncio.run(make())


def upload_clips(client: EdgeClient, clips: list[Path], count: int) -> list[Upload]:
    uploads = []
    for index in range(count):
        video = client.upload(clips[index % len(clips)], title=f"chaos {index + 1}")
        uploads.append(Upload(video["id"], video["latestJob"]["jobId"]))
    return uploads


# Components: finding, killing, and telling when they are back.


def component_of(cmdline: list[str]) -> str | None:
    if cmdline and Path(cmdline[0]).name == "weed":
        return "seaweedfs"
    for component, tail in ARGV_TAILS.items():
        if cmdline[-len(tail) :] == list(tail):
            return component
    return None


def running_components(platform: RunningPlatform) -> dict[str, list[psutil.Process]]:
    """The children of `up` that can be killed, by component."""
    found: dict[str, list[psutil.Process]] = collections.defaultdict(list)
    for process in psutil.Process(platform.process.pid).children(recursive=True):
        try:
            component = component_of(process.cmdline())
            if component is not None and process.status() != psutil.STATUS_ZOMBIE:
                process.create_time()  # cached now, so it can be read after the process is gone
                found[component].append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


class ServingProbe:
    """Whether a component answers: through the edge for services, directly for the object store."""

    def __init__(self, url: str, token: str, upload: Upload, bucket: tuple[BaseClient, str]) -> None:
        self._http = httpx.Client(base_url=url, timeout=PROBE_TIMEOUT_SECONDS)
        self._headers = {"Authorization": f"Bearer {token}"}
        self._upload = upload
        self._s3, self._bucket = bucket

    def close(self) -> None:
        self._http.close()

    def serving(self, component: str) -> bool:
        try:
            if component == "gallery":
                return self._http.get("/api/gallery/videos", params={"limit": 1}).status_code == 200
            if component == "job":
                reply = self._http.get(f"/v1/jobs/{self._upload.job_id}", headers=self._headers)
                return reply.status_code == 200
            if component == "streaming":
                # A path that is no manifest: the streaming service refuses it before calling anyone.
                reply = self._http.get(f"/api/stream/{self._upload.video_id}/manifest/probe.txt?token=x")
                return reply.status_code == 400 and "BAD_PATH" in reply.text
            if component == "seaweedfs":
                # Listing and reading an object: the gateway answers before its volume server does.
                listing = self._s3.list_objects_v2(Bucket=self._bucket, MaxKeys=1)
                for item in listing.get("Contents", []):
                    self._s3.get_object(Bucket=self._bucket, Key=item["Key"])["Body"].read()
                return True
        except (httpx.HTTPError, BotoCoreError, ClientError):
            return False
        raise ValueError(f"no probe for {component}")


class Chaos:
    """Kills components at random and records when each one is back."""

    def __init__(self, platform: RunningPlatform, probe: ServingProbe, rng: random.Random) -> None:
        self._platform = platform
        self._probe = probe
        self._rng = rng
        self.kills: list[Kill] = []
        self._answered: set[int] = set()  # worker pids already counted as some kill's recovery

    def pending(self) -> list[Kill]:
        return [kill for kill in self.kills if kill.recovered_at is None]

    def kill_one(self) -> Kill | None:
        """SIGKILL one running component that has recovered from its last kill; None when there is none."""
        running = running_components(self._platform)
        down = {kill.component for kill in self.pending()}
        candidates = [c for c in COMPONENTS if running.get(c) and (c == "worker" or c not in down)]
        if not candidates:
            return None
        component = self._rng.choice(candidates)
        process = self._rng.choice(sorted(running[component], key=lambda p: p.pid))
        if component == "worker":
            self._answered.update(p.pid for p in running["worker"])  # survivors answer no kill
        with contextlib.suppress(psutil.NoSuchProcess):
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=5)
        kill = Kill(component, process.pid, time.time())
        self.kills.append(kill)
        log.info("kill %d: %s (pid %d)", len(self.kills), component, process.pid)
        return kill

    def check_recoveries(self) -> None:
        pending = self.pending()
        if not pending:
            return
        running = running_components(self._platform)
        now = time.time()
        for kill in pending:
            if kill.component == "worker":
                self._check_worker(kill, running.get("worker", []), now)
            elif self._restarted(kill, running) and self._probe.serving(kill.component):
                kill.recovered_at = time.time()
            if kill.recovered_at is not None:
                log.info("%s back after %.1f s", kill.component, kill.recovery_seconds)

    @staticmethod
    def _restarted(kill: Kill, running: dict[str, list[psutil.Process]]) -> bool:
        return any(process.pid != kill.pid for process in running.get(kill.component, []))

    def _check_worker(self, kill: Kill, workers: list[psutil.Process], now: float) -> None:
        for process in sorted(workers, key=lambda p: p.create_time()):
            if process.pid not in self._answered and process.create_time() >= kill.at:
                self._answered.add(process.pid)
                kill.recovered_at = now
                return


# Jobs: watched while the chaos runs.


class JobWatcher(threading.Thread):
    """Polls every job, and the published output of every completed one, until stopped."""

    def __init__(self, url: str, token: str, uploads: list[Upload]) -> None:
        super().__init__(name="job-watcher", daemon=True)
        self._client = EdgeClient(url, token, timeout=PROBE_TIMEOUT_SECONDS * 2)
        self._uploads = uploads
        self.states: dict[str, str] = {}
        self.published: dict[str, set[str]] = collections.defaultdict(set)
        self.all_final = threading.Event()
        self._stop_requested = threading.Event()

    def run(self) -> None:
        while not self._stop_requested.is_set():
            self.poll_once()
            self._stop_requested.wait(POLL_SECONDS)

    def stop(self) -> None:
        self._stop_requested.set()
        self.join()
        self._client.close()

    def poll_once(self) -> None:
        for upload in self._uploads:
            with contextlib.suppress(ApiError, httpx.HTTPError):
                if self.states.get(upload.job_id) not in FINAL_JOB_STATES:
                    self.states[upload.job_id] = self._client.request("GET", f"/v1/jobs/{upload.job_id}")["status"]
                if self.states.get(upload.job_id) == "COMPLETED":
                    self.observe_published(self._client, upload)
        if all(self.states.get(u.job_id) in FINAL_JOB_STATES for u in self._uploads):
            self.all_final.set()
        log.info("jobs: %s", dict(sorted(collections.Counter(self.states.values()).items())))

    def observe_published(self, client: EdgeClient, upload: Upload) -> None:
        playback = client.request("GET", f"/api/stream/{upload.video_id}/playback")
        match = PUBLISHED_ATTEMPT.search(unquote(playback.get("hlsUrl", "")))
        if match:
            self.published[upload.video_id].add(match.group(1))


def run_chaos(chaos: Chaos, watcher: JobWatcher, kills: int, gap: float, seconds: float) -> None:
    """Kill every `gap` seconds until `kills` kills, every job final, or `seconds` passed."""
    deadline = time.monotonic() + seconds
    next_kill = time.monotonic()
    while len(chaos.kills) < kills and time.monotonic() < deadline and not watcher.all_final.is_set():
        chaos.check_recoveries()
        if time.monotonic() >= next_kill and chaos.kill_one() is not None:
            next_kill = time.monotonic() + gap
        time.sleep(TICK_SECONDS)


def wait_for_recoveries(chaos: Chaos, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while chaos.pending() and time.monotonic() < deadline:
        chaos.check_recoveries()
        time.sleep(TICK_SECONDS)


def wait_until_final(watcher: JobWatcher, seconds: float) -> None:
    watcher.all_final.wait(seconds)


def wait_until_healthy(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/healthz", timeout=PROBE_TIMEOUT_SECONDS).status_code == 200:
                return
        time.sleep(0.5)


# Measuring, once the chaos is over.


def settled_get(client: EdgeClient, path: str, attempts: int = 4) -> Any:
    """GET through the edge, again after a server error: a component may still be on its way back."""
    for _ in range(attempts - 1):
        try:
            return client.request("GET", path)
        except ApiError as error:
            if error.status < 500:
                raise
        time.sleep(2.0)
    return client.request("GET", path)


def count_lost(client: EdgeClient, uploads: list[Upload]) -> int:
    lost = 0
    for upload in uploads:
        try:
            video = settled_get(client, f"/v1/videos/{upload.video_id}")
            settled_get(client, f"/v1/jobs/{upload.job_id}")
        except ApiError as error:
            if error.status != 404:
                raise
            lost += 1
            continue
        lost += not video.get("latestJob", {}).get("jobId")
    return lost


def final_jobs(client: EdgeClient, uploads: list[Upload]) -> dict[str, dict[str, Any]]:
    """Each upload's job as it ends (missing jobs left out)."""
    jobs = {}
    for upload in uploads:
        with contextlib.suppress(ApiError):
            jobs[upload.job_id] = settled_get(client, f"/v1/jobs/{upload.job_id}")
    return jobs


def published_prefixes(client: EdgeClient, jobs: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Job id -> the attempt prefix its assets name, for every COMPLETED job."""
    prefixes = {}
    for job_id, job in jobs.items():
        if job.get("status") != "COMPLETED":
            continue
        assets = settled_get(client, f"/v1/jobs/{job_id}/assets").get("assets", [])
        for asset in assets:
            match = ATTEMPT_KEY.match(asset.get("key", ""))
            if match:
                prefixes[job_id] = match.group(1)
                break
    return prefixes


def attempt_objects(s3: BaseClient, bucket: str) -> dict[str, set[str]]:
    """Attempt prefix -> the keys under it (relative to the prefix)."""
    found: dict[str, set[str]] = collections.defaultdict(set)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="videos/"):
        for item in page.get("Contents", []):
            match = ATTEMPT_KEY.match(item["Key"])
            if match:
                found[match.group(1)].add(match.group(3))
    return found


def is_complete_output_set(s3: BaseClient, bucket: str, prefix: str, keys: set[str]) -> bool:
    """The prefix holds an HLS master and everything it leads to: playlists, init and media segments."""
    masters = [key for key in keys if key.rsplit("/", 1)[-1] == MASTER_NAME]
    if not masters:
        return False
    master = masters[0]
    master_playlist = m3u8.loads(read_text(s3, bucket, prefix + master))
    children = [p.uri for p in master_playlist.playlists] + [m.uri for m in master_playlist.media if m.uri]
    for child in children:
        key = relative_key(master, child)
        if key not in keys:
            return False
        playlist = m3u8.loads(read_text(s3, bucket, prefix + key))
        needed = [s.uri for s in playlist.segments] + [m.uri for m in playlist.segment_map if m.uri]
        if not needed or any(relative_key(key, uri) not in keys for uri in needed):
            return False
    return bool(children)


def read_text(s3: BaseClient, bucket: str, key: str) -> str:
    return str(s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode())


def relative_key(base: str, uri: str) -> str:
    """A playlist's relative URI as a key beside `base` (both relative to the attempt prefix)."""
    return urljoin("/" + base, uri).lstrip("/")


def count_duplicates(
    s3: BaseClient, bucket: str, objects: dict[str, set[str]], watcher: JobWatcher, uploads: list[Upload]
) -> int:
    complete_sets: collections.Counter[str] = collections.Counter()
    for prefix, keys in objects.items():
        match = ATTEMPT_KEY.match(prefix)
        if match and is_complete_output_set(s3, bucket, prefix, keys):
            complete_sets[match.group(2)] += 1
    duplicated_jobs = [job for job, count in complete_sets.items() if count > 1]
    switched_videos = [u.video_id for u in uploads if len(watcher.published.get(u.video_id, ())) > 1]
    for job in duplicated_jobs:
        log.warning("job %s has %d complete output sets", job, complete_sets[job])
    for video in switched_videos:
        log.warning("video %s switched its published output: %s", video, watcher.published[video])
    return len(duplicated_jobs) + len(switched_videos)


def count_orphans(objects: dict[str, set[str]], published: dict[str, str]) -> int:
    orphans = [prefix for prefix in objects if prefix not in set(published.values())]
    for prefix in orphans:
        log.warning("orphaned output folder %s (%d objects)", prefix, len(objects[prefix]))
    return len(orphans)


def is_playable(client: EdgeClient, http: httpx.Client, video_id: str) -> bool:
    try:
        playback = client.request("GET", f"/api/stream/{video_id}/playback")
        master = m3u8.loads(http.get(playback["hlsUrl"]).raise_for_status().text)
        renditions = [p.uri for p in master.playlists] + [m.uri for m in master.media if m.uri]
        for uri in renditions:
            segments = m3u8.loads(http.get(uri).raise_for_status().text).segments
            if not segments:
                return False
            for segment in (segments[0], segments[-1]):
                http.get(segment.uri).raise_for_status()
        return bool(renditions)
    except (ApiError, httpx.HTTPError, KeyError):
        return False


def measure(
    platform: RunningPlatform, client: EdgeClient, uploads: list[Upload], watcher: JobWatcher, figures: Figures
) -> None:
    jobs = final_jobs(client, uploads)
    for upload in uploads:  # one last look at what each video publishes
        if jobs.get(upload.job_id, {}).get("status") == "COMPLETED":
            with contextlib.suppress(ApiError, httpx.HTTPError):
                watcher.observe_published(client, upload)
    figures.lost = count_lost(client, uploads)
    figures.stuck = sum(1 for job in jobs.values() if job.get("status") not in FINAL_JOB_STATES)
    figures.failed = {
        job_id: str(job.get("error", {}).get("message", ""))
        for job_id, job in jobs.items()
        if job.get("status") == "FAILED"
    }
    s3, bucket = bucket_client(platform, attempts=5)
    objects = attempt_objects(s3, bucket)
    figures.duplicates = count_duplicates(s3, bucket, objects, watcher, uploads)
    figures.orphans = count_orphans(objects, published_prefixes(client, jobs))
    with httpx.Client(timeout=30) as http:
        figures.playable = sum(is_playable(client, http, u.video_id) for u in uploads)


# One backend, start to end.


def run_backend(backend: str, args: argparse.Namespace, rng: random.Random) -> Figures:
    started = time.monotonic()
    figures = Figures(backend, args.jobs)
    with contextlib.ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"vf-chaos-{backend}-")))
        environment = dict(PLATFORM_ENVIRONMENT)
        if backend == "sqs":
            environment.update(stack.enter_context(sqs_queues(scratch)))
        clips = make_clips(scratch / "clips")
        platform = stack.enter_context(running_platform(scratch / "data", environment))
        client = stack.enter_context(EdgeClient(platform.url))
        client.register(f"chaos-{uuid.uuid4().hex[:8]}@example.com", "chaos-pass-1")
        uploads = upload_clips(client, clips, args.jobs)
        probe = ServingProbe(platform.url, client.token, uploads[0], bucket_client(platform, attempts=1))
        stack.callback(probe.close)
        watcher = JobWatcher(platform.url, client.token, uploads)
        watcher.start()
        chaos = Chaos(platform, probe, rng)
        run_chaos(chaos, watcher, args.kills, args.gap, args.chaos_seconds)
        wait_for_recoveries(chaos, RECOVERY_WAIT_SECONDS)
        wait_until_final(watcher, args.settle_seconds)
        watcher.stop()
        wait_until_healthy(platform.url, RECOVERY_WAIT_SECONDS)
        figures.kills = chaos.kills
        measure(platform, client, uploads, watcher, figures)
        figures.wall_seconds = time.monotonic() - started
    return figures


# Reporting.


def percentile(values: Iterable[float], fraction: float) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, max(0, int(fraction * len(ordered) + 0.999999) - 1))]


def report_line(figures: Figures, kills_asked: int) -> str:
    by_component = collections.Counter(kill.component for kill in figures.kills)
    kills = ", ".join(f"{c} {by_component[c]}" for c in COMPONENTS if by_component[c])
    p95 = figures.recovery_p95
    return (
        f"{figures.backend}: lost {figures.lost} / duplicate publishes {figures.duplicates} / "
        f"orphans {figures.orphans} / stuck {figures.stuck} / playable {figures.playable} of {figures.jobs}"
        f"  (target 0 / 0 / 0 / 0 / {figures.jobs} of {figures.jobs})"
        f"; failed {len(figures.failed)}; kills {len(figures.kills)} of {kills_asked} ({kills or 'none'})"
        f", unrecovered {figures.unrecovered}, recovery p95 {'-' if p95 is None else f'{p95:.1f} s'}"
        f"; wall {figures.wall_seconds:.0f} s"
    )


def summary_line(results: list[Figures]) -> str:
    jobs = sum(f.jobs for f in results)
    p95 = percentile([k.recovery_seconds for f in results for k in f.kills if k.recovery_seconds is not None], 0.95)
    return (
        f"summary: lost {sum(f.lost for f in results)} / duplicate publishes {sum(f.duplicates for f in results)}"
        f" / orphans {sum(f.orphans for f in results)} / stuck {sum(f.stuck for f in results)}"
        f" / playable {sum(f.playable for f in results)} of {jobs}  (target 0 / 0 / 0 / 0 / {jobs} of {jobs})"
        f"; kills {sum(len(f.kills) for f in results)}, recovery p95 {'-' if p95 is None else f'{p95:.1f} s'}"
        f"; wall {sum(f.wall_seconds for f in results):.0f} s"
    )


def failure_lines(figures: Figures) -> list[str]:
    reasons = collections.Counter(figures.failed.values())
    return [f"  {figures.backend}: {n} job(s) FAILED: {reason or '(no message)'}" for reason, n in reasons.items()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=20, help="clips to upload and transcode")
    parser.add_argument("--kills", type=int, default=200, help="SIGKILLs to spread over the run")
    parser.add_argument("--backend", choices=("postgres", "sqs", "both"), default="postgres")
    parser.add_argument("--seed", type=int, default=1, help="seeds the choice of what to kill")
    parser.add_argument("--gap", type=float, default=1.5, help="seconds between kills")
    parser.add_argument("--chaos-seconds", type=float, default=600, help="time limit on the kills")
    parser.add_argument("--settle-seconds", type=float, default=300, help="time for every job to end after them")
    args = parser.parse_args(argv)
    if args.jobs < 1 or args.kills < 0:
        parser.error("--jobs must be at least 1 and --kills at least 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per poll otherwise
    logging.getLogger("videoforge").setLevel(logging.WARNING)  # the clip factory's FFmpeg command lines
    backends = ["postgres", "sqs"] if args.backend == "both" else [args.backend]
    rng = random.Random(args.seed)
    results = []
    for backend in backends:
        try:
            figures = run_backend(backend, args, rng)
        except Exception as error:  # the run could not happen: not a figure
            print(f"{backend}: could not run: {type(error).__name__}: {error}", file=sys.stderr)
            return 1
        print(report_line(figures, args.kills), flush=True)
        for line in failure_lines(figures):
            print(line, flush=True)
        results.append(figures)
    print(summary_line(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
