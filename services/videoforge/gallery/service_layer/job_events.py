"""Job state reaches videos one way: the gallery drains the job service's event log.

Each event carries the whole state its video shows and a per-video version, so applying is idempotent and
order-safe: a repeat or an older event is skipped, and acknowledging comes only after applying. An event
that was applied but not acknowledged (a crash in between) arrives again and is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace

from videoforge.gallery.domain.ports import JobEventFeed, VideoRepository
from videoforge.gallery.domain.videos import JobUpdate
from videoforge.media_model import is_video_key

log = logging.getLogger(__name__)

BATCH = 100
ERROR_SECONDS = 1.0

# Runs after an update took effect (a published output's source captions are added this way).
AfterUpdate = Callable[[JobUpdate], Awaitable[None]]


async def apply_job_events(
    videos: VideoRepository, feed: JobEventFeed, *, limit: int = BATCH, after: AfterUpdate | None = None
) -> int:
    """Applies one batch; returns how many events it read."""
    batch = await feed.next_batch(limit)
    for update in batch:
        update = with_own_keys_only(update)
        if await videos.apply_job_update(update) and after is not None:
            try:
                await after(update)
            except Exception:
                # What follows an update never holds up the next ones; the update itself stays applied.
                log.exception("after applying job event %s of video %s", update.event_id, update.video_id)
    if batch:
        await feed.acknowledge([update.event_id for update in batch])
    return len(batch)


def with_own_keys_only(update: JobUpdate) -> JobUpdate:
    """The update without image keys outside its video's folder: the gallery signs what it records, and a
    video's grant must never reach another's files."""
    playing = update.playing
    if playing is None:
        return update
    poster, preview = (
        key if is_video_key(key, update.video_id) else "" for key in (playing.poster_key, playing.preview_key)
    )
    if (poster, preview) == (playing.poster_key, playing.preview_key):
        return update
    log.error("job %s named images outside video %s; they are left out", update.job.job_id, update.video_id)
    return replace(update, playing=replace(playing, poster_key=poster, preview_key=preview))


async def follow_job_events(
    videos: VideoRepository, feed: JobEventFeed, stop: asyncio.Event, after: AfterUpdate | None = None
) -> None:
    """Applies events until `stop` is set; an outage of the job service or the database only delays them."""
    while not stop.is_set():
        try:
            # The feed waits for events itself, so this loop runs again as soon as there are some.
            await apply_job_events(videos, feed, after=after)
        except Exception:
            log.warning("could not apply job events; retrying", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), ERROR_SECONDS)
