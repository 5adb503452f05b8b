"""The job queue as PostgreSQL tables in the ``queue`` schema: the embedded default.

A message row is claimable when ``visible_at`` has passed; claiming sets ``visible_at`` to the lease's
end, so a lapsed lease makes the row claimable again without any sweeper. All times are the
database server's ``now()``, so workers' clocks never matter. A delivery is fenced by its attempt
number: every statement that settles or renews a claim matches ``attempts`` and a live lease, so a
stale holder matches no row.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Protocol

import psycopg
from sqlalchemy import TextClause, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from videoforge.kit.tracing import with_trace_context
from videoforge.queue.port import LEASES_EXHAUSTED, ClaimedJob, DeadLetter, JobQueue, RetryPolicy

log = logging.getLogger(__name__)

# Where an enqueue is announced to idle workers, so that they claim at once instead of at their next poll.
NEW_MESSAGE_CHANNEL = "videoforge_queue_message"
_ANNOUNCE = text(f"SELECT pg_notify('{NEW_MESSAGE_CHANNEL}', '')")

# The claim's delivery still holds a live lease.
_HELD = "id = :id AND attempts = :attempt AND leased_by IS NOT NULL AND visible_at > now()"

_ENQUEUE = text(
    """
    INSERT INTO queue.messages (job_id, payload, visible_at)
    VALUES (:job_id, :payload, now() + make_interval(secs => :delay))
    ON CONFLICT (job_id) DO NOTHING
    """
).bindparams(bindparam("payload", type_=JSONB))

# Rows whose last allowed attempt lapsed go to the dead letters rather than out again.
_BURY_EXHAUSTED = text(
    """
    WITH exhausted AS (
        DELETE FROM queue.messages
        WHERE id IN (
            SELECT id FROM queue.messages
            WHERE attempts >= :max_attempts AND visible_at <= now()
            FOR UPDATE SKIP LOCKED
        )
        RETURNING job_id, payload, attempts
    )
    INSERT INTO queue.dead_letters (job_id, payload, attempts, error)
    SELECT job_id, payload, attempts, :error FROM exhausted
    """
)

# SKIP LOCKED: concurrent workers each take a different row instead of queueing behind one lock.
_CLAIM = text(
    """
    UPDATE queue.messages AS m
    SET attempts = m.attempts + 1,
        leased_by = :worker_id,
        visible_at = now() + make_interval(secs => :lease)
    FROM (
        SELECT id FROM queue.messages
        WHERE visible_at <= now() AND attempts < :max_attempts
        ORDER BY visible_at, id
        LIMIT 1
        FOR UPDATE SKIP LOCKED
    ) AS next
    WHERE m.id = next.id
    RETURNING m.id, m.job_id, m.payload, m.attempts, m.visible_at
    """
)

_RENEW = text(f"UPDATE queue.messages SET visible_at = now() + make_interval(secs => :lease) WHERE {_HELD}")

_COMPLETE = text(f"DELETE FROM queue.messages WHERE {_HELD}")

_RETRY_LATER = text(
    f"""
    UPDATE queue.messages SET visible_at = now() + make_interval(secs => :delay), leased_by = NULL
    WHERE {_HELD}
    """
)

_DEAD_LETTER = text(
    f"""
    WITH settled AS (DELETE FROM queue.messages WHERE {_HELD} RETURNING job_id, payload, attempts)
    INSERT INTO queue.dead_letters (job_id, payload, attempts, error)
    SELECT job_id, payload, attempts, :error FROM settled
    """
)

_CANCEL = text("DELETE FROM queue.messages WHERE job_id = :job_id")

_DEAD_LETTERS = text("SELECT job_id, payload, attempts, error FROM queue.dead_letters ORDER BY id DESC LIMIT :limit")

_DISCARD_DEAD_LETTERS = text("DELETE FROM queue.dead_letters WHERE job_id = ANY(:job_ids)")

# Waiting: never leased, between retries, or its lease lapsed. Retries keep their first enqueue time.
_OLDEST_WAITING_AGE = text(
    """
    SELECT coalesce(extract(epoch FROM now() - min(enqueued_at)), 0) FROM queue.messages
    WHERE leased_by IS NULL OR visible_at <= now()
    """
)

_DEPTH = text("SELECT count(*) FROM queue.messages WHERE visible_at <= now() OR attempts > 0")


class TransactionalEnqueuer(Protocol):
    """Enqueues on the caller's connection so that a job row and its message commit or roll back
    together. ``PostgresJobQueue`` and the SQS ``Outbox`` both are one."""

    async def enqueue_in(
        self,
        connection: AsyncConnection,
        job_id: str,
        payload: Mapping[str, Any],
        *,
        delay_seconds: float = 0,
    ) -> None: ...


class PostgresJobQueue(JobQueue):
    """Runs on the caller's engine (which it does not dispose) once ``migrations_dir`` is applied to
    the ``queue`` schema."""

    migrations_dir: ClassVar[Path] = Path(__file__).with_name("migrations")

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        max_attempts: int = 5,
        backoff_base: float = 2.0,
        backoff_cap: float = 300.0,
    ) -> None:
        self._engine = engine
        self._retry = RetryPolicy(max_attempts, backoff_base, backoff_cap)
        # A connection of its own, outside the engine's pool: it must sit outside any transaction to hear.
        self._listener: psycopg.AsyncConnection[Any] | None = None

    async def wait_for_work(self, seconds: float) -> None:
        """Returns when an enqueue is announced (or one was since the last wait), at the latest after `seconds`.
        Without the database it waits out `seconds`, and listens again next time."""
        try:
            listener = self._listener or await self._listen()
            async for _ in listener.notifies(timeout=seconds, stop_after=1):
                pass
        except psycopg.Error as error:
            log.warning("cannot hear of new jobs, polling instead: %s", error)
            await self.dispose()
            await asyncio.sleep(seconds)

    async def dispose(self) -> None:
        """Closes its listening connection (never the engine it was given)."""
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(psycopg.Error):
                await listener.close()

    async def _listen(self) -> psycopg.AsyncConnection[Any]:
        url = self._engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        listener = await psycopg.AsyncConnection.connect(url, autocommit=True)
        await listener.execute(f"LISTEN {NEW_MESSAGE_CHANNEL}")
        self._listener = listener
        return listener

    async def enqueue(self, job_id: str, payload: Mapping[str, Any], *, delay_seconds: float = 0) -> None:
        async with self._engine.begin() as connection:
            await self.enqueue_in(connection, job_id, payload, delay_seconds=delay_seconds)

    async def enqueue_in(
        self,
        connection: AsyncConnection,
        job_id: str,
        payload: Mapping[str, Any],
        *,
        delay_seconds: float = 0,
    ) -> None:
        """Enqueues inside the caller's open transaction; a job already queued is left as it is. The message
        carries the current trace, which the worker continues."""
        values = {"job_id": job_id, "payload": with_trace_context(payload), "delay": float(delay_seconds)}
        await connection.execute(_ENQUEUE, values)
        # Delivered when the caller's transaction commits, never before; dropped with it if it rolls back.
        await connection.execute(_ANNOUNCE)

    async def claim(self, worker_id: str, lease_seconds: float) -> ClaimedJob | None:
        async with self._engine.begin() as connection:
            await connection.execute(
                _BURY_EXHAUSTED, {"max_attempts": self._retry.max_attempts, "error": LEASES_EXHAUSTED}
            )
            row = (
                await connection.execute(
                    _CLAIM,
                    {
                        "worker_id": worker_id,
                        "lease": float(lease_seconds),
                        "max_attempts": self._retry.max_attempts,
                    },
                )
            ).one_or_none()
        if row is None:
            return None
        return ClaimedJob(
            job_id=row.job_id,
            payload=row.payload,
            attempt=row.attempts,
            receipt=str(row.id),
            lease_expires_at=row.visible_at,
        )

    async def renew(self, claim: ClaimedJob, lease_seconds: float) -> bool:
        return await self._execute_if_held(_RENEW, claim, lease=float(lease_seconds))

    async def complete(self, claim: ClaimedJob) -> bool:
        return await self._execute_if_held(_COMPLETE, claim)

    async def fail(self, claim: ClaimedJob, *, error: str, retryable: bool) -> bool:
        if retryable and not self._retry.exhausted_by(claim.attempt):
            return await self._execute_if_held(_RETRY_LATER, claim, delay=self._retry.backoff(claim.attempt))
        return await self._execute_if_held(_DEAD_LETTER, claim, error=error)

    async def cancel(self, job_id: str) -> bool:
        async with self._engine.begin() as connection:
            result = await connection.execute(_CANCEL, {"job_id": job_id})
        return result.rowcount > 0

    async def dead_letters(self, *, limit: int = 100) -> list[DeadLetter]:
        async with self._engine.connect() as connection:
            rows = (await connection.execute(_DEAD_LETTERS, {"limit": limit})).all()
        return [DeadLetter(row.job_id, row.payload, row.attempts, row.error) for row in rows]

    async def discard_dead_letters(self, job_ids: list[str]) -> int:
        async with self._engine.begin() as connection:
            result = await connection.execute(_DISCARD_DEAD_LETTERS, {"job_ids": list(job_ids)})
        return result.rowcount

    async def depth(self) -> int:
        async with self._engine.connect() as connection:
            return (await connection.execute(_DEPTH)).scalar_one()

    async def oldest_waiting_age(self) -> float | None:
        async with self._engine.connect() as connection:
            return float((await connection.execute(_OLDEST_WAITING_AGE)).scalar_one())

    async def _execute_if_held(self, statement: TextClause, claim: ClaimedJob, **params: Any) -> bool:
        """Runs a statement guarded by ``_HELD``; True when it matched the claim's live delivery."""
        async with self._engine.begin() as connection:
            result = await connection.execute(statement, {"id": int(claim.receipt), "attempt": claim.attempt, **params})
        return result.rowcount == 1
