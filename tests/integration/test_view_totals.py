"""Batches of views added to the stored totals in real PostgreSQL, once each."""

from __future__ import annotations

import psycopg

from videoforge.gallery.adapters.repository import PostgresVideoRepository
from videoforge.gallery.bootstrap import MIGRATIONS
from videoforge.kit.db import create_engine_for, migrate

VIDEO_SQL = """
INSERT INTO gallery.videos (id, owner_id, title, description, visibility, state, source_key, media, view_count,
                            latest_job, published_job_id, extra, create_time, update_time)
VALUES (%s, 'u1', 't', '', 'public', 'ready', 'uploads/u1/' || %s, '{}', 0, '{}', '', '{}', now(), now())
"""


async def test_a_batch_adds_each_videos_views_to_its_total(database_url: str) -> None:
    migrate(database_url, "gallery", MIGRATIONS)
    with psycopg.connect(database_url, autocommit=True) as conn:
        for video_id in ("a", "b"):
            conn.execute(VIDEO_SQL, (video_id, video_id))
    engine = create_engine_for(database_url)
    try:
        videos = PostgresVideoRepository(engine)
        await videos.add_views({"a": 3, "b": 1, "gone": 5})
        await videos.add_views({"a": 2})
        totals = {v: (await videos.get(v)).view_count for v in ("a", "b")}  # type: ignore[union-attr]
        assert totals == {"a": 5, "b": 1}
    finally:
        await engine.dispose()
