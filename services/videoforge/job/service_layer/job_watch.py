"""Live job changes for watchers and event readers, with one database read per change however many watch.

A change is heard in this process (`notify`), from other replicas through the change listener, or both: the
reads a watched job's changes cause are merged over `SETTLE_SECONDS`, and the job read once is handed to every
watcher of it. Streams are bounded per user and in time (`WatchLimits`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from videoforge.job.domain.jobs import Job
from videoforge.kit.errors import ResourceExhausted

log = logging.getLogger(__name__)

# Changes heard within this long cause one read: a change made here is heard twice (directly and as a notice).
SETTLE_SECONDS = 0.05
# After a failed read, the job is read again this much later.
RETRY_READ_SECONDS = 1.0


@dataclass(frozen=True)
class WatchLimits:
    streams_per_user: int = 10
    # A stream ends cleanly after a lifetime drawn between 90% and 100% of this, so that clients resuming after
    # it (the web app and the CLI do) spread their resumes.
    max_stream_seconds: float = 600.0

    def stream_seconds(self) -> float:
        return self.max_stream_seconds * random.uniform(0.9, 1.0)


class JobFeed:
    """The latest state of one watched job, published to each of its watchers."""

    def __init__(self) -> None:
        self.job: Job | None = None
        self.generation = 0
        self.watchers = 0
        self._published = asyncio.Event()
        self._refresh: asyncio.Task[None] | None = None
        self._stale = False

    def publish(self, job: Job | None) -> None:
        self.job, self.generation = job, self.generation + 1
        self._published.set()
        self._published = asyncio.Event()

    async def changed_since(self, generation: int, timeout: float) -> bool:
        """Whether a state newer than `generation` is published within `timeout` seconds."""
        if self.generation != generation:
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._published.wait(), timeout)
        return self.generation != generation

    def mark_stale(self, read: Callable[[], Awaitable[Job | None]]) -> None:
        self._stale = True
        if self._refresh is None or self._refresh.done():
            self._refresh = asyncio.create_task(self._read_while_stale(read))

    async def _read_while_stale(self, read: Callable[[], Awaitable[Job | None]]) -> None:
        while self._stale and self.watchers:
            await asyncio.sleep(SETTLE_SECONDS)
            self._stale = False
            try:
                self.publish(await read())
            except Exception:
                log.warning("reading a watched job failed; trying again", exc_info=True)
                self._stale = True
                await asyncio.sleep(RETRY_READ_SECONDS)

    def close(self) -> None:
        if self._refresh is not None:
            self._refresh.cancel()


class JobChanges:
    """Wakes watchers of a job, and readers of the event log, when a job changes."""

    def __init__(self, read_job: Callable[[str], Awaitable[Job | None]], limits: WatchLimits | None = None) -> None:
        self._read_job = read_job
        self.limits = limits or WatchLimits()
        self._feeds: dict[str, JobFeed] = {}
        self._streams: dict[str, int] = defaultdict(int)
        self._any = asyncio.Event()
        self._closed = False

    def notify(self, job_id: str) -> None:
        self._wake_event_readers()
        if (feed := self._feeds.get(job_id)) is not None:
            self._refresh(job_id, feed)

    def notify_all(self) -> None:
        """Every job may have changed (changes went unheard while the listener was reconnecting)."""
        self._wake_event_readers()
        for job_id, feed in self._feeds.items():
            self._refresh(job_id, feed)

    def _wake_event_readers(self) -> None:
        self._any.set()
        self._any = asyncio.Event()

    def _refresh(self, job_id: str, feed: JobFeed) -> None:
        feed.mark_stale(lambda: self._read_job(job_id))

    async def wait_any(self, timeout: float) -> None:
        if self._closed:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._any.wait(), timeout)

    def close(self) -> None:
        """The process is stopping: readers of the event log waiting for a change answer now, and later ones at
        once, so that no stop waits out a long poll (the reader asks again, of a replica still serving)."""
        self._closed = True
        self._wake_event_readers()

    @contextlib.asynccontextmanager
    async def stream_slot(self, user_id: str) -> AsyncIterator[None]:
        """Holds one of the user's concurrent watch streams; RESOURCE_EXHAUSTED when all are taken."""
        if self._streams[user_id] >= self.limits.streams_per_user:
            raise ResourceExhausted(
                f"At most {self.limits.streams_per_user} jobs can be watched at once per user; "
                "close a watch and try again.",
                "TOO_MANY_WATCHES",
            )
        self._streams[user_id] += 1
        try:
            yield
        finally:
            self._streams[user_id] -= 1
            if not self._streams[user_id]:
                del self._streams[user_id]

    @contextlib.asynccontextmanager
    async def follow(self, job_id: str) -> AsyncIterator[JobFeed]:
        """The job's shared feed, kept current while anyone follows it."""
        feed = self._feeds.setdefault(job_id, JobFeed())
        feed.watchers += 1
        try:
            yield feed
        finally:
            feed.watchers -= 1
            if not feed.watchers:
                feed.close()
                del self._feeds[job_id]
