"""In-memory webhook endpoints and deliveries, and a receiver that answers what it is told."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from videoforge.gallery.domain.webhooks import (
    DELIVERED,
    FAILED,
    PENDING,
    AttemptResult,
    Delivery,
    DueDelivery,
    Webhook,
)


class InMemoryWebhooks:
    def __init__(self) -> None:
        self.webhooks: dict[str, Webhook] = {}
        self.records: dict[str, Delivery] = {}

    async def add(self, webhook: Webhook) -> Webhook:
        return self.webhooks.setdefault(webhook.id, webhook)

    async def count(self, owner_id: str) -> int:
        return sum(w.owner_id == owner_id for w in self.webhooks.values())

    async def list(self, owner_id: str) -> list[Webhook]:
        return [replace(w, secret="") for w in self.webhooks.values() if w.owner_id == owner_id]

    async def get(self, webhook_id: str) -> Webhook | None:
        return self.webhooks.get(webhook_id)

    async def delete(self, webhook_id: str) -> bool:
        return self.webhooks.pop(webhook_id, None) is not None

    async def deliveries(self, webhook_id: str, limit: int) -> list[Delivery]:
        return [d for d in self.records.values() if d.webhook_id == webhook_id][:limit]

    def queue(self, webhook_id: str, event: str, created: datetime | None = None) -> str:
        delivery_id = f"msg_{len(self.records)}"
        at = created or datetime.now(UTC)
        self.records[delivery_id] = Delivery(
            delivery_id, webhook_id, event, {"type": event}, PENDING, 0, 0, "", at, at, None
        )
        return delivery_id

    async def claim_due(self, now: datetime, lease: timedelta, limit: int) -> list[DueDelivery]:
        due = [
            d
            for d in self.records.values()
            if d.state == PENDING and d.next_attempt_time is not None and d.next_attempt_time <= now
        ][:limit]
        for d in due:
            self.records[d.id] = replace(d, next_attempt_time=now + lease)
        hooks = self.webhooks
        return [
            DueDelivery(d.id, hooks[d.webhook_id].url, hooks[d.webhook_id].secret, d.payload, d.attempts, d.create_time)
            for d in due
        ]

    async def record_attempt(self, delivery_id: str, result: AttemptResult, next_attempt: datetime | None) -> None:
        d = self.records[delivery_id]
        state = DELIVERED if result.delivered else (PENDING if next_attempt else FAILED)
        self.records[delivery_id] = replace(
            d,
            state=state,
            attempts=d.attempts + 1,
            last_status=result.status,
            last_error=result.error,
            next_attempt_time=next_attempt if state == PENDING else None,
        )


class ScriptedReceiver:
    """Answers each attempt with the next result it was given (the last one repeats)."""

    def __init__(self, *results: AttemptResult) -> None:
        self.results = list(results)
        self.sent: list[DueDelivery] = []

    async def send(self, delivery: DueDelivery, sent_at: datetime) -> AttemptResult:
        self.sent.append(delivery)
        return self.results.pop(0) if len(self.results) > 1 else self.results[0]
