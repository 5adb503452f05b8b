"""Answers just read, kept for about a second: a thing many callers ask for at once (a video everyone opens) is
read from its source about once a second per process, not once per caller.

Changes this process makes drop the answers they touch at once (`forget`); changes made elsewhere show within
`seconds`, as a CDN in front would show them later still.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from videoforge.kit.lru_cache import LruCache

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

RECENT_SECONDS = 1.0
RECENT_CAPACITY = 10_000


@dataclass(frozen=True, slots=True)
class _Read(Generic[V]):
    value: V
    at: float


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
        # Bumped by every `forget`: a read that began before one may hold what it dropped, and is not kept.
        self._generation = 0

    async def get(self, key: K, read: Callable[[], Awaitable[V]], *, keep: Callable[[V], bool] = bool) -> V:
        """The answer read for `key` within the last `seconds`, or `read()`'s, kept when `keep` says so."""
        kept = self._reads.get(key)
        now = self._clock()
        if kept is not None and now - kept.at < self._seconds:
            return kept.value
        generation = self._generation
        value = await read()
        if generation == self._generation and keep(value):
            self._reads.put(key, _Read(value, now))
        return value

    def forget(self, *keys: K) -> None:
        self._generation += 1
        for key in keys:
            self._reads.pop(key)
