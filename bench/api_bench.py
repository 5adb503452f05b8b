"""Gallery reads at scale, through the edge: p50/p95/p99 of the public list and search with 100,000 videos.

    .venv/bin/python -m bench.api_bench [--videos 100000] [--requests 400] [--concurrency 8]

Starts its own platform (`videoforge up` on a temporary data directory), fills gallery.videos with public
videos by SQL, then times each route against a baseline measured in the same run: the JWKS document, a
route through the edge and a service that touches no database.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid

import httpx
import psycopg

from tests.fixtures.platform import benched_platform
from videoforge.client.edge import EdgeClient
from videoforge.platform.embedded_postgres import start_embedded_postgres

WORDS = [
    "sunset",
    "beach",
    "mountain",
    "city",
    "night",
    "drone",
    "ocean",
    "forest",
    "river",
    "snow",
    "desert",
    "street",
    "music",
    "concert",
    "football",
    "cooking",
    "recipe",
    "travel",
    "vlog",
    "tutorial",
    "review",
    "unboxing",
    "gaming",
    "speedrun",
    "cat",
    "dog",
    "bird",
    "wildlife",
    "timelapse",
]

FILL_SQL = """
INSERT INTO gallery.videos (id, owner_id, title, description, visibility, state, source_key, media, view_count,
                            latest_job, published_job_id, extra, create_time, update_time)
SELECT md5(%(seed)s || g::text)::varchar(24), %(owner)s,
       initcap(w[1 + (g * 7) %% n]) || ' ' || w[1 + (g * 13) %% n] || ' ' || g,
       'A ' || w[1 + (g * 3) %% n] || ' video about ' || w[1 + (g * 11) %% n] || ' and ' || w[1 + (g * 17) %% n],
       CASE WHEN g %% 10 = 0 THEN 'private' WHEN g %% 10 = 1 THEN 'unlisted' ELSE 'public' END,
       'ready', 'uploads/bench/' || g, '{}'::jsonb, (g * 37) %% 10000, '{}'::jsonb, '', '{}'::jsonb,
       now() - (g || ' seconds')::interval, now()
FROM generate_series(1, %(count)s) AS g, (SELECT %(words)s::text[] AS w, %(n)s AS n) AS vocabulary
"""


def fill(database_url: str, owner: str, count: int) -> float:
    started = time.perf_counter()
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(
            FILL_SQL, {"seed": uuid.uuid4().hex, "owner": owner, "count": count, "words": WORDS, "n": len(WORDS)}
        )
        connection.execute("ANALYZE gallery.videos")
    return time.perf_counter() - started


async def measure(url: str, path: str, requests: int, concurrency: int) -> list[float]:
    latencies: list[float] = []
    slots = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        for _ in range(20):  # warm the connection pool and PostgreSQL's caches
            await http.get(path)

        async def one() -> None:
            async with slots:
                started = time.perf_counter()
                reply = await http.get(path)
                latencies.append((time.perf_counter() - started) * 1000)
                reply.raise_for_status()

        await asyncio.gather(*(one() for _ in range(requests)))
    return latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    # One client sends every request here: lift its rate limit, which this does not measure.
    os.environ.setdefault("EDGE_RATE_LIMIT_PER_MINUTE", "1000000")
    with benched_platform("vf-bench-") as platform:
        client = EdgeClient(platform.url)
        owner = client.register(f"bench-{uuid.uuid4().hex[:8]}@example.com", "bench-pass-1")["user"]["id"]
        database = start_embedded_postgres(platform.data_dir)
        print(f"Filled {args.videos} videos in {fill(database.url, owner, args.videos):.1f} s")
        routes = {
            "baseline: JWKS (edge + service, no database)": "/.well-known/jwks.json",
            "public list, page 1": "/api/gallery/videos?limit=20",
            "public list, page 200": "/api/gallery/videos?limit=20&page=200",
            "public list by views": "/api/gallery/videos?limit=20&orderBy=view_count%20desc",
            "search one word": "/api/gallery/videos?search=mountain&limit=20",
            "search two words": "/api/gallery/videos?search=drone%20ocean&limit=20",
        }
        baseline = 0.0
        print(f"\n{args.requests} requests per route, {args.concurrency} at a time, through the edge")
        print(f"{'route':48} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>7} {'p95/base':>9}")
        for name, path in routes.items():
            started = time.perf_counter()
            latencies = asyncio.run(measure(platform.url, path, args.requests, args.concurrency))
            rate = args.requests / (time.perf_counter() - started)
            p95 = percentile(latencies, 0.95)
            baseline = baseline or p95
            print(f"{name:48} {statistics.median(latencies):8.1f} {p95:8.1f} {percentile(latencies, 0.99):8.1f} "
                  f"{rate:7.0f} {p95 / baseline:9.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
