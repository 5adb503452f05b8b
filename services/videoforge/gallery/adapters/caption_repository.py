"""Captions in PostgreSQL: one row per track, with what its packaging made; they go with their video."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import Column, DateTime, ForeignKey, Index, Integer, String, Table, Text, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from videoforge.gallery.adapters.tables import metadata, videos
from videoforge.gallery.domain.captions import Caption, CaptionRepository, PackagedFiles

captions = Table(
    "captions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("video_id", String(32), ForeignKey("gallery.videos.id", ondelete="CASCADE"), nullable=False),
    Column("language", String(35), nullable=False),
    Column("label", String(80), nullable=False),
    Column("origin", String(16), nullable=False),
    Column("cue_count", Integer, nullable=False),
    Column("hls_playlist", String(300), nullable=False),
    Column("dash_adaptation_set", Text, nullable=False),
    Column("create_time", DateTime(timezone=True), nullable=False),
    Index("captions_video_idx", "video_id", "create_time"),
)


def _row(row: Any) -> tuple[Caption, PackagedFiles]:
    caption = Caption(row.id, row.video_id, row.language, row.label, row.origin, row.cue_count, row.create_time)
    return caption, PackagedFiles(row.hls_playlist, row.dash_adaptation_set)


def _of_video(video_id: str) -> Any:
    return select(captions).where(captions.c.video_id == video_id).order_by(captions.c.create_time, captions.c.id)


class PostgresCaptionRepository(CaptionRepository):
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, caption: Caption, files: PackagedFiles) -> None:
        async with self._engine.begin() as conn:
            # A caption is named by what it is: the same one added twice at once is stored once.
            row = pg_insert(captions).values(
                id=caption.id,
                video_id=caption.video_id,
                language=caption.language,
                label=caption.label,
                origin=caption.origin,
                cue_count=caption.cue_count,
                hls_playlist=files.hls_playlist,
                dash_adaptation_set=files.dash_adaptation_set,
                create_time=caption.create_time,
            )
            await conn.execute(row.on_conflict_do_nothing(index_elements=[captions.c.id]))

    async def for_video(self, video_id: str) -> list[tuple[Caption, PackagedFiles]]:
        async with self._engine.connect() as conn:
            return [_row(row) for row in await conn.execute(_of_video(video_id))]

    async def publish_each_change(
        self, video_id: str, publish: Callable[[list[tuple[Caption, PackagedFiles]]], Awaitable[None]]
    ) -> None:
        async with self._engine.begin() as conn:
            # The video's row lock queues publishers: each reads the captions committed before it got the lock.
            await conn.execute(select(videos.c.id).where(videos.c.id == video_id).with_for_update())
            await publish([_row(row) for row in await conn.execute(_of_video(video_id))])

    async def remove(self, video_id: str, caption_id: str) -> bool:
        async with self._engine.begin() as conn:
            removed = await conn.execute(
                delete(captions).where(captions.c.video_id == video_id, captions.c.id == caption_id)
            )
        return bool(removed.rowcount)
