"""The transactional outbox: enqueue onto SQS atomically with a PostgreSQL transaction.

``Outbox.enqueue_in`` writes the message into ``queue.outbox`` in the caller's transaction, so it
exists exactly when the job row does. ``OutboxRelay`` then sends rows to the target queue and deletes
each only after its send succeeded. Rows are locked with SKIP LOCKED while being sent, so any number
of relays can run at once without sending a row twice; a relay that dies between sending and
committing sends those rows again later (at least once, like the queue itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Row, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from videoforge.kit.tracing import with_trace_context
from videoforge.queue.port import JobQueue

logger = logging.getLogger(__name__)

_ADD = text(
    """
    INSERT INTO queue.outbox (job_id, payload, delay_seconds)
    VALUES (:job_id, :payload, :delay_seconds)
    """
).bindparams(bindparam("payload", type_=JSONB))

_LOCK_BATCH = text(
    """
    SELECT id, job_id, payload, delay_seconds FROM queue.outbox
    ORDER BY id
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
    """
)

_DELETE = text("DELETE FROM queue.outbox WHERE id = ANY(:ids)")


class Outbox:
    """Stands in for ``PostgresJobQueue.enqueue_in`` when jobs travel on SQS (a ``TransactionalEnqueuer``)."""

    async def enqueue_in(
        self,
        connection: AsyncConnection,
        job_id: str,
        payload: Mapping[str, Any],
        *,
        delay_seconds: float = 0,
    ) -> None:
        """Records the message in the caller's open transaction; the delay counts from the relay's send. The row
        carries the current trace: the relay sends it later, outside the request that made the job."""
        await connection.execute(
            _ADD, {"job_id": job_id, "payload": with_trace_context(payload), "delay_seconds": float(delay_seconds)}
        )


class OutboxRelay:
    def __init__(self, engine: AsyncEngine, target: JobQueue, *, batch_size: int = 100) -> None:
        self._engine = engine
        self._target = target
        self._batch_size = batch_size

    async def relay_once(self) -> int:
        """Sends up to ``batch_size`` rows in order and returns how many were sent. When a send fails,
        the rows sent before it are still deleted, and the error is raised after that commit."""
        async with self._engine.begin() as connection:
            rows = (await connection.execute(_LOCK_BATCH, {"limit": self._batch_size})).all()
            sent, failure = await self._send(rows)
            if sent:
                await connection.execute(_DELETE, {"ids": sent})
        if failure is not None:
            raise failure
        return len(sent)

    async def run(self, stop: asyncio.Event, interval: float = 1.0) -> None:
        """Relays until ``stop`` is set: at once again after a full batch, otherwise after ``interval``.
        A failed pass is logged and retried, so an outage of SQS or the database doesn't end the relay."""
        while not stop.is_set():
            try:
                relayed = await self.relay_once()
            except Exception:
                logger.exception("outbox relay pass failed; retrying in %.1f s", interval)
                relayed = 0
            if relayed < self._batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), interval)

    async def _send(self, rows: Sequence[Row[Any]]) -> tuple[list[int], Exception | None]:
        sent: list[int] = []
        for row in rows:
            try:
                await self._target.enqueue(row.job_id, row.payload, delay_seconds=row.delay_seconds)
            except Exception as error:
                return sent, error
            sent.append(row.id)
        return sent, None
