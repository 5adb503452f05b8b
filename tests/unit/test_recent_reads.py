"""Recent reads: a thing many ask for at once is read once a second, and what this process changes shows at once."""

from __future__ import annotations

import asyncio

from videoforge.kit.recent_reads import RecentReads


class Store:
    def __init__(self) -> None:
        self.titles = {"v1": "First"}
        self.reads = 0
        self.gate: asyncio.Event | None = None

    async def get(self, key: str) -> str | None:
        self.reads += 1
        title = self.titles.get(key)
        if self.gate is not None:
            await self.gate.wait()
        return title


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _reads(clock: Clock) -> RecentReads[str, str | None]:
    return RecentReads(seconds=1.0, clock=clock)


async def test_what_is_asked_again_within_the_second_is_not_read_again() -> None:
    store, clock = Store(), Clock()
    recent = _reads(clock)
    for _ in range(50):
        assert await recent.get("v1", lambda: store.get("v1")) == "First"
    assert store.reads == 1
    store.titles["v1"] = "Changed elsewhere"
    clock.now += 1.0
    assert await recent.get("v1", lambda: store.get("v1")) == "Changed elsewhere"
    assert store.reads == 2


async def test_a_change_made_here_shows_at_once_and_a_read_racing_it_is_not_kept() -> None:
    store, clock = Store(), Clock()
    recent = _reads(clock)
    await recent.get("v1", lambda: store.get("v1"))
    store.gate = asyncio.Event()
    recent.forget("v1")
    racing = asyncio.create_task(recent.get("v1", lambda: store.get("v1")))
    await asyncio.sleep(0)  # it has read the old title; the change lands before its answer does
    store.titles["v1"] = "Edited"
    recent.forget("v1")
    store.gate.set()
    assert await racing == "First"
    store.gate = None
    assert await recent.get("v1", lambda: store.get("v1")) == "Edited", "the racing read was not kept"


async def test_only_answers_the_caller_says_to_keep_are_kept() -> None:
    store, clock = Store(), Clock()
    recent = _reads(clock)
    assert await recent.get("v2", lambda: store.get("v2")) is None
    store.titles["v2"] = "Now here"
    assert await recent.get("v2", lambda: store.get("v2")) == "Now here", "a missing answer is not kept by default"
    assert await recent.get("v2", lambda: store.get("v2")) == "Now here"
    assert store.reads == 2
