"""Views counted in memory reach the stored totals in batches, exactly: a failed batch is counted again later."""

from __future__ import annotations

import asyncio

import pytest

from videoforge.gallery.service_layer.view_counter import ViewCounter


class Totals:
    """A store of view totals that can be told to refuse the next batch."""

    def __init__(self) -> None:
        self.totals: dict[str, int] = {}
        self.batches = 0
        self.refuse_next = False

    async def add_views(self, views: dict[str, int]) -> None:
        if self.refuse_next:
            self.refuse_next = False
            raise ConnectionError("database unavailable")
        self.batches += 1
        for video_id, added in views.items():
            self.totals[video_id] = self.totals.get(video_id, 0) + added


async def test_many_views_of_a_video_reach_its_total_in_one_batch() -> None:
    totals = Totals()
    counter = ViewCounter(totals)  # type: ignore[arg-type]
    pending = [counter.count("a") for _ in range(500)] + [counter.count("b")]
    await counter.flush()
    assert pending[-2] == 500, "each viewer sees their own view at once"
    assert totals.totals == {"a": 500, "b": 1} and totals.batches == 1
    await counter.flush()
    assert totals.batches == 1, "nothing new, nothing written"


async def test_a_refused_batch_is_added_with_the_next_one() -> None:
    totals = Totals()
    counter = ViewCounter(totals)  # type: ignore[arg-type]
    counter.count("a"), counter.count("a")
    totals.refuse_next = True
    with pytest.raises(ConnectionError):
        await counter.flush()
    counter.count("a")
    await counter.flush()
    assert totals.totals == {"a": 3}


async def test_stopping_flushes_what_is_left() -> None:
    totals = Totals()
    counter = ViewCounter(totals)  # type: ignore[arg-type]
    stop = asyncio.Event()
    running = asyncio.create_task(counter.run(stop))
    counter.count("a")
    stop.set()
    await asyncio.wait_for(running, 5)
    assert totals.totals == {"a": 1}
