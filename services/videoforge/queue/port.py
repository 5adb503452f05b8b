"""The job queue port: at-least-once delivery of jobs under renewable, fenced leases.

A message is *waiting* (claimable once its delay or retry backoff has passed), *leased* to one
worker until its lease expires, or gone (completed, cancelled or dead-lettered). Every delivery is
a new attempt, numbered from 1. A lease that lapses makes the message claimable again with the
next attempt number: that is how jobs of crashed or stalled workers are rescued. A message whose
last allowed attempt lapses goes to the dead-letter queue instead of being delivered again.

A claim acts (``renew``, ``complete``, ``fail``) only while its lease is held. Once the lease has
lapsed, the message was delivered again, cancelled, or the claim was already settled, those calls
return False and change nothing: a late worker can never settle or extend a newer delivery.
Holders therefore renew well before the lease ends and stop working when ``renew`` returns False.
Errors reaching the backing store (database down, SQS unreachable) propagate as exceptions.
"""

from __future__ import annotations

import abc
import asyncio
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# The dead-letter reason when no worker settled any delivery (each lease lapsed in turn).
LEASES_EXHAUSTED = "the lease lapsed on every attempt; workers kept dying or stalling on this job"


@dataclass(frozen=True)
class ClaimedJob:
    job_id: str
    payload: dict[str, Any]
    attempt: int  # 1 on first delivery, +1 on each redelivery
    receipt: str  # opaque to callers; identifies this delivery to the adapter
    lease_expires_at: datetime  # as granted by the claim; renew moves the lease, not this value


@dataclass(frozen=True)
class DeadLetter:
    job_id: str
    payload: dict[str, Any]
    attempts: int
    error: str


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff_base: float = 2.0
    backoff_cap: float = 300.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.backoff_base <= 0 or self.backoff_cap < self.backoff_base:
            raise ValueError(f"invalid retry policy: {self}")

    def exhausted_by(self, attempt: int) -> bool:
        return attempt >= self.max_attempts

    def backoff(self, attempt: int) -> float:
        """Seconds before the next delivery after ``attempt`` failed: capped exponential growth, with
        jitter so that jobs failing together (a storage outage) come back spread out, never all at once."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2.0 ** min(attempt - 1, 62))
        # Equal jitter: at least half the ceiling, so a retry never comes straight back.
        return random.uniform(ceiling / 2, ceiling)


class JobQueue(abc.ABC):
    """Delivers each job at least once to one worker at a time; see the module docstring."""

    @abc.abstractmethod
    async def enqueue(self, job_id: str, payload: Mapping[str, Any], *, delay_seconds: float = 0) -> None:
        """Adds a message for ``job_id``; ``payload`` must be JSON-serializable."""

    @abc.abstractmethod
    async def claim(self, worker_id: str, lease_seconds: float) -> ClaimedJob | None:
        """Leases the next waiting message, or returns None when none is waiting. ``worker_id`` names
        the holder for operators where the backend can record it."""

    async def wait_for_work(self, seconds: float) -> None:
        """Returns when a message may have come, at the latest after ``seconds``: an idle worker's pause before
        it claims again. A backend that hears of new messages returns as one comes; this one just waits."""
        await asyncio.sleep(seconds)

    @abc.abstractmethod
    async def renew(self, claim: ClaimedJob, lease_seconds: float) -> bool:
        """Extends the lease to ``lease_seconds`` from now; False means the lease is lost: stop work."""

    @abc.abstractmethod
    async def complete(self, claim: ClaimedJob) -> bool:
        """Removes the message for good; False when the lease was lost (the job may run again)."""

    @abc.abstractmethod
    async def fail(self, claim: ClaimedJob, *, error: str, retryable: bool) -> bool:
        """Ends this attempt. A retryable failure is delivered again after a backoff; a non-retryable one,
        or one on the last allowed attempt, goes to the dead-letter queue with ``error``.
        False when the lease was lost."""

    @abc.abstractmethod
    async def cancel(self, job_id: str) -> bool:
        """Withdraws the job's message, waiting or leased (its holder's next renew returns False).
        Returns whether it did: an adapter that cannot withdraw messages returns False, so the job
        owner's own state must remain what decides that a cancelled job does no work."""

    @abc.abstractmethod
    async def dead_letters(self, *, limit: int = 100) -> list[DeadLetter]:
        """Messages that were given up on, for operators; the most recent first where the backend
        keeps an order."""

    @abc.abstractmethod
    async def discard_dead_letters(self, job_ids: list[str]) -> int:
        """Removes the dead letters of these jobs (handled, or their jobs restarted); returns how many."""

    @abc.abstractmethod
    async def depth(self) -> int:
        """Messages visible or leased (including those waiting out a retry backoff): what to scale
        workers on. Messages still inside their enqueue delay are not counted."""

    @abc.abstractmethod
    async def oldest_waiting_age(self) -> float | None:
        """Seconds since the longest-waiting message not held by a worker was enqueued (0 when none waits);
        None where the backend does not say."""
