"""An in-memory job queue for unit tests: leases by a manual clock, deliveries numbered like the real ones."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from videoforge.queue.port import ClaimedJob, DeadLetter, JobQueue, RetryPolicy


@dataclass
class _Message:
    id: int
    job_id: str
    payload: dict[str, Any]
    attempts: int = 0
    leased: bool = False
    settled: bool = False


@dataclass
class InMemoryJobQueue(JobQueue):
    max_attempts: int = 3
    messages: list[_Message] = field(default_factory=list)
    letters: list[DeadLetter] = field(default_factory=list)
    _next_id: int = 0

    def enqueue_in_memory(self, job_id: str, payload: Mapping[str, Any]) -> None:
        """What the repository's transactional enqueue does; duplicates are allowed, as SQS allows them."""
        self._next_id += 1
        self.messages.append(_Message(self._next_id, job_id, dict(payload)))

    def duplicate(self, job_id: str) -> None:
        """A second copy of the job's message: at-least-once delivery."""
        original = next(m for m in self.messages if m.job_id == job_id)
        self.enqueue_in_memory(job_id, original.payload)

    def lapse(self, claim: ClaimedJob) -> None:
        """The claim's lease runs out: the message becomes claimable again."""
        message = self._message(claim)
        message.leased = False

    async def enqueue(self, job_id: str, payload: Mapping[str, Any], *, delay_seconds: float = 0) -> None:
        self.enqueue_in_memory(job_id, payload)

    async def claim(self, worker_id: str, lease_seconds: float) -> ClaimedJob | None:
        message = next((m for m in self.messages if not m.leased and not m.settled), None)
        if message is None:
            return None
        message.attempts += 1
        message.leased = True
        return ClaimedJob(message.job_id, message.payload, message.attempts, str(message.id), datetime.now(UTC))

    async def renew(self, claim: ClaimedJob, lease_seconds: float) -> bool:
        return self._held(claim)

    async def complete(self, claim: ClaimedJob) -> bool:
        if not self._held(claim):
            return False
        self._message(claim).settled = True
        return True

    async def fail(self, claim: ClaimedJob, *, error: str, retryable: bool) -> bool:
        if not self._held(claim):
            return False
        message = self._message(claim)
        message.leased = False
        if not retryable or RetryPolicy(self.max_attempts).exhausted_by(claim.attempt):
            message.settled = True
            self.letters.append(DeadLetter(message.job_id, message.payload, message.attempts, error))
        return True

    async def cancel(self, job_id: str) -> bool:
        found = [m for m in self.messages if m.job_id == job_id and not m.settled]
        for message in found:
            message.settled = True
        return bool(found)

    async def dead_letters(self, *, limit: int = 100) -> list[DeadLetter]:
        return list(reversed(self.letters))[:limit]

    async def discard_dead_letters(self, job_ids: list[str]) -> int:
        before = len(self.letters)
        self.letters = [letter for letter in self.letters if letter.job_id not in job_ids]
        return before - len(self.letters)

    async def depth(self) -> int:
        return sum(1 for m in self.messages if not m.settled)

    async def oldest_waiting_age(self) -> float | None:
        return None  # no clock here

    def _message(self, claim: ClaimedJob) -> _Message:
        return next(m for m in self.messages if str(m.id) == claim.receipt)

    def _held(self, claim: ClaimedJob) -> bool:
        message = self._message(claim)
        return message.leased and not message.settled and message.attempts == claim.attempt
