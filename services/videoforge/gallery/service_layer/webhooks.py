"""Webhook use cases: registering endpoints, reading their delivery log, and sending what is due."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from videoforge.gallery.domain.webhooks import (
    MAX_WEBHOOKS_PER_USER,
    Delivery,
    DueDelivery,
    Webhook,
    WebhookRepository,
    WebhookTransport,
    checked_events,
    next_attempt,
)
from videoforge.kit.address_policy import AddressPolicy
from videoforge.kit.errors import FailedPrecondition, InvalidArgument, NotFound, require
from videoforge.kit.ids import id_named_by
from videoforge.kit.principal import require_user

log = logging.getLogger(__name__)

MAX_DELIVERIES_PAGE = 200
DEFAULT_DELIVERIES_PAGE = 50
# One attempt may take this long before another sender may claim the delivery again.
ATTEMPT_LEASE = timedelta(seconds=60)
SEND_BATCH = 20
IDLE_SECONDS = 1.0


@dataclass(frozen=True)
class RetrySchedule:
    base: timedelta = timedelta(seconds=5)
    give_up: timedelta = timedelta(hours=24)


class WebhookRegistry:
    def __init__(self, webhooks: WebhookRepository, policy: AddressPolicy) -> None:
        self._webhooks, self._policy = webhooks, policy

    async def create(self, url: str, events: list[str]) -> Webhook:
        principal = require_user()
        # Addresses are checked again on every attempt: a name may point elsewhere by then.
        url = self._policy.checked_url(url, "url")
        events = checked_events(events)
        # Named by what it is: a repeated create (a retry after a lost reply) answers the webhook already made,
        # secret included, since the first answer may never have arrived.
        webhook_id = id_named_by("\n".join([principal.user_id, url, *events]))
        made = await self._webhooks.get(webhook_id)
        if made is None and await self._webhooks.count(principal.user_id) >= MAX_WEBHOOKS_PER_USER:
            raise FailedPrecondition(
                f"You already have {MAX_WEBHOOKS_PER_USER} webhooks; delete one before adding another.",
                "TOO_MANY_WEBHOOKS",
            )
        secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
        return await self._webhooks.add(Webhook(webhook_id, principal.user_id, url, events, datetime.now(UTC), secret))

    async def list(self) -> list[Webhook]:
        return await self._webhooks.list(require_user().user_id)

    async def delete(self, webhook_id: str) -> None:
        await self._owned(webhook_id)
        await self._webhooks.delete(webhook_id)

    async def deliveries(self, webhook_id: str, page_size: int) -> list[Delivery]:
        if page_size < 0:
            raise InvalidArgument.for_field("page_size", "must not be negative")
        await self._owned(webhook_id)
        limit = min(page_size or DEFAULT_DELIVERIES_PAGE, MAX_DELIVERIES_PAGE)
        return await self._webhooks.deliveries(webhook_id, limit)

    async def _owned(self, webhook_id: str) -> Webhook:
        principal = require_user()
        webhook = await self._webhooks.get(require(webhook_id, "id"))
        if webhook is None or not principal.may_manage(webhook.owner_id):
            raise NotFound(f"No webhook {webhook_id!r}.", "WEBHOOK_NOT_FOUND")
        return webhook


async def send_due(webhooks: WebhookRepository, transport: WebhookTransport, schedule: RetrySchedule) -> int:
    """Attempts every delivery that is due once; returns how many it attempted."""
    due = await webhooks.claim_due(datetime.now(UTC), ATTEMPT_LEASE, SEND_BATCH)
    await asyncio.gather(*(_attempt(webhooks, transport, schedule, delivery) for delivery in due))
    return len(due)


async def _attempt(
    webhooks: WebhookRepository, transport: WebhookTransport, schedule: RetrySchedule, delivery: DueDelivery
) -> None:
    now = datetime.now(UTC)
    result = await transport.send(delivery, now)
    retry = None
    if not result.delivered and not result.permanent:
        retry = next_attempt(delivery.attempts + 1, delivery.create_time, now, schedule.base, schedule.give_up)
    if not result.delivered:
        log.info("webhook delivery %s failed (attempt %d): %s", delivery.id, delivery.attempts + 1, result.error)
    await webhooks.record_attempt(delivery.id, result, retry)


async def run_webhook_sender(
    webhooks: WebhookRepository, transport: WebhookTransport, schedule: RetrySchedule, stop: asyncio.Event
) -> None:
    """Sends due deliveries until `stop` is set; a database outage only delays them."""
    while not stop.is_set():
        try:
            if await send_due(webhooks, transport, schedule):
                continue
        except Exception:
            log.warning("could not send webhook deliveries; retrying", exc_info=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), IDLE_SECONDS)
