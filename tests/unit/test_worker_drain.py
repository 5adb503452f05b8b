"""On SIGTERM a worker finishes the job in hand if it can within its drain time, and abandons it otherwise."""

from __future__ import annotations

import asyncio

from videoforge.transcoder.worker import drain


async def test_a_job_that_ends_within_the_drain_time_is_finished() -> None:
    finished = asyncio.Event()

    async def short_job() -> None:
        await asyncio.sleep(0.1)
        finished.set()

    assert await drain(asyncio.create_task(short_job()), seconds=2)
    assert finished.is_set()


async def test_a_longer_job_is_abandoned_when_the_drain_time_runs_out() -> None:
    reached_end = asyncio.Event()

    async def long_job() -> None:
        await asyncio.sleep(30)
        reached_end.set()

    runner = asyncio.create_task(long_job())
    assert not await drain(runner, seconds=0.1)
    assert runner.cancelled() and not reached_end.is_set()


async def test_no_drain_time_abandons_at_once() -> None:
    runner = asyncio.create_task(asyncio.sleep(30))
    assert not await drain(runner, seconds=0)
    assert runner.cancelled()
