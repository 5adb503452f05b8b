"""Sign-in storms, through the edge: JWKS and refresh p99 when idle and while 40 sign-ins run in parallel.

    .venv/bin/python -m bench.signin_bench [--parallel-sign-ins 40] [--requests 300] [--concurrency 4]

Starts its own platform (`videoforge up` on a temporary data directory) with the edge's rate limits lifted,
which this does not measure. Password hashing is slow on purpose; the figure is how much of it other callers
of the identity service feel. Target: loaded p99 within 3x idle p99.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import Awaitable, Callable

import httpx

from bench.api_bench import percentile
from tests.fixtures.platform import benched_platform

PASSWORD = "bench-pass-1"
TARGET_RATIO = 3.0


class Probe:
    """One kind of cheap call whose latency a storm should not touch."""

    def __init__(self, name: str, call: Callable[[httpx.AsyncClient], Awaitable[None]]) -> None:
        self.name, self.call = name, call


async def jwks(http: httpx.AsyncClient) -> None:
    (await http.get("/.well-known/jwks.json")).raise_for_status()


class Refreshes:
    """Refresh tokens are single-use: each lane swaps its token for the next one."""

    def __init__(self, tokens: list[str]) -> None:
        self._tokens = tokens

    async def __call__(self, http: httpx.AsyncClient) -> None:
        token = self._tokens.pop()
        reply = await http.post("/api/auth/refresh", json={"refreshToken": token})
        reply.raise_for_status()
        self._tokens.append(reply.json()["refreshToken"])


async def timed(http: httpx.AsyncClient, call: Callable[[httpx.AsyncClient], Awaitable[None]], requests: int,
                concurrency: int) -> list[float]:  # fmt: skip
    latencies: list[float] = []
    slots = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with slots:
            started = time.perf_counter()
            await call(http)
            latencies.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(one() for _ in range(requests)))
    return latencies


async def sign_in_storm(url: str, email: str, parallel: int, stop: asyncio.Event, done: list[float]) -> None:
    """`parallel` clients signing in over and over until `stop`."""
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=httpx.Limits(max_connections=parallel)) as http:

        async def client() -> None:
            while not stop.is_set():
                started = time.perf_counter()
                reply = await http.post("/api/auth/login", json={"email": email, "password": PASSWORD})
                reply.raise_for_status()
                done.append((time.perf_counter() - started) * 1000)

        await asyncio.gather(*(client() for _ in range(parallel)))


async def run(url: str, args: argparse.Namespace) -> None:
    email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        (await http.post("/api/auth/register", json={"email": email, "password": PASSWORD})).raise_for_status()
        sessions = [
            (await http.post("/api/auth/login", json={"email": email, "password": PASSWORD})).json()["refreshToken"]
            for _ in range(args.concurrency)
        ]
        probes = [Probe("JWKS", jwks), Probe("refresh", Refreshes(sessions))]
        for probe in probes:  # warm connections and caches
            await timed(http, probe.call, 20, args.concurrency)
        idle = {probe.name: await timed(http, probe.call, args.requests, args.concurrency) for probe in probes}

        stop, sign_ins = asyncio.Event(), []
        storm = asyncio.create_task(sign_in_storm(url, email, args.parallel_sign_ins, stop, sign_ins))
        await asyncio.sleep(2)  # let the storm build up
        loaded = {probe.name: await timed(http, probe.call, args.requests, args.concurrency) for probe in probes}
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await storm

    print(f"\n{args.requests} requests per call, {args.concurrency} at a time, through the edge")
    print(f"{'call':10} {'idle p50':>9} {'idle p99':>9} {'storm p50':>10} {'storm p99':>10} {'p99 ratio':>10}")
    worst = 0.0
    for probe in probes:
        ratio = percentile(loaded[probe.name], 0.99) / percentile(idle[probe.name], 0.99)
        worst = max(worst, ratio)
        print(f"{probe.name:10} {percentile(idle[probe.name], 0.5):9.1f} {percentile(idle[probe.name], 0.99):9.1f} "
              f"{percentile(loaded[probe.name], 0.5):10.1f} {percentile(loaded[probe.name], 0.99):10.1f} "
              f"{ratio:9.2f}x")  # fmt: skip
    print(
        f"\n{args.parallel_sign_ins} parallel sign-ins: {len(sign_ins)} done, p50 {percentile(sign_ins, 0.5):.0f} ms, "
        f"p99 {percentile(sign_ins, 0.99):.0f} ms"
    )
    verdict = "within" if worst <= TARGET_RATIO else "ABOVE"
    print(f"Worst p99 ratio {worst:.2f}x: {verdict} the {TARGET_RATIO:g}x target")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parallel-sign-ins", type=int, default=40)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()

    # One client sends every request here: the per-client limits would measure themselves, not the service.
    os.environ.setdefault("EDGE_RATE_LIMIT_PER_MINUTE", "1000000")
    os.environ.setdefault("EDGE_LOGIN_RATE_LIMIT_PER_MINUTE", "1000000")
    with benched_platform("vf-bench-") as platform:
        asyncio.run(run(platform.url, args))


if __name__ == "__main__":
    main()
