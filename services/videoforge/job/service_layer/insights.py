"""The admin page's activity figures, and the queue samples they draw on."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from videoforge.job.domain.insights import DEFAULT_HOURS, MAX_HOURS, SAMPLE_RETENTION_HOURS, Activity, ActivityRecords
from videoforge.job.domain.insights import QueueSample as Sample
from videoforge.kit.errors import InvalidArgument
from videoforge.kit.principal import require_admin
from videoforge.queue.port import JobQueue

log = logging.getLogger(__name__)


async def recent_activity(records: ActivityRecords, hours: int) -> Activity:
    require_admin()
    if not 0 <= hours <= MAX_HOURS:
        raise InvalidArgument.for_field("hours", f"must be between 1 and {MAX_HOURS} (0: {DEFAULT_HOURS})")
    return await records.activity_since(datetime.now(UTC) - timedelta(hours=hours or DEFAULT_HOURS))


async def sample_queue(queue: JobQueue, records: ActivityRecords, stop: asyncio.Event, interval: float) -> None:
    """Records the queue's depth every `interval` seconds until `stop` is set; a failed sample is only a gap."""
    while not stop.is_set():
        try:
            now = datetime.now(UTC)
            sample = Sample(now, await queue.depth(), await queue.oldest_waiting_age() or 0.0)
            await records.add_queue_sample(sample, keep_since=now - timedelta(hours=SAMPLE_RETENTION_HOURS))
        except Exception:
            log.warning("could not sample the queue", exc_info=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
