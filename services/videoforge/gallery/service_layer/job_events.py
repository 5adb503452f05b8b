"""Job state reaches videos one way: the gallery drains the job service's event log.

Each event carries the whole state its video shows and a per-video version, so applying is idempotent and
order-safe: a repeat or an older event is skipped, and acknowledging comes only after applying. An event
that was applied but not acknowledged (a crash in between) arrives again and is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from videoforge.gallery.domain.ports import JobEventFeed, VideoRepository

log = logging.getLogger(__name__)

BATCH = 100
ERROR_SECONDS = 1.0


async def apply_job_events(videos: VideoRepository, feed: JobEventFeed, *, limit: int = BATCH) -> int:
    """Applies one batch; returns how many events it read."""
    batch = await feed.next_batch(limit)
    for update in batch:
        await videos.apply_job_update(update)
    if batch:
        await feed.acknowledge([update.event_id for update in batch])
    return len(batch)


async def follow_job_events(videos: VideoRepository, feed: JobEventFeed, stop: asyncio.Event) -> None:
    """Applies events until `stop` is set; an outage of the job service or the database only delays them."""
    while not stop.is_set():
        try:
            # The feed waits for events itself, so this loop runs again as soon as there are some.
            await apply_job_events(videos, feed)
        except Exception:
            log.warning("could not apply job events; retrying", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), ERROR_SECONDS)
