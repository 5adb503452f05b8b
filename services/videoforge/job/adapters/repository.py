"""Jobs, assets and publications in PostgreSQL. Worker reports are fenced on the attempt number."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from videoforge.job.adapters.tables import assets, jobs, publications
from videoforge.job.domain.jobs import FAILED, FINAL_STATES, PENDING, Asset, Job, JobError
from videoforge.queue.postgres import TransactionalEnqueuer


def _job(row: Mapping[str, Any]) -> Job:
    values = dict(row)
    values.pop("video_synced", None)
    values["error"] = JobError(**values["error"]) if values["error"] else None
    return Job(**values)


def _values(job: Job) -> dict[str, Any]:
    values = asdict(job)
    values["error"] = asdict(job.error) if job.error else None
    return values


def _now() -> datetime:
    return datetime.now(UTC)


async def _update_in(conn: AsyncConnection, job_id: str, condition: Any, values: dict[str, Any]) -> Job | None:
    update_job = update(jobs).where(jobs.c.id == job_id, condition).values(**values, update_time=_now())
    row = (await conn.execute(update_job.returning(*jobs.c))).mappings().first()
    return _job(row) if row else None


class PostgresJobRepository:
    def __init__(self, engine: AsyncEngine, enqueuer: TransactionalEnqueuer) -> None:
        self._engine, self._enqueuer = engine, enqueuer

    async def create(self, job: Job, payload: Mapping[str, Any]) -> Job:
        # The job row and its queue message commit together, or neither does.
        async with self._engine.begin() as conn:
            await conn.execute(insert(jobs).values(**_values(job)))
            await self._enqueuer.enqueue_in(conn, job.id, payload)
        return job

    async def get(self, job_id: str) -> Job | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(jobs).where(jobs.c.id == job_id))).mappings().first()
        return _job(row) if row else None

    async def list(
        self, *, owner_id: str = "", state: str = "", video_id: str = "", offset: int, limit: int
    ) -> tuple[list[Job], int]:
        conditions = [
            c
            for c in (
                jobs.c.owner_id == owner_id if owner_id else None,
                jobs.c.state == state if state else None,
                jobs.c.video_id == video_id if video_id else None,
            )
            if c is not None
        ]
        where = and_(True, *conditions)
        query = select(jobs).where(where).order_by(jobs.c.create_time.desc(), jobs.c.id).offset(offset).limit(limit)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
            total = (await conn.execute(select(func.count()).select_from(jobs).where(where))).scalar_one()
        return [_job(r) for r in rows], total

    async def start_attempt(self, job_id: str, attempt: int, values: dict[str, Any]) -> Job | None:
        """A delivery takes the job unless it finished or a newer attempt already holds it."""
        return await self._update_where(job_id, and_(jobs.c.attempt <= attempt, self._not_final()), values)

    async def report(self, job_id: str, attempt: int, values: dict[str, Any]) -> Job | None:
        """The fence: counts only from the current attempt of an unfinished job."""
        return await self._update_where(job_id, self._holds(attempt), values)

    async def finish_unless_final(self, job_id: str, values: dict[str, Any]) -> Job | None:
        return await self._update_where(job_id, self._not_final(), values)

    async def _update_where(self, job_id: str, condition: Any, values: dict[str, Any]) -> Job | None:
        """Applies `values` only if the row still matches `condition`; None when it did not."""
        async with self._engine.begin() as conn:
            return await _update_in(conn, job_id, condition, values)

    @staticmethod
    def _holds(attempt: int) -> Any:
        return and_(jobs.c.attempt == attempt, jobs.c.state.not_in(FINAL_STATES))

    @staticmethod
    def _not_final() -> Any:
        return jobs.c.state.not_in(FINAL_STATES)

    async def complete(
        self, job_id: str, attempt: int, values: dict[str, Any], produced: Sequence[Asset]
    ) -> Job | None:
        """Marks the attempt COMPLETED, records its assets and switches the video to it, atomically."""
        async with self._engine.begin() as conn:
            job = await _update_in(conn, job_id, self._holds(attempt), {**values, "end_time": _now()})
            if job is None:
                return None
            if produced:
                await conn.execute(insert(assets), [asdict(a) for a in produced])
            await conn.execute(
                pg_insert(publications)
                .values(video_id=job.video_id, job_id=job.id)
                .on_conflict_do_update(index_elements=["video_id"], set_={"job_id": job.id})
            )
        return job

    async def assets_of(self, job_id: str) -> list[Asset]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(assets).where(assets.c.job_id == job_id))).mappings().all()
        return [Asset(**r) for r in rows]

    async def published(self, video_id: str) -> tuple[Job, list[Asset]] | None:
        """The job a video plays from, and its assets: every playback asks, so one connection serves both."""
        playing = select(jobs).join(publications, publications.c.job_id == jobs.c.id)
        async with self._engine.connect() as conn:
            row = (await conn.execute(playing.where(publications.c.video_id == video_id))).mappings().first()
            if row is None:
                return None
            produced = (await conn.execute(select(assets).where(assets.c.job_id == row["id"]))).mappings().all()
        return _job(row), [Asset(**r) for r in produced]

    async def state_counts(self) -> dict[str, int]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(jobs.c.state, func.count()).group_by(jobs.c.state))).all()
        return {state: count for state, count in rows}

    async def average_processing_seconds(self) -> float:
        seconds = func.extract("epoch", jobs.c.end_time - jobs.c.start_time)
        async with self._engine.connect() as conn:
            value = (
                await conn.execute(select(func.avg(seconds)).where(jobs.c.state == "COMPLETED"))
            ).scalar_one_or_none()
        return float(value or 0.0)

    async def restart_failed(self) -> list[Job]:
        """Every FAILED job back to PENDING with a fresh queue message, in one transaction.

        The attempt count restarts with the message's, which counts deliveries from one again."""
        async with self._engine.begin() as conn:
            rows = (
                (
                    await conn.execute(
                        update(jobs)
                        .where(jobs.c.state == FAILED)
                        .values(state=PENDING, progress=0, attempt=0, error=None, end_time=None, update_time=_now())
                        .returning(*jobs.c)
                    )
                )
                .mappings()
                .all()
            )
            for row in rows:
                await self._enqueuer.enqueue_in(conn, row["id"], {"video_id": row["video_id"]})
        return [_job(row) for row in rows]

    async def old_finished(self, days: int) -> list[Job]:
        cutoff = _now() - timedelta(days=days)
        published_ids = select(publications.c.job_id)
        query = select(jobs).where(
            jobs.c.state.in_(FINAL_STATES),
            func.coalesce(jobs.c.end_time, jobs.c.update_time) < cutoff,
            jobs.c.id.not_in(published_ids),
        )
        async with self._engine.connect() as conn:
            return [_job(r) for r in (await conn.execute(query)).mappings().all()]

    async def for_video(self, video_id: str) -> list[Job]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(jobs).where(jobs.c.video_id == video_id))).mappings().all()
        return [_job(r) for r in rows]

    async def set_video_synced(self, job_id: str, synced: bool) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(update(jobs).where(jobs.c.id == job_id).values(video_synced=synced))

    async def unsynced(self, limit: int = 100) -> list[Job]:
        query = select(jobs).where(jobs.c.video_synced.is_(False)).limit(limit)
        async with self._engine.connect() as conn:
            return [_job(r) for r in (await conn.execute(query)).mappings().all()]

    async def delete_jobs(self, job_ids: Sequence[str]) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(delete(assets).where(assets.c.job_id.in_(job_ids)))
            await conn.execute(delete(publications).where(publications.c.job_id.in_(job_ids)))
            await conn.execute(delete(jobs).where(jobs.c.id.in_(job_ids)))
