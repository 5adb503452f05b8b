"""Content keys in PostgreSQL (`job.content_keys`), sealed: the key's clear bytes exist only in memory."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from videoforge.content_protection import ContentKey
from videoforge.job.adapters.key_sealing import KeySealer
from videoforge.job.adapters.tables import content_keys
from videoforge.job.domain.ports import ContentKeys


class PostgresContentKeys(ContentKeys):
    def __init__(self, engine: AsyncEngine, sealer: KeySealer) -> None:
        self._engine, self._sealer = engine, sealer

    async def key_for(self, video_id: str) -> ContentKey:
        fresh = ContentKey.generate()
        async with self._engine.begin() as conn:
            # Two jobs of one video starting at once: the first insert wins, and both read its key.
            await conn.execute(
                pg_insert(content_keys)
                .values(
                    video_id=video_id,
                    key_id=fresh.key_id,
                    sealed_key=self._sealer.seal(fresh.key, video_id),
                    create_time=datetime.now(UTC),
                )
                .on_conflict_do_nothing(index_elements=["video_id"])
            )
            row = (
                await conn.execute(
                    select(content_keys.c.key_id, content_keys.c.sealed_key).where(content_keys.c.video_id == video_id)
                )
            ).one()
        return ContentKey(row.key_id, self._sealer.open(row.sealed_key, video_id))

    async def forget(self, video_id: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(delete(content_keys).where(content_keys.c.video_id == video_id))
