"""Tasks side by side that fail as the first of them failed."""

from __future__ import annotations

import asyncio

import pytest

from videoforge.kit.task_groups import failing_as_the_first


async def test_a_failed_task_raises_its_own_exception_and_stops_the_others() -> None:
    stopped = asyncio.Event()

    async def slow() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            stopped.set()
            raise

    async def failing() -> None:
        await asyncio.sleep(0.01)
        raise LookupError("the poster could not be made")

    with pytest.raises(LookupError, match="poster"):
        async with failing_as_the_first() as group:
            group.create_task(slow())
            group.create_task(failing())
    assert stopped.is_set()


async def test_tasks_that_succeed_leave_their_results() -> None:
    async with failing_as_the_first() as group:
        first = group.create_task(asyncio.sleep(0, result=1))
        second = group.create_task(asyncio.sleep(0, result=2))
    assert (first.result(), second.result()) == (1, 2)
