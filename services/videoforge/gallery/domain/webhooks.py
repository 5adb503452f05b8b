"""Webhooks: a user's endpoints, the events their videos send there, and when to try a delivery again.

Deliveries are written in the same transaction that changes the video (a transactional outbox), each with an
id that stays the same on every attempt, so a receiver can apply each event once however often it arrives.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from videoforge.kit.errors import InvalidArgument

VIDEO_READY = "video.ready"
VIDEO_FAILED = "video.failed"
EVENT_TYPES = (VIDEO_READY, VIDEO_FAILED)
MAX_WEBHOOKS_PER_USER = 10
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
# A failed attempt waits base * 2^(attempts - 1), at most this long, until the delivery is a day old.
MAX_RETRY_DELAY = timedelta(hours=1)


@dataclass(frozen=True)
class Webhook:
    id: str
    owner_id: str
    url: str
    events: list[str]
    create_time: datetime
    # Only ever shown in the answer that created it.
    secret: str = ""


@dataclass(frozen=True)
class Delivery:
    id: str
    webhook_id: str
    event: str
    payload: dict[str, Any]
    state: str
    attempts: int
    last_status: int
    last_error: str
    create_time: datetime
    next_attempt_time: datetime | None
    delivered_time: datetime | None


@dataclass(frozen=True)
class DueDelivery:
    """A delivery claimed for one attempt, with what sending it needs."""

    id: str
    url: str
    secret: str
    payload: dict[str, Any]
    attempts: int
    create_time: datetime


@dataclass(frozen=True)
class AttemptResult:
    status: int = 0
    error: str = ""
    # A refusal that no retry can change (a forbidden address, a URL that is not https).
    permanent: bool = False

    @property
    def delivered(self) -> bool:
        return 200 <= self.status < 300


class WebhookRepository(Protocol):
    async def add(self, webhook: Webhook) -> Webhook:
        """Stores `webhook` unless its id is taken; answers the webhook stored under that id."""
        ...

    async def count(self, owner_id: str) -> int: ...
    async def list(self, owner_id: str) -> list[Webhook]: ...
    async def get(self, webhook_id: str) -> Webhook | None: ...
    async def delete(self, webhook_id: str) -> bool: ...
    async def deliveries(self, webhook_id: str, limit: int) -> list[Delivery]: ...
    async def claim_due(self, now: datetime, lease: timedelta, limit: int) -> list[DueDelivery]: ...
    async def record_attempt(self, delivery_id: str, result: AttemptResult, next_attempt: datetime | None) -> None: ...


class WebhookTransport(Protocol):
    async def send(self, delivery: DueDelivery, sent_at: datetime) -> AttemptResult: ...


def video_event(before: tuple[str, str], after: tuple[str, str]) -> str | None:
    """The event a change of (state, published job) sends: ready when a new output plays, failed on failing."""
    (state_before, published_before), (state_after, published_after) = before, after
    if state_after == "ready" and published_after and published_after != published_before:
        return VIDEO_READY
    if state_after == "failed" and state_before != "failed":
        return VIDEO_FAILED
    return None


def event_payload(event: str, video_id: str, state: str, job_id: str, at: datetime) -> dict[str, Any]:
    """The body Standard Webhooks describes: a type, a timestamp and the event's data."""
    return {"type": event, "timestamp": at.isoformat(), "data": {"id": video_id, "state": state, "jobId": job_id}}


def checked_events(events: list[str]) -> list[str]:
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown:
        raise InvalidArgument.for_field("events", f"unknown event {unknown[0]!r}; use {', '.join(EVENT_TYPES)}")
    return sorted(set(events)) if events else list(EVENT_TYPES)


def next_attempt(
    attempts: int, created: datetime, now: datetime, base: timedelta, give_up: timedelta
) -> datetime | None:
    """When to try again after `attempts` failed ones; None once the delivery is past its last chance."""
    delay = min(base * 2 ** max(attempts - 1, 0), MAX_RETRY_DELAY)
    at = now + delay
    return at if at - created <= give_up else None
