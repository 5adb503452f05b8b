"""Answers just read, kept for about a second: a thing many callers ask for at once (a video everyone opens) is
read from its source about once a second per process, not once per caller.

No caller waits for the once-a-second read while others are asking: an answer past half its time is read again
in the background while it is still given out, and callers that miss at the same moment share one read.

Changes this process makes drop the answers they touch at once (`forget`); changes made elsewhere show within
`seconds`, as a CDN in front would show them later still.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from videoforge.kit.lru_cache import LruCache

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

RECENT_SECONDS = 1.0
RECENT_CAPACITY = 10_000
# An answer this far into its time is read again in the background: the new one is in before the old one ends.
REFRESH_SHARE = 0.5

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Read(Generic[V]):
    value: V
    at: float


@dataclass(frozen=True, slots=True)
class _InFlight(Generic[V]):
    task: asyncio.Task[V]
    generation: int


class RecentReads(Generic[K, V]):
    def __init__(
        self,
        *,
        seconds: float = RECENT_SECONDS,
        capacity: int = RECENT_CAPACITY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._seconds, self._clock = seconds, clock
        self._reads: LruCache[K, _Read[V]] = LruCache(capacity)
        self._in_flight: dict[K, _InFlight[V]] = {}
        # Bumped by every `forget`: a read that began before one may hold what it dropped, and is not kept.
        self._generation = 0

    async def get(self, key: K, read: Callable[[], Awaitable[V]], *, keep: Callable[[V], bool] = bool) -> V:
        """The answer read for `key` within the last `seconds`, or `read()`'s, kept when `keep` says so. Only
        answers `keep` accepts are shared with other callers: another answer may be for this caller alone."""
        kept = self._reads.get(key)
        now = self._clock()
        if kept is not None and now - kept.at < self._seconds:
            if now - kept.at >= self._seconds * REFRESH_SHARE and key not in self._in_flight:
                self._start(key, read, keep)
            return kept.value
        flight = self._in_flight.get(key)
        if flight is not None and flight.generation == self._generation:
            value = await asyncio.shield(flight.task)
            if keep(value):
                return value
        return await asyncio.shield(self._start(key, read, keep))

    def forget(self, *keys: K) -> None:
        self._generation += 1
        for key in keys:
            self._reads.pop(key)

    def _start(self, key: K, read: Callable[[], Awaitable[V]], keep: Callable[[V], bool]) -> asyncio.Task[V]:
        """One read of `key`, in a task of its own (a caller that gives up does not cancel it for the others),
        kept on success unless a `forget` came after it began."""
        generation, started = self._generation, self._clock()

        async def reading() -> V:
            try:
                value = await read()
            finally:
                if (flight := self._in_flight.get(key)) is not None and flight.task is task:
                    del self._in_flight[key]
            if generation == self._generation and keep(value):
                self._reads.put(key, _Read(value, started))
            return value

        task = asyncio.ensure_future(reading())
        task.add_done_callback(_failure_seen)
        self._in_flight[key] = _InFlight(task, generation)
        return task


def _failure_seen(task: asyncio.Task[object]) -> None:
    """A read may end with nobody waiting for it (it ran in the background, or its callers gave up): its failure
    is noted here, and whoever asks next reads again and meets it."""
    with contextlib.suppress(asyncio.CancelledError):
        if (error := task.exception()) is not None:
            logger.debug("a read of a recent answer failed: %s", error)
