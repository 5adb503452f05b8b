"""Videos and uploads in PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    String,
    and_,
    case,
    column,
    delete,
    func,
    select,
    text,
    union_all,
    update,
    values,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from videoforge.gallery.adapters.tables import uploads, videos
from videoforge.gallery.adapters.webhook_repository import record_video_event
from videoforge.gallery.domain.ports import Upload, VideoQuery, VideoRepository
from videoforge.gallery.domain.videos import JobSnapshot, JobUpdate, PlayingOutput, Video, state_for
from videoforge.gallery.domain.webhooks import event_payload, video_event
from videoforge.media_model import MediaSummary

_VIDEO_COLUMNS = [c for c in videos.c if c.name != "search"]
# List totals may lag the table by this much; the pages themselves are always read fresh.
COUNT_CACHE_SECONDS = 2.0
COUNT_CACHE_ENTRIES = 10_000
# Between asking the database whether a batch of views committed, while it cannot say.
COMMIT_STATUS_MAX_WAIT_SECONDS = 5.0
_XACT_STATUS = text("SELECT pg_xact_status(CAST(:transaction AS xid8))")


def _ordering(columns: Any, order_by: str) -> list[Any]:
    """The list orders, over the table's columns or a subquery's (the same names either way)."""
    if order_by == "create_time":
        return [columns.create_time.asc(), columns.id]
    if order_by == "view_count desc":
        return [columns.view_count.desc(), columns.create_time.desc()]
    return [columns.create_time.desc(), columns.id]


def _video(row: Any) -> Video:
    values = dict(row)
    values["latest_job"] = JobSnapshot(**values["latest_job"])
    values["media"] = MediaSummary.from_fields(values["media"])
    extra = values.pop("extra")
    values["filename"] = extra.get("filename", "")
    values["source_url"] = extra.get("source_url", "")
    values["playing"] = _playing(values["published_job_id"], extra)
    return Video(**values)


def _playing(job_id: str, extra: dict[str, Any]) -> PlayingOutput | None:
    if not job_id:
        return None
    return PlayingOutput(
        job_id=job_id,
        poster_key=extra.get("poster_key", ""),
        preview_key=extra.get("preview_key", ""),
        duration_seconds=float(extra.get("duration_seconds", 0.0)),
        loudness=extra.get("loudness"),
    )


def _extra(filename: str, playing: PlayingOutput | None, source_url: str = "") -> dict[str, Any]:
    """The `extra` column: the file name, an imported video's URL, and the images, duration and loudness of what
    plays."""
    images = {k: v for k, v in asdict(playing).items() if k != "job_id"} if playing else {}
    imported = {"source_url": source_url} if source_url else {}
    return {"filename": filename, **imported, **images}


def _columns(video: Video) -> dict[str, Any]:
    values = asdict(video)
    values["media"] = video.media.as_fields()
    values.pop("filename"), values.pop("playing"), values.pop("source_url")
    values["extra"] = _extra(video.filename, video.playing, video.source_url)
    return values


class PostgresVideoRepository(VideoRepository):
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        # A lone SELECT needs no transaction: without one, a hot read costs no BEGIN and ROLLBACK round trips.
        self._single_reads = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._counts: dict[tuple[Any, ...], tuple[float, int]] = {}

    async def add_upload(self, upload: Upload) -> None:
        async with self._engine.begin() as conn:
            # A key named by a request (a repeated import) is added once; the first row stands.
            row = pg_insert(uploads).values(**asdict(upload))
            await conn.execute(row.on_conflict_do_nothing(index_elements=[uploads.c.key]))

    async def get_upload(self, key: str) -> Upload | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(uploads).where(uploads.c.key == key))).mappings().first()
        return Upload(**row) if row else None

    async def add_video_for_upload(self, video: Video, upload_key: str) -> Video:
        async with self._engine.begin() as conn:
            # Locks the upload row: two concurrent confirms of one key create one video.
            claimed = await conn.execute(
                update(uploads)
                .where(uploads.c.key == upload_key, uploads.c.video_id.is_(None))
                # The stored size replaces the declared one in the owner's storage use.
                .values(video_id=video.id, size=video.media.size_bytes or uploads.c.size)
                .returning(uploads.c.key)
            )
            if claimed.first() is None:
                existing = await conn.execute(select(uploads.c.video_id).where(uploads.c.key == upload_key))
                video_id = existing.scalar_one()
                row = (await conn.execute(select(*_VIDEO_COLUMNS).where(videos.c.id == video_id))).mappings().one()
                return _video(row)
            await conn.execute(pg_insert(videos).values(**_columns(video)))
        return video

    async def get(self, video_id: str) -> Video | None:
        async with self._single_reads.connect() as conn:
            row = (await conn.execute(select(*_VIDEO_COLUMNS).where(videos.c.id == video_id))).mappings().first()
        return _video(row) if row else None

    async def by_source_key(self, source_key: str) -> Video | None:
        async with self._engine.connect() as conn:
            query = select(*_VIDEO_COLUMNS).where(videos.c.source_key == source_key)
            row = (await conn.execute(query)).mappings().first()
        return _video(row) if row else None

    async def add_views(self, views: dict[str, int]) -> None:
        added = values(column("video_id", String), column("views", BigInteger), name="added").data(list(views.items()))
        add = (
            update(videos).where(videos.c.id == added.c.video_id).values(view_count=videos.c.view_count + added.c.views)
        )
        transaction = None
        try:
            async with self._engine.begin() as conn:
                transaction = (await conn.execute(select(func.pg_current_xact_id().cast(String)))).scalar_one()
                await conn.execute(add)
        except DBAPIError:
            # A commit whose answer was lost may have happened: ask the database, so a batch is never added twice.
            if transaction is None or not await self._committed(transaction):
                raise

    async def _committed(self, transaction: str) -> bool:
        """Whether `transaction` committed; waits while the database cannot say (it is down, or still committing)."""
        delay = 0.1
        while True:
            try:
                async with self._engine.connect() as conn:
                    status = (await conn.execute(_XACT_STATUS, {"transaction": transaction})).scalar()
                if status != "in progress":
                    return status == "committed"
            except DBAPIError:
                pass
            await asyncio.sleep(delay)
            delay = min(delay * 2, COMMIT_STATUS_MAX_WAIT_SECONDS)

    async def update(self, video_id: str, fields: dict[str, Any]) -> Video | None:
        async with self._engine.begin() as conn:
            row = (
                (
                    await conn.execute(
                        update(videos)
                        .where(videos.c.id == video_id)
                        .values(**fields, update_time=datetime.now(UTC))
                        .returning(*_VIDEO_COLUMNS)
                    )
                )
                .mappings()
                .first()
            )
        return _video(row) if row else None

    async def delete(self, video_id: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(delete(videos).where(videos.c.id == video_id))
            await conn.execute(delete(uploads).where(uploads.c.video_id == video_id))

    async def list(self, query: VideoQuery) -> tuple[list[Video], int]:
        filters = []
        if query.search:
            filters.append(videos.c.search.op("@@")(func.websearch_to_tsquery("simple", query.search)))
        if query.state:
            filters.append(videos.c.state == query.state)
        if query.owner_id:
            filters.append(videos.c.owner_id == query.owner_id)
        order = _ordering(videos.c, query.order_by)
        # Each branch reads one index in list order; an OR of both would sort every public video per page.
        branches = [and_(condition, *filters) for condition in self._visible_to(query)]
        if len(branches) == 1:
            page = select(*_VIDEO_COLUMNS).where(branches[0]).order_by(*order)
        else:
            window = query.offset + query.limit
            parts = [select(*_VIDEO_COLUMNS).where(where).order_by(*order).limit(window) for where in branches]
            combined = union_all(*parts).subquery().select()
            page = combined.order_by(*_ordering(combined.selected_columns, query.order_by))
        page = page.offset(query.offset).limit(query.limit)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(page)).mappings().all()
        return [_video(r) for r in rows], await self._count(query, branches)

    async def _count(self, query: VideoQuery, branches: list[Any]) -> int:
        """Matches up to just past the cap; reused for a moment, since every page of a list asks again."""
        key = (query.viewer_id, query.only_owner, query.search, query.state, query.owner_id, query.count_cap)
        now = time.monotonic()
        cached = self._counts.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        async with self._engine.begin() as conn:
            if query.search:
                # The capped count reads few rows, so the planner walks the table in order; through the GIN
                # index it finds the matches directly (7 ms instead of 70 ms at 100,000 videos).
                await conn.execute(text("SET LOCAL enable_seqscan = off"))
                await conn.execute(text("SET LOCAL enable_indexscan = off"))
            total = 0
            for where in branches:
                # An exact count of a large table costs more than the page: stop just past the cap.
                capped = select(videos.c.id).where(where).limit(query.count_cap + 1).subquery()
                total += (await conn.execute(select(func.count()).select_from(capped))).scalar_one()
        if len(self._counts) > COUNT_CACHE_ENTRIES:
            self._counts = {k: v for k, v in self._counts.items() if v[0] > now}
        self._counts[key] = (now + COUNT_CACHE_SECONDS, total)
        return total

    @staticmethod
    def _visible_to(query: VideoQuery) -> list[Any]:
        """Disjoint conditions whose union is what the viewer may list."""
        own = videos.c.owner_id == (query.viewer_id or "")
        if query.only_owner:
            return [own]
        public = videos.c.visibility == "public"
        # Lists show public videos and the viewer's own; unlisted ones only through their link.
        if query.viewer_id:
            return [public, and_(own, videos.c.visibility != "public")]
        return [public]

    async def note_new_job(self, video_id: str, job: JobSnapshot) -> None:
        shows_other_job = videos.c.latest_job["job_id"].astext.is_distinct_from(job.job_id)
        async with self._engine.begin() as conn:
            await conn.execute(
                update(videos)
                .where(videos.c.id == video_id, shows_other_job)
                .values(
                    latest_job=asdict(job),
                    # An output that already plays keeps playing while the new job runs.
                    state=case((videos.c.published_job_id != "", videos.c.state), else_=state_for(job.state, None)),
                    update_time=datetime.now(UTC),
                )
            )

    async def apply_job_update(self, update_: JobUpdate) -> bool:
        playing = update_.playing
        values: dict[str, Any] = {
            "latest_job": asdict(update_.job),
            "state": state_for(update_.job.state, playing),
            "published_job_id": playing.job_id if playing else "",
            "job_version": update_.version,
            "update_time": datetime.now(UTC),
        }
        if update_.media is not None:
            values["media"] = update_.media.as_fields()
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    select(videos.c.extra, videos.c.owner_id, videos.c.state, videos.c.published_job_id)
                    .where(videos.c.id == update_.video_id, videos.c.job_version < update_.version)
                    .with_for_update()
                )
            ).first()
            if row is None:
                return False
            extra = _extra(row.extra.get("filename", ""), playing, row.extra.get("source_url", ""))
            await conn.execute(update(videos).where(videos.c.id == update_.video_id).values(**values, extra=extra))
            if update_.media is not None:
                # An imported source counts toward its owner's storage once its job measured it.
                sized = update(uploads).where(uploads.c.video_id == update_.video_id)
                await conn.execute(sized.values(size=update_.media.size_bytes))
            # The webhook event, if the change sends one, is queued in the change's own transaction.
            event = video_event((row.state, row.published_job_id), (values["state"], values["published_job_id"]))
            if event is not None:
                at = values["update_time"]
                payload = event_payload(event, update_.video_id, values["state"], update_.job.job_id, at)
                await record_video_event(conn, row.owner_id, event, payload)
        return True

    async def unconfirmed_uploads(self, before: datetime) -> list[Upload]:
        query = select(uploads).where(uploads.c.video_id.is_(None), uploads.c.create_time < before)
        async with self._engine.connect() as conn:
            return [Upload(**row) for row in (await conn.execute(query)).mappings().all()]

    async def known_upload_keys(self) -> set[str]:
        async with self._engine.connect() as conn:
            return set((await conn.execute(select(uploads.c.key))).scalars())

    async def delete_upload(self, key: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(delete(uploads).where(uploads.c.key == key, uploads.c.video_id.is_(None)))

    async def storage_used(self, owner_id: str) -> int:
        query = select(func.coalesce(func.sum(uploads.c.size), 0)).where(uploads.c.owner_id == owner_id)
        async with self._engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def referenced_sources(self, prefix: str) -> list[str]:
        query = select(videos.c.source_key).where(videos.c.source_key.startswith(prefix, autoescape=True))
        async with self._engine.connect() as conn:
            return list((await conn.execute(query)).scalars())
