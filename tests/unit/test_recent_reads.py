"""Recent reads: a thing many ask for at once is read once a second, and what this process changes shows at once."""

from __future__ import annotations

import asyncio

import pytest

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


async def _settled() -> None:
    """Lets every task that can run do so (nothing here waits on anything outside the loop)."""
    for _ in range(20):
        await asyncio.sleep(0)


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
    while store.reads < 2:  # it has read the old title; the change lands before its answer does
        await asyncio.sleep(0)
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


async def test_an_answer_past_half_its_time_is_given_at_once_and_read_again_behind_it() -> None:
    store, clock = Store(), Clock()
    recent = _reads(clock)
    await recent.get("v1", lambda: store.get("v1"))
    store.titles["v1"], store.gate = "Changed elsewhere", asyncio.Event()
    clock.now += 0.6
    # The source is stuck, yet the caller is answered from what was read 0.6 s ago.
    assert await asyncio.wait_for(recent.get("v1", lambda: store.get("v1")), 1) == "First"
    assert store.reads == 2, "one read again in the background"
    assert await recent.get("v1", lambda: store.get("v1")) == "First"
    assert store.reads == 2, "not a second one while it runs"
    store.gate.set()
    await _settled()
    clock.now += 0.6  # past the first answer's second, within the new one's
    store.gate = asyncio.Event()
    assert await asyncio.wait_for(recent.get("v1", lambda: store.get("v1")), 1) == "Changed elsewhere"


async def test_callers_that_miss_together_share_one_read_and_one_giving_up_does_not_stop_it() -> None:
    store, clock = Store(), Clock()
    recent = _reads(clock)
    store.gate = asyncio.Event()
    callers = [asyncio.create_task(recent.get("v1", lambda: store.get("v1"))) for _ in range(10)]
    while store.reads == 0:
        await asyncio.sleep(0)
    callers[0].cancel()
    store.gate.set()
    answers = await asyncio.gather(*callers[1:])
    assert answers == ["First"] * 9
    assert store.reads == 1


async def test_an_answer_the_caller_may_not_share_is_not_given_to_another() -> None:
    """As the streaming service asks the gallery: a private video is read with its owner's token, and only a
    video open to all is shared; another caller gets its own answer."""
    gate, reads = asyncio.Event(), []

    async def as_viewer(viewer: str) -> str:
        reads.append(viewer)
        await gate.wait()
        return "owner's private video" if viewer == "owner" else "not found"

    recent: RecentReads[str, str] = RecentReads(seconds=1.0, clock=Clock())
    only_open = {"keep": lambda answer: answer.startswith("open")}
    owner = asyncio.create_task(recent.get("v1", lambda: as_viewer("owner"), **only_open))
    while not reads:
        await asyncio.sleep(0)
    stranger = asyncio.create_task(recent.get("v1", lambda: as_viewer("stranger"), **only_open))
    await _settled()
    gate.set()
    assert await owner == "owner's private video"
    assert await stranger == "not found"
    assert reads == ["owner", "stranger"]


async def test_a_failed_read_behind_an_answer_leaves_it_until_its_time_is_up_then_the_caller_meets_it() -> None:
    clock, calls = Clock(), []

    async def read() -> str:
        calls.append(clock.now)
        if len(calls) > 1:
            raise ConnectionError("the source is down")
        return "First"

    recent = _reads(clock)
    assert await recent.get("v1", read) == "First"
    clock.now += 0.6
    assert await recent.get("v1", read) == "First"
    await _settled()
    assert len(calls) == 2, "read again behind the answer, and failed"
    assert await recent.get("v1", read) == "First"
    clock.now += 0.5
    with pytest.raises(ConnectionError):
        await recent.get("v1", read)
