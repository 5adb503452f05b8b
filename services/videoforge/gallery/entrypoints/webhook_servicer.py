"""WebhookService over gRPC: the registry's use cases, presented as the protos define them."""

from __future__ import annotations

import json

from google.protobuf.empty_pb2 import Empty
from grpc.aio import ServicerContext

from videoforge.gallery.domain.webhooks import Delivery, Webhook
from videoforge.gallery.service_layer.webhooks import WebhookRegistry
from videoforge.gallery.v1 import webhooks_pb2 as pb
from videoforge.gallery.v1 import webhooks_pb2_grpc
from videoforge.kit.proto_time import timestamp


def webhook_message(webhook: Webhook) -> pb.Webhook:
    return pb.Webhook(
        id=webhook.id,
        url=webhook.url,
        events=webhook.events,
        secret=webhook.secret,
        create_time=timestamp(webhook.create_time),
    )


def delivery_message(delivery: Delivery) -> pb.WebhookDelivery:
    return pb.WebhookDelivery(
        id=delivery.id,
        event=delivery.event,
        state=delivery.state,
        attempts=delivery.attempts,
        last_status=delivery.last_status,
        last_error=delivery.last_error,
        payload=json.dumps(delivery.payload, separators=(",", ":")),
        create_time=timestamp(delivery.create_time),
        next_attempt_time=timestamp(delivery.next_attempt_time),
        delivered_time=timestamp(delivery.delivered_time),
    )


class WebhookServicer(webhooks_pb2_grpc.WebhookServiceServicer):
    def __init__(self, registry: WebhookRegistry) -> None:
        self._registry = registry

    async def CreateWebhook(self, request: pb.CreateWebhookRequest, context: ServicerContext) -> pb.Webhook:
        return webhook_message(await self._registry.create(request.url, list(request.events)))

    async def ListWebhooks(self, request: pb.ListWebhooksRequest, context: ServicerContext) -> pb.ListWebhooksResponse:
        return pb.ListWebhooksResponse(webhooks=[webhook_message(w) for w in await self._registry.list()])

    async def DeleteWebhook(self, request: pb.DeleteWebhookRequest, context: ServicerContext) -> Empty:
        await self._registry.delete(request.id)
        return Empty()

    async def ListWebhookDeliveries(
        self, request: pb.ListWebhookDeliveriesRequest, context: ServicerContext
    ) -> pb.ListWebhookDeliveriesResponse:
        deliveries = await self._registry.deliveries(request.id, request.page_size)
        return pb.ListWebhookDeliveriesResponse(deliveries=[delivery_message(d) for d in deliveries])
