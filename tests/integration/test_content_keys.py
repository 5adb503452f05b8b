"""Content keys in the job service's PostgreSQL: one per video however many ask at once, stored only sealed, and
gone with the video."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from videoforge.job.adapters.content_keys import PostgresContentKeys
from videoforge.job.adapters.key_sealing import KeySealer
from videoforge.job.adapters.tables import content_keys
from videoforge.job.bootstrap import MIGRATIONS
from videoforge.kit.db import create_engine_for, migrate

SECRET = secrets.token_bytes(32)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    migrate(database_url, "job", MIGRATIONS)
    engine = create_engine_for(database_url)
    try:
        yield engine
    finally:
        await engine.dispose()


async def test_a_video_has_one_key_however_many_ask_at_once(engine: AsyncEngine) -> None:
    keys = PostgresContentKeys(engine, KeySealer(SECRET))
    video = uuid.uuid4().hex

    asked = await asyncio.gather(*(keys.key_for(video) for _ in range(8)))

    assert len({(key.key_id, key.key) for key in asked}) == 1
    assert await keys.key_for(uuid.uuid4().hex) != asked[0], "each video its own"


async def test_keys_are_stored_sealed_and_open_only_with_the_secret(engine: AsyncEngine) -> None:
    video = uuid.uuid4().hex
    key = await PostgresContentKeys(engine, KeySealer(SECRET)).key_for(video)

    async with engine.connect() as conn:
        row = (await conn.execute(select(content_keys).where(content_keys.c.video_id == video))).one()
    assert row.key_id == key.key_id and key.key not in row.sealed_key
    with pytest.raises(ValueError):
        await PostgresContentKeys(engine, KeySealer(secrets.token_bytes(32))).key_for(video)


async def test_a_forgotten_key_is_gone(engine: AsyncEngine) -> None:
    keys = PostgresContentKeys(engine, KeySealer(SECRET))
    video = uuid.uuid4().hex
    first = await keys.key_for(video)

    await keys.forget(video)

    async with engine.connect() as conn:
        assert (await conn.execute(select(content_keys).where(content_keys.c.video_id == video))).first() is None
    assert await keys.key_for(video) != first
