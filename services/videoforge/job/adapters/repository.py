"""Jobs, assets, publications and job events in PostgreSQL. Worker reports are fenced on the attempt number,
and every change of a job's state writes its event in the same transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from videoforge.job.adapters.change_notices import announce_change
from videoforge.job.adapters.insights import record_stage_entry
from videoforge.job.adapters.tables import assets, events, jobs, publications, video_versions
from videoforge.job.domain.jobs import (
    COMPLETED,
    DOWNLOADING,
    FAILED,
    FINAL_STATES,
    PENDING,
    WORKING_STATES,
    Asset,
    Job,
    JobError,
    JobEvent,
    Publication,
)
from videoforge.job.domain.ports import JobRepository
from videoforge.media_model import MediaSummary, Rendition, attempt_prefix
from videoforge.queue.postgres import TransactionalEnqueuer


def _job(row: Mapping[str, Any]) -> Job:
    values = dict(row)
    values["error"] = JobError(**values["error"]) if values["error"] else None
    values["media"] = MediaSummary.from_fields(values["media"])
    values["renditions"] = [Rendition.from_fields(r) for r in values["renditions"]]
    return Job(**values)


def _values(job: Job) -> dict[str, Any]:
    return _stored(asdict(job))


def _stored(values: dict[str, Any]) -> dict[str, Any]:
    """Column values with typed ones (error, media, renditions) as the JSON they are stored as."""
    stored = dict(values)
    if isinstance(stored.get("error"), JobError):
        stored["error"] = asdict(stored["error"])
    if isinstance(stored.get("media"), MediaSummary):
        stored["media"] = stored["media"].as_fields()
    if "renditions" in stored:
        stored["renditions"] = [r if isinstance(r, dict) else r.as_fields() for r in stored["renditions"]]
    return stored


def _now() -> datetime:
    return datetime.now(UTC)


def _lease_end(seconds: float) -> Any:
    # The database's clock: every replica and worker agrees on when a lease ends.
    return func.now() + timedelta(seconds=seconds)


async def _publication_in(conn: AsyncConnection, video_id: str) -> Publication | None:
    playing = (
        await conn.execute(
            select(jobs.c.id, jobs.c.media, jobs.c.loudness)
            .join(publications, publications.c.job_id == jobs.c.id)
            .where(publications.c.video_id == video_id)
        )
    ).first()
    if playing is None:
        return None
    images = dict(
        (
            await conn.execute(
                select(assets.c.kind, assets.c.key).where(
                    assets.c.job_id == playing.id, assets.c.kind.in_(("POSTER", "PREVIEW"))
                )
            )
        ).all()
    )
    return Publication(
        job_id=playing.id,
        poster_key=images.get("POSTER", ""),
        preview_key=images.get("PREVIEW", ""),
        duration_seconds=float(playing.media.get("duration_seconds", 0.0)),
        loudness=playing.loudness,
    )


async def _emit(conn: AsyncConnection, job: Job, *, entered_state: bool = True) -> None:
    """Writes the event of `job`'s new state, and (`entered_state`) when it entered that state for the admin
    page's stage times. The upsert locks the video's counter row until commit, so a video's events take versions
    in the order their transactions commit."""
    version = (
        await conn.execute(
            pg_insert(video_versions)
            .values(video_id=job.video_id, version=1)
            .on_conflict_do_update(index_elements=["video_id"], set_={"version": video_versions.c.version + 1})
            .returning(video_versions.c.version)
        )
    ).scalar_one()
    publication = await _publication_in(conn, job.video_id)
    payload = {
        "job_id": job.id,
        "state": str(job.state),
        "progress": job.progress,
        "error_message": job.error.message if job.error else "",
        "publication": asdict(publication) if publication else None,
        "media": job.media.as_fields() if job.media != MediaSummary() else None,
    }
    await conn.execute(insert(events).values(video_id=job.video_id, version=version, payload=payload))
    if entered_state:
        await record_stage_entry(conn, job.id, job.state)
    await announce_change(conn, job.id)


async def _change_in(conn: AsyncConnection, job_id: str, condition: Any, values: dict[str, Any]) -> Job | None:
    """Applies `values` if the row still matches `condition`; writes an event when the state changed."""
    before = (await conn.execute(select(jobs.c.state).where(jobs.c.id == job_id).with_for_update())).scalar()
    if before is None:
        return None
    update_job = update(jobs).where(jobs.c.id == job_id, condition).values(**_stored(values), update_time=_now())
    row = (await conn.execute(update_job.returning(*jobs.c))).mappings().first()
    if row is None:
        return None
    job = _job(row)
    # A probe's findings reach the video as an event too: an imported source is probed while the job runs.
    if job.state != before or "media" in values:
        await _emit(conn, job, entered_state=job.state != before)
    else:
        await announce_change(conn, job.id)
    return job


class PostgresJobRepository(JobRepository):
    def __init__(self, engine: AsyncEngine, enqueuer: TransactionalEnqueuer) -> None:
        self._engine, self._enqueuer = engine, enqueuer

    async def create(self, job: Job) -> Job:
        # The job row, its event and its queue message commit together, or none does.
        async with self._engine.begin() as conn:
            added = await conn.execute(
                pg_insert(jobs)
                .values(**_values(job))
                .on_conflict_do_nothing(index_elements=["video_id", "request_id"], index_where=jobs.c.request_id != "")
                .returning(jobs.c.id)
            )
            if added.first() is None:
                existing = select(jobs).where(jobs.c.video_id == job.video_id, jobs.c.request_id == job.request_id)
                return _job((await conn.execute(existing)).mappings().one())
            await _emit(conn, job)
            await self._enqueuer.enqueue_in(conn, job.id, job.queue_payload())
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

    async def start_attempt(self, job_id: str, delivery_token: str, lease_seconds: float) -> Job | None:
        startable = and_(
            self._not_final(),
            jobs.c.delivery_token != delivery_token,
            or_(jobs.c.state == PENDING, jobs.c.lease_expires_at.is_(None), jobs.c.lease_expires_at <= func.now()),
        )
        values = {
            "attempt": jobs.c.attempt + 1,
            "delivery_token": delivery_token,
            "state": DOWNLOADING,
            "progress": 0,
            "start_time": _now(),
            "lease_expires_at": _lease_end(lease_seconds),
        }
        return await self._update_where(job_id, startable, values)

    async def report(
        self, job_id: str, attempt: int, values: dict[str, Any], *, lease_seconds: float = 0
    ) -> Job | None:
        if lease_seconds:
            values = {**values, "lease_expires_at": _lease_end(lease_seconds)}
        return await self._update_where(job_id, self._holds(attempt), values)

    async def finish_unless_final(self, job_id: str, values: dict[str, Any], *, run: int | None = None) -> Job | None:
        condition = self._not_final() if run is None else and_(self._not_final(), jobs.c.run == run)
        return await self._update_where(job_id, condition, values)

    async def _update_where(self, job_id: str, condition: Any, values: dict[str, Any]) -> Job | None:
        async with self._engine.begin() as conn:
            return await _change_in(conn, job_id, condition, values)

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
            row = (
                (
                    await conn.execute(
                        update(jobs)
                        .where(jobs.c.id == job_id, self._holds(attempt))
                        .values(**_stored(values), end_time=_now(), update_time=_now())
                        .returning(*jobs.c)
                    )
                )
                .mappings()
                .first()
            )
            if row is None:
                return None
            job = _job(row)
            # The growing output's manifests, if it had one, give way to the completed set's assets.
            await conn.execute(delete(assets).where(assets.c.job_id == job_id))
            if produced:
                await conn.execute(insert(assets), [asdict(a) for a in produced])
            await conn.execute(
                pg_insert(publications)
                .values(video_id=job.video_id, job_id=job.id)
                .on_conflict_do_update(index_elements=["video_id"], set_={"job_id": job.id})
            )
            # After the switch, so the event carries the new publication.
            await _emit(conn, job)
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

    async def record_live(
        self, job_id: str, attempt: int, values: dict[str, Any], manifests: Sequence[Asset], *, lease_seconds: float
    ) -> Job | None:
        values = {**values, "lease_expires_at": _lease_end(lease_seconds)}
        async with self._engine.begin() as conn:
            job = await _change_in(conn, job_id, self._holds(attempt), values)
            if job is not None:
                # A repeat replaces what the first report stored.
                await conn.execute(delete(assets).where(assets.c.job_id == job_id))
                await conn.execute(insert(assets), [asdict(a) for a in manifests])
        return job

    async def live(self, video_id: str) -> tuple[Job, list[Asset]] | None:
        running = (
            select(jobs)
            .where(jobs.c.video_id == video_id, jobs.c.state.in_(WORKING_STATES))
            .order_by(jobs.c.create_time.desc())
        )
        async with self._engine.connect() as conn:
            for row in (await conn.execute(running)).mappings().all():
                job = _job(row)
                # Only the current attempt's: an earlier attempt's output is not growing any more.
                current = assets.c.key.startswith(attempt_prefix(job.video_id, job.id, job.attempt), autoescape=True)
                found = (await conn.execute(select(assets).where(assets.c.job_id == job.id, current))).mappings()
                manifests = [Asset(**r) for r in found.all()]
                if manifests:
                    return job, manifests
        return None

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

    async def stored_bytes(self) -> dict[str, int]:
        source_size = jobs.c.media["size_bytes"].as_integer()
        sources = select(source_size.label("size")).distinct(jobs.c.input_source).subquery()
        async with self._engine.connect() as conn:
            outputs = (await conn.execute(select(func.coalesce(func.sum(assets.c.size_bytes), 0)))).scalar_one()
            inputs = (await conn.execute(select(func.coalesce(func.sum(sources.c.size), 0)))).scalar_one()
        return {"outputs": int(outputs), "sources": int(inputs)}

    async def restart_failed(self) -> list[Job]:
        restart = (
            update(jobs)
            .where(jobs.c.state == FAILED)
            .values(
                state=PENDING,
                progress=0,
                run=jobs.c.run + 1,
                error=None,
                end_time=None,
                lease_expires_at=None,
                update_time=_now(),
            )
        )
        return await self._requeue(restart)

    async def rerun_unless_final(self, job_id: str, run: int) -> Job | None:
        rerun = (
            update(jobs)
            .where(jobs.c.id == job_id, jobs.c.run == run, self._not_final())
            .values(state=PENDING, progress=0, run=run + 1, lease_expires_at=None, update_time=_now())
        )
        requeued = await self._requeue(rerun)
        return requeued[0] if requeued else None

    async def requeue_lapsed(self, grace_seconds: float) -> list[Job]:
        lapsed = (
            update(jobs)
            .where(
                jobs.c.state.in_((PENDING, *WORKING_STATES)),
                jobs.c.lease_expires_at < func.now() - timedelta(seconds=grace_seconds),
            )
            # No deadline while queued: the message that goes with it is what starts it.
            .values(state=PENDING, progress=0, lease_expires_at=None, update_time=_now())
        )
        return await self._requeue(lapsed)

    async def _requeue(self, statement: Any) -> list[Job]:
        """Runs an UPDATE that puts jobs back to PENDING; their events and queue messages commit with it."""
        async with self._engine.begin() as conn:
            rows = (await conn.execute(statement.returning(*jobs.c))).mappings().all()
            requeued = [_job(row) for row in rows]
            for job in requeued:
                await _emit(conn, job)
                await self._enqueuer.enqueue_in(conn, job.id, job.queue_payload())
        return requeued

    async def finished_between(self, start: datetime, end: datetime) -> list[Job]:
        query = select(jobs).where(jobs.c.end_time >= start, jobs.c.end_time < end)
        async with self._engine.connect() as conn:
            return [_job(r) for r in (await conn.execute(query)).mappings().all()]

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
        return await self.for_videos([video_id])

    async def for_videos(self, video_ids: Sequence[str]) -> list[Job]:
        query = select(jobs).where(jobs.c.video_id.in_(list(video_ids)))
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_job(r) for r in rows]

    async def delete_jobs(self, job_ids: Sequence[str]) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(delete(assets).where(assets.c.job_id.in_(job_ids)))
            await conn.execute(delete(publications).where(publications.c.job_id.in_(job_ids)))
            await conn.execute(delete(jobs).where(jobs.c.id.in_(job_ids)))

    async def referenced_prefixes(self, video_id: str) -> list[str]:
        query = select(jobs.c.output_prefix).where(
            jobs.c.video_id == video_id, jobs.c.state == COMPLETED, jobs.c.output_prefix != ""
        )
        async with self._engine.connect() as conn:
            return list((await conn.execute(query)).scalars())

    async def events(self, limit: int) -> list[JobEvent]:
        query = select(events).order_by(events.c.id).limit(limit)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_event(row) for row in rows]

    async def acknowledge_events(self, event_ids: Sequence[int]) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(delete(events).where(events.c.id.in_(list(event_ids))))


def _event(row: Mapping[str, Any]) -> JobEvent:
    payload = dict(row["payload"])
    published = payload.pop("publication", None)
    media = payload.pop("media", None)
    return JobEvent(
        event_id=row["id"],
        video_id=row["video_id"],
        version=row["version"],
        publication=Publication(**published) if published else None,
        media=MediaSummary.from_fields(media) if media else None,
        **payload,
    )
