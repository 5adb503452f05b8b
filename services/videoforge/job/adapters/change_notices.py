"""Job changes announced through PostgreSQL LISTEN/NOTIFY, so every replica of the job service hears every change.

A change announces itself in the transaction that makes it (PostgreSQL delivers the notice at commit, and drops
repeats of one notice within a transaction). Each process holds one listening connection, whatever the number
of watchers: the fan-out to watchers happens in memory (`service_layer.job_watch`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import psycopg
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

CHANNEL = "videoforge_job_changes"
# How long the listener waits for notices before it looks at its stop flag; no query is sent meanwhile.
STOP_CHECK_SECONDS = 1.0
RECONNECT_FIRST_SECONDS, RECONNECT_MAX_SECONDS = 0.5, 10.0

log = logging.getLogger(__name__)


async def announce_change(conn: AsyncConnection, job_id: str) -> None:
    """Tells every listening process, once `conn`'s transaction commits, that job `job_id` changed."""
    await conn.execute(select(func.pg_notify(CHANNEL, job_id)))


def libpq_url(database_url: str) -> str:
    """The database URL as libpq reads it (without SQLAlchemy's `+driver`)."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


async def listen_for_changes(
    database_url: str, on_change: Callable[[str], None], on_connected: Callable[[], None], stop: asyncio.Event
) -> None:
    """Calls `on_change(job_id)` for each announced change until `stop` is set. After every (re)connection it
    calls `on_connected()`: changes announced while the connection was down were not heard."""
    delay = RECONNECT_FIRST_SECONDS
    while not stop.is_set():
        try:
            async with await psycopg.AsyncConnection.connect(libpq_url(database_url), autocommit=True) as conn:
                await conn.execute(f"LISTEN {CHANNEL}")
                on_connected()
                delay = RECONNECT_FIRST_SECONDS
                while not stop.is_set():
                    async for notice in conn.notifies(timeout=STOP_CHECK_SECONDS):
                        on_change(notice.payload)
        except psycopg.Error:
            log.warning("job change listener lost its connection; reconnecting", exc_info=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        delay = min(delay * 2, RECONNECT_MAX_SECONDS)
