"""Composition root of a transcoder worker process."""

from __future__ import annotations

import asyncio
import os
import signal
import socket

from videoforge.kit.address_policy import AddressPolicy
from videoforge.kit.clients import open_channel
from videoforge.kit.db import create_engine_for, migrate
from videoforge.kit.mesh_tls import JOB
from videoforge.kit.observability import start_observability
from videoforge.kit.outbound import OutboundClient
from videoforge.kit.runtime import configure_logging, mesh_credentials
from videoforge.kit.settings import Settings
from videoforge.queue.factory import sqs_queue_from_settings
from videoforge.queue.port import JobQueue
from videoforge.queue.postgres import PostgresJobQueue
from videoforge.storage.s3 import blob_store_from_settings
from videoforge.transcoder.adapters.job_reporter import GrpcJobReporter
from videoforge.transcoder.adapters.text_tracks import TextTrackExtractor
from videoforge.transcoder.adapters.url_source import UrlSourceImporter
from videoforge.transcoder.bootstrap import loudness_normalization, media_encoder, media_limits, per_title_planner
from videoforge.transcoder.chunked import Chunking
from videoforge.transcoder.pipeline import MediaPipeline
from videoforge.transcoder.worker import TranscodeWorker, WorkerConfig, drain


def consumer_queue(settings: Settings) -> tuple[JobQueue, list[object]]:
    """The queue a worker claims from, and what to close afterwards. SQS workers need no database."""
    if settings.queue_backend == "sqs":
        return sqs_queue_from_settings(settings), []
    if not settings.database_url:
        raise SystemExit("DATABASE_URL is not set; start the platform with `videoforge up`.")
    migrate(settings.database_url, "queue", PostgresJobQueue.migrations_dir)
    engine = create_engine_for(settings.database_url, pool_size=2)
    queue = PostgresJobQueue(engine, max_attempts=settings.queue_max_attempts)
    return queue, [queue, engine]


async def run_worker(settings: Settings) -> None:
    configure_logging(settings.log_level)
    flush_traces = start_observability(settings, "worker")
    queue, resources = consumer_queue(settings)
    channel = open_channel(settings.job_address, server=JOB, credentials=mesh_credentials(settings))
    worker = TranscodeWorker(
        queue,
        GrpcJobReporter(channel, timeout=settings.rpc_timeout_seconds),
        blob_store_from_settings(settings),
        MediaPipeline(
            media_encoder(settings),
            media_limits(settings),
            per_title=per_title_planner(settings),
            text_tracks=TextTrackExtractor(),
            surround_audio=settings.audio_surround,
            loudness=loudness_normalization(settings),
        ),
        WorkerConfig(
            worker_id=f"{socket.gethostname()}-{os.getpid()}",
            scratch=settings.data_dir / "scratch" / "worker",
            lease_seconds=settings.queue_lease_seconds,
            max_attempts=settings.queue_max_attempts,
        ),
        importer=UrlSourceImporter(
            OutboundClient(AddressPolicy.from_setting(settings.outbound_allowed_hosts)),
            media_encoder(settings),
            media_limits(settings),
        ),
        chunking=Chunking(media_encoder(settings), settings.chunked_min_source_seconds, settings.chunk_seconds),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    runner = asyncio.create_task(worker.run(stop))
    await stop.wait()
    await drain(runner, settings.worker_drain_seconds)
    await channel.close()
    for engine in resources:
        await engine.dispose()  # type: ignore[attr-defined]
    flush_traces()
