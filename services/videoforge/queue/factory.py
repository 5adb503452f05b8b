"""Builds the configured queue: PostgreSQL (default) or SQS with its transactional outbox."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from sqlalchemy.ext.asyncio import AsyncEngine

from videoforge.kit.settings import Settings
from videoforge.queue.outbox import Outbox, OutboxRelay
from videoforge.queue.port import JobQueue
from videoforge.queue.postgres import PostgresJobQueue, TransactionalEnqueuer
from videoforge.queue.sqs import SqsJobQueue


@dataclass
class QueueParts:
    queue: JobQueue
    enqueuer: TransactionalEnqueuer
    # Loops the owning process runs until its stop event is set (the outbox relay for SQS).
    background: list[Callable[[asyncio.Event], Awaitable[None]]] = field(default_factory=list)


def job_queue_from_settings(
    settings: Settings, engine: AsyncEngine, migrate: Callable[[str, str, Path], None]
) -> QueueParts:
    # The queue schema holds the PostgreSQL queue and the SQS outbox alike.
    migrate(settings.database_url, "queue", PostgresJobQueue.migrations_dir)
    retry = {"max_attempts": settings.queue_max_attempts}
    if settings.queue_backend == "postgres":
        queue = PostgresJobQueue(engine, **retry)
        return QueueParts(queue, queue)
    sqs = sqs_queue_from_settings(settings)
    relay = OutboxRelay(engine, sqs)
    return QueueParts(sqs, Outbox(), [relay.run])


def sqs_queue_from_settings(settings: Settings) -> SqsJobQueue:
    client = boto3.client("sqs", region_name=settings.sqs_region, endpoint_url=settings.sqs_endpoint_url or None)
    return SqsJobQueue(
        client,
        settings.sqs_queue_url,
        settings.sqs_dead_letter_queue_url,
        max_attempts=settings.queue_max_attempts,
    )
