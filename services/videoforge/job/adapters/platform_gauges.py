"""The job service's Prometheus gauges: the queue's depth and wait, jobs by state, bytes stored.

Refreshed from the platform's own records every few seconds, so a scrape only reads the last values: it never
runs a query, lists a bucket, or waits on the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from prometheus_client import Gauge

from videoforge.job.domain.jobs import STATES
from videoforge.job.domain.ports import JobRepository
from videoforge.queue.port import JobQueue

REFRESH_SECONDS = 5.0
log = logging.getLogger(__name__)

QUEUE_DEPTH = Gauge("videoforge_queue_depth", "Job messages waiting for a worker or held by one.")
QUEUE_OLDEST_WAITING = Gauge(
    "videoforge_queue_oldest_waiting_age_seconds",
    "Seconds the longest-waiting job message not held by a worker has waited (PostgreSQL queue; on SQS, "
    "CloudWatch's ApproximateAgeOfOldestMessage).",
)
JOBS = Gauge("videoforge_jobs", "Jobs by state.", ["state"])
STORED_BYTES = Gauge("videoforge_stored_bytes", "Bytes in the object store by kind (outputs, sources).", ["kind"])


async def refresh_once(repository: JobRepository, queue: JobQueue) -> None:
    # Everything read first, then set together: a scrape never sees one pass's job counts beside an older
    # pass's bytes (jobs are counted before their bytes, so a completed job's outputs are always in).
    counts = await repository.state_counts()
    stored = await repository.stored_bytes()
    depth, age = await queue.depth(), await queue.oldest_waiting_age()
    for state in STATES:
        JOBS.labels(str(state)).set(counts.get(str(state), 0))
    for kind, size in stored.items():
        STORED_BYTES.labels(kind).set(size)
    QUEUE_DEPTH.set(depth)
    if age is not None:
        QUEUE_OLDEST_WAITING.set(age)


async def keep_gauges_fresh(repository: JobRepository, queue: JobQueue, stop: asyncio.Event) -> None:
    """Refreshes the gauges until `stop` is set; a failed pass (database restarting) keeps the last values."""
    while not stop.is_set():
        try:
            await refresh_once(repository, queue)
        except Exception:
            log.warning("could not refresh the job gauges; retrying", exc_info=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), REFRESH_SECONDS)
