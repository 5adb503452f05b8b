"""Sends one webhook delivery: signed per Standard Webhooks, through the outbound address rules."""

from __future__ import annotations

import json
from datetime import datetime

from standardwebhooks.webhooks import Webhook as Signer

from videoforge.gallery.domain.webhooks import AttemptResult, DueDelivery
from videoforge.kit.outbound import FetchLimits, OutboundClient, OutboundRefused, OutboundUnavailable

# A receiver should answer at once and do its work later; one that takes longer is treated as down.
LIMITS = FetchLimits(max_bytes=64 * 1024, total_seconds=15, connect_seconds=5, read_seconds=10, max_redirects=0)


class SignedWebhookTransport:
    def __init__(self, client: OutboundClient) -> None:
        self._client = client

    async def send(self, delivery: DueDelivery, sent_at: datetime) -> AttemptResult:
        body = json.dumps(delivery.payload, separators=(",", ":"))
        headers = {
            "content-type": "application/json",
            "webhook-id": delivery.id,
            "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": Signer(delivery.secret).sign(delivery.id, sent_at, body),
        }
        try:
            status = await self._client.post(delivery.url, body.encode(), headers, LIMITS)
        except OutboundRefused as refused:
            return AttemptResult(error=str(refused), permanent=True)
        except OutboundUnavailable as unavailable:
            return AttemptResult(error=str(unavailable))
        return AttemptResult(status=status, error="" if 200 <= status < 300 else f"answered HTTP {status}")
