"""The job service's own history for the admin page: when each job entered each state, and queue samples.

A stage entry is written in the transaction that changes the job's state, so the history matches the jobs.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    Identity,
    Index,
    Integer,
    String,
    Table,
    delete,
    insert,
    text,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from videoforge.job.adapters.tables import metadata
from videoforge.job.domain.insights import STAGES, Activity, HourOfJobs, HourOfStages, QueueSample

stage_entries = Table(
    "stage_entries",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("job_id", String(32), nullable=False),
    Column("state", String(16), nullable=False),
    Column("entered_time", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Index("stage_entries_job_idx", "job_id", "entered_time"),
)

queue_samples = Table(
    "queue_samples",
    metadata,
    Column("sample_time", DateTime(timezone=True), primary_key=True),
    Column("depth", Integer, nullable=False),
    Column("oldest_wait_seconds", Float, nullable=False),
)

_JOBS_PER_HOUR = text("""
    SELECT date_trunc('hour', create_time) AS hour, state, count(*) AS jobs
    FROM job.jobs WHERE create_time >= :since GROUP BY 1, 2 ORDER BY 1
""")
# Each entry lasts until the job's next one; a stage entered again (a retry) adds up. Finished jobs only, by the
# hour they finished in.
_STAGE_SECONDS = text("""
    WITH spans AS (
        SELECT e.job_id, e.state,
               extract(epoch FROM lead(e.entered_time) OVER (PARTITION BY e.job_id ORDER BY e.entered_time, e.id)
                                  - e.entered_time) AS seconds
        FROM job.stage_entries e JOIN job.jobs j ON j.id = e.job_id
        WHERE j.end_time >= :since
    ), per_job AS (
        SELECT job_id, state, sum(seconds) AS seconds FROM spans
        WHERE seconds IS NOT NULL AND state = ANY(:stages) GROUP BY 1, 2
    )
    SELECT date_trunc('hour', j.end_time) AS hour, p.state, avg(p.seconds) AS seconds, count(*) AS jobs
    FROM per_job p JOIN job.jobs j ON j.id = p.job_id GROUP BY 1, 2 ORDER BY 1
""")


async def record_stage_entry(conn: AsyncConnection, job_id: str, state: str) -> None:
    await conn.execute(insert(stage_entries).values(job_id=job_id, state=state))


class PostgresActivityRecords:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def activity_since(self, since: datetime) -> Activity:
        async with self._engine.connect() as conn:
            jobs = (await conn.execute(_JOBS_PER_HOUR, {"since": since})).all()
            stages = (await conn.execute(_STAGE_SECONDS, {"since": since, "stages": list(STAGES)})).all()
            samples = (
                await conn.execute(
                    queue_samples.select().where(queue_samples.c.sample_time >= since).order_by("sample_time")
                )
            ).all()
        return Activity(
            jobs_per_hour=_hours_of_jobs(jobs),
            stage_seconds=_hours_of_stages(stages),
            queue_depth=[QueueSample(row.sample_time, row.depth, row.oldest_wait_seconds) for row in samples],
        )

    async def add_queue_sample(self, sample: QueueSample, *, keep_since: datetime) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(queue_samples).values(
                    sample_time=sample.time, depth=sample.depth, oldest_wait_seconds=sample.oldest_wait_seconds
                )
            )
            await conn.execute(delete(queue_samples).where(queue_samples.c.sample_time < keep_since))
            await conn.execute(delete(stage_entries).where(stage_entries.c.entered_time < keep_since))


def _hours_of_jobs(rows: Any) -> list[HourOfJobs]:
    hours: dict[datetime, dict[str, int]] = defaultdict(dict)
    for row in rows:
        hours[row.hour][row.state] = int(row.jobs)
    return [HourOfJobs(hour, counts) for hour, counts in sorted(hours.items())]


def _hours_of_stages(rows: Any) -> list[HourOfStages]:
    seconds: dict[datetime, dict[str, float]] = defaultdict(dict)
    jobs: dict[datetime, int] = defaultdict(int)
    for row in rows:
        seconds[row.hour][row.state] = float(row.seconds)
        # Every finished job waited in the queue first, so the busiest stage counts them all.
        jobs[row.hour] = max(jobs[row.hour], int(row.jobs))
    return [HourOfStages(hour, averages, jobs[hour]) for hour, averages in sorted(seconds.items())]
