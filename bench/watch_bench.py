"""Many watchers on one job: what they cost the database, and whether other callers feel them.

    .venv/bin/python -m bench.watch_bench [--watchers 1000] [--window 30] [--requests 400] [--concurrency 4]

Starts its own platform (`videoforge up` on a temporary data directory; the edge's rate limit and the per-user
watch cap lifted, which this does not measure), uploads a clip whose job stays PENDING (the worker is paused),
then, in the same run:
- the database's transaction rate (pg_stat_database: commits + rollbacks; each read is one) over a quiet window,
  first with no watcher, then with `--watchers` gRPC WatchJob streams on the job through the edge;
- GetJob latency through the edge, idle and with the watchers attached;
- how long one change (cancelling the job) takes to reach every watcher.
Targets: the watchers cost at most 5 queries/s, and GetJob p99 with them stays within 2x its idle value.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from pathlib import Path

import grpc
import httpx
import psycopg

from bench.api_bench import percentile
from tests.fixtures.platform import RunningPlatform, benched_platform
from tests.media_factory import MediaFactory
from videoforge.client.edge import EdgeClient
from videoforge.job.v1 import job_pb2, job_pb2_grpc
from videoforge.platform.embedded_postgres import start_embedded_postgres

QUERIES_PER_SECOND_TARGET = 5.0
P99_RATIO_TARGET = 2.0
# Streams per connection: below the edge's HTTP/2 limit of concurrent streams per client connection.
STREAMS_PER_CHANNEL = 50


def transactions(database_url: str) -> int:
    with psycopg.connect(database_url, autocommit=True) as connection:
        row = connection.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    assert row is not None
    return int(row[0])


async def transaction_rate(database_url: str, seconds: float) -> float:
    """Transactions a second over `seconds`, less the two this measurement makes."""
    before = await asyncio.to_thread(transactions, database_url)
    await asyncio.sleep(seconds)
    after = await asyncio.to_thread(transactions, database_url)
    return max(after - before - 1, 0) / seconds


async def get_job_latencies(url: str, token: str, job_id: str, requests: int, concurrency: int) -> list[float]:
    latencies: list[float] = []
    slots = asyncio.Semaphore(concurrency)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, timeout=30, headers=headers) as http:
        for _ in range(20):  # warm the connection pool
            (await http.get(f"/v1/jobs/{job_id}")).raise_for_status()

        async def one() -> None:
            async with slots:
                started = time.perf_counter()
                reply = await http.get(f"/v1/jobs/{job_id}")
                latencies.append((time.perf_counter() - started) * 1000)
                reply.raise_for_status()

        await asyncio.gather(*(one() for _ in range(requests)))
    return latencies


class Watchers:
    """`count` WatchJob streams through the edge, spread over connections of their own."""

    def __init__(self, edge_address: str, token: str, job_id: str, count: int) -> None:
        self._channels = [
            # A local subchannel pool per channel: each gets its own connection to the edge.
            grpc.aio.insecure_channel(edge_address, options=[("grpc.use_local_subchannel_pool", 1)])
            for _ in range(-(-count // STREAMS_PER_CHANNEL))
        ]
        self._request, self._metadata = job_pb2.WatchJobRequest(name=job_id), (("authorization", f"Bearer {token}"),)
        self.count = count
        self.first_seen = 0
        self.final_seen: list[float] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def _watch(self, stub: job_pb2_grpc.JobServiceStub) -> None:
        first = True
        async for job in stub.WatchJob(self._request, metadata=self._metadata):
            if first:
                self.first_seen, first = self.first_seen + 1, False
            if job.status == "CANCELLED":
                self.final_seen.append(time.perf_counter())

    def start(self) -> None:
        stubs = [job_pb2_grpc.JobServiceStub(channel) for channel in self._channels]
        self._tasks = [asyncio.create_task(self._watch(stubs[i % len(stubs)])) for i in range(self.count)]

    async def all_attached(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.first_seen < self.count:
            failed = [t for t in self._tasks if t.done() and t.exception()]
            if failed:
                raise RuntimeError(f"{len(failed)} watches failed, e.g. {failed[0].exception()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {self.first_seen} of {self.count} watches attached")
            await asyncio.sleep(0.1)

    async def ended(self, timeout: float) -> None:
        await asyncio.wait_for(asyncio.gather(*self._tasks, return_exceptions=True), timeout)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(channel.close() for channel in self._channels))


async def run(platform: RunningPlatform, database_url: str, args: argparse.Namespace, data_dir: Path) -> None:
    client = EdgeClient(platform.url)
    client.register(f"bench-{uuid.uuid4().hex[:8]}@example.com", "bench-pass-1")
    (worker,) = platform.children_running("worker")
    worker.suspend()  # the job stays PENDING: nothing but the watchers touches it
    try:
        (data_dir / "clips").mkdir()
        clip = await MediaFactory(data_dir / "clips").tiny()
        job_id = client.upload(clip, title="watched")["latestJob"]["jobId"]
        await asyncio.sleep(3)  # the upload's own work settles

        idle_rate = await transaction_rate(database_url, args.window)
        idle = await get_job_latencies(platform.url, client.token, job_id, args.requests, args.concurrency)

        watchers = Watchers(platform.url.removeprefix("http://"), client.token, job_id, args.watchers)
        started = time.perf_counter()
        watchers.start()
        try:
            await watchers.all_attached(timeout=120)
            attach_seconds = time.perf_counter() - started
            await asyncio.sleep(3)
            watched_rate = await transaction_rate(database_url, args.window)
            loaded = await get_job_latencies(platform.url, client.token, job_id, args.requests, args.concurrency)
            cancelled_at = time.perf_counter()
            client.request("POST", f"/api/jobs/{job_id}/cancel", json={})
            await watchers.ended(timeout=60)
        finally:
            await watchers.close()
    finally:
        worker.resume()

    reached = sorted(t - cancelled_at for t in watchers.final_seen)
    cost = watched_rate - idle_rate
    idle_p99, loaded_p99 = percentile(idle, 0.99), percentile(loaded, 0.99)
    print(f"\n{args.watchers} WatchJob streams on one job through the edge (attached in {attach_seconds:.1f} s)")
    print(f"database transactions/s, {args.window:.0f} s windows: idle {idle_rate:.2f}, watched {watched_rate:.2f}")
    print(f"  cost of the watchers: {cost:.2f} queries/s (target <= {QUERIES_PER_SECOND_TARGET:.0f}): "
          f"{'PASS' if cost <= QUERIES_PER_SECOND_TARGET else 'FAIL'}")  # fmt: skip
    print(f"GetJob through the edge, {args.requests} requests, {args.concurrency} at a time:")
    print(f"  idle:    p50 {statistics.median(idle):6.1f} ms  p99 {idle_p99:6.1f} ms")
    print(f"  watched: p50 {statistics.median(loaded):6.1f} ms  p99 {loaded_p99:6.1f} ms")
    print(f"  p99 watched/idle: {loaded_p99 / idle_p99:.2f} (target <= {P99_RATIO_TARGET:.0f}): "
          f"{'PASS' if loaded_p99 <= P99_RATIO_TARGET * idle_p99 else 'FAIL'}")  # fmt: skip
    if reached:
        print(f"one change (cancel) reached {len(reached)}/{args.watchers} watchers: "
              f"median {statistics.median(reached) * 1000:.0f} ms, last {reached[-1] * 1000:.0f} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--watchers", type=int, default=1000)
    parser.add_argument("--window", type=float, default=30.0, help="seconds over which transactions are counted")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()

    os.environ.setdefault("EDGE_RATE_LIMIT_PER_MINUTE", "1000000")
    os.environ.setdefault("WATCH_STREAMS_PER_USER", str(args.watchers))
    with benched_platform("vf-watch-bench-") as platform:
        database = start_embedded_postgres(platform.data_dir)
        asyncio.run(run(platform, database.url, args, platform.data_dir))


if __name__ == "__main__":
    main()
