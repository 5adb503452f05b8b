"""Webhook endpoints and their deliveries in PostgreSQL; deliveries are the outbox the sender drains."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from videoforge.gallery.adapters.tables import metadata
from videoforge.gallery.domain.webhooks import (
    DELIVERED,
    FAILED,
    PENDING,
    AttemptResult,
    Delivery,
    DueDelivery,
    Webhook,
)
from videoforge.kit.ids import new_id

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("owner_id", String(32), nullable=False),
    Column("url", Text, nullable=False),
    Column("events", JSONB, nullable=False),
    Column("secret", String(100), nullable=False),
    Column("create_time", DateTime(timezone=True), nullable=False),
    Index("webhooks_owner_idx", "owner_id"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("webhook_id", String(32), ForeignKey("gallery.webhooks.id", ondelete="CASCADE"), nullable=False),
    Column("event", String(32), nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("last_status", Integer, nullable=False, server_default=text("0")),
    Column("last_error", Text, nullable=False, server_default=""),
    Column("create_time", DateTime(timezone=True), nullable=False),
    Column("next_attempt_time", DateTime(timezone=True), nullable=True),
    Column("delivered_time", DateTime(timezone=True), nullable=True),
    Index("webhook_deliveries_due_idx", "next_attempt_time", postgresql_where=text("state = 'pending'")),
    Index("webhook_deliveries_log_idx", "webhook_id", text("create_time DESC")),
)

_LAST_ERROR_CHARS = 500


async def record_video_event(conn: AsyncConnection, owner_id: str, event: str, payload: dict[str, Any]) -> None:
    """Queues `event` for every endpoint of `owner_id` that asked for it, in the caller's transaction."""
    subscribed = select(webhooks.c.id).where(webhooks.c.owner_id == owner_id, webhooks.c.events.contains([event]))
    now = datetime.now(UTC)
    rows = [
        {
            "id": f"msg_{new_id()}",
            "webhook_id": webhook_id,
            "event": event,
            "payload": payload,
            "state": PENDING,
            "create_time": now,
            "next_attempt_time": now,
        }
        for webhook_id in (await conn.execute(subscribed)).scalars()
    ]
    if rows:
        await conn.execute(insert(webhook_deliveries), rows)


def _webhook(row: Any, *, with_secret: bool = False) -> Webhook:
    # The secret stays in the database: only the answer to a create shows it.
    return Webhook(row.id, row.owner_id, row.url, list(row.events), row.create_time, row.secret if with_secret else "")


class PostgresWebhookRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, webhook: Webhook) -> Webhook:
        async with self._engine.begin() as conn:
            row = pg_insert(webhooks).values(
                id=webhook.id,
                owner_id=webhook.owner_id,
                url=webhook.url,
                events=webhook.events,
                secret=webhook.secret,
                create_time=webhook.create_time,
            )
            # Two creates of the same webhook at once: the first one's row (and secret) is the one answered.
            await conn.execute(row.on_conflict_do_nothing(index_elements=[webhooks.c.id]))
            stored = (await conn.execute(select(webhooks).where(webhooks.c.id == webhook.id))).one()
        return _webhook(stored, with_secret=True)

    async def count(self, owner_id: str) -> int:
        async with self._engine.connect() as conn:
            query = select(func.count()).select_from(webhooks).where(webhooks.c.owner_id == owner_id)
            return int((await conn.execute(query)).scalar_one())

    async def list(self, owner_id: str) -> list[Webhook]:
        query = select(webhooks).where(webhooks.c.owner_id == owner_id).order_by(webhooks.c.create_time.desc())
        async with self._engine.connect() as conn:
            return [_webhook(row) for row in (await conn.execute(query)).all()]

    async def get(self, webhook_id: str) -> Webhook | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(webhooks).where(webhooks.c.id == webhook_id))).first()
        return _webhook(row) if row else None

    async def delete(self, webhook_id: str) -> bool:
        async with self._engine.begin() as conn:
            return (await conn.execute(delete(webhooks).where(webhooks.c.id == webhook_id))).rowcount > 0

    async def deliveries(self, webhook_id: str, limit: int) -> list[Delivery]:
        query = (
            select(webhook_deliveries)
            .where(webhook_deliveries.c.webhook_id == webhook_id)
            .order_by(webhook_deliveries.c.create_time.desc(), webhook_deliveries.c.id)
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            return [Delivery(**row) for row in (await conn.execute(query)).mappings().all()]

    async def claim_due(self, now: datetime, lease: timedelta, limit: int) -> list[DueDelivery]:
        """Moves each due delivery's next attempt past the lease, so no other sender takes it meanwhile."""
        d = webhook_deliveries
        due = (
            select(d.c.id)
            .where(d.c.state == PENDING, d.c.next_attempt_time <= now)
            .order_by(d.c.next_attempt_time)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        async with self._engine.begin() as conn:
            claimed = (
                await conn.execute(
                    update(d)
                    .where(d.c.id.in_(due.scalar_subquery()))
                    .values(next_attempt_time=now + lease)
                    .returning(d.c.id, d.c.webhook_id, d.c.payload, d.c.attempts, d.c.create_time)
                )
            ).all()
            endpoints = {
                row.id: row
                for row in await conn.execute(
                    select(webhooks.c.id, webhooks.c.url, webhooks.c.secret).where(
                        webhooks.c.id.in_({row.webhook_id for row in claimed})
                    )
                )
            }
        return [
            DueDelivery(
                row.id,
                endpoints[row.webhook_id].url,
                endpoints[row.webhook_id].secret,
                row.payload,
                row.attempts,
                row.create_time,
            )
            for row in claimed
        ]

    async def record_attempt(self, delivery_id: str, result: AttemptResult, next_attempt: datetime | None) -> None:
        d = webhook_deliveries
        values: dict[str, Any] = {
            "attempts": d.c.attempts + 1,
            "last_status": result.status,
            "last_error": result.error[:_LAST_ERROR_CHARS],
            "next_attempt_time": next_attempt,
        }
        if result.delivered:
            values.update(state=DELIVERED, delivered_time=datetime.now(UTC), next_attempt_time=None)
        elif next_attempt is None:
            values["state"] = FAILED
        async with self._engine.begin() as conn:
            await conn.execute(update(d).where(d.c.id == delivery_id, d.c.state == PENDING).values(**values))
