"""Composition root of the job service."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from videoforge.job.adapters.change_notices import listen_for_changes
from videoforge.job.adapters.content_keys import PostgresContentKeys
from videoforge.job.adapters.insights import PostgresActivityRecords
from videoforge.job.adapters.key_sealing import KeySealer
from videoforge.job.adapters.platform_gauges import keep_gauges_fresh
from videoforge.job.adapters.repository import PostgresJobRepository
from videoforge.job.entrypoints.api_servicer import JobApiServicer
from videoforge.job.entrypoints.grpc_servicer import JobAdminServicer, JobInternalServicer, JobServicer
from videoforge.job.service_layer.insights import sample_queue
from videoforge.job.service_layer.job_watch import WatchLimits
from videoforge.job.service_layer.jobs import Jobs
from videoforge.job.v1 import job_api_pb2, job_api_pb2_grpc, job_pb2, job_pb2_grpc
from videoforge.kit.db import migrate
from videoforge.kit.runtime import Service, database, media_signer
from videoforge.kit.server import ServiceBinding
from videoforge.kit.settings import Settings
from videoforge.queue.factory import job_queue_from_settings
from videoforge.storage.s3 import blob_store_from_settings

MIGRATIONS = Path(__file__).parent / "migrations"
SWEEP_SECONDS = 5.0
log = logging.getLogger(__name__)


async def sweep(jobs: Jobs, stop: asyncio.Event) -> None:
    """Nothing stays stuck: dead-lettered jobs end FAILED, and jobs whose worker vanished are queued again."""
    while not stop.is_set():
        try:
            await jobs.fail_dead_letters()
            await jobs.requeue_lapsed()
            await jobs.sweep_recently_finished()
        except Exception:
            log.warning("sweep failed; retrying", exc_info=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), SWEEP_SECONDS)


async def build(settings: Settings) -> Service:
    engine = database(settings, "job", MIGRATIONS)
    queue_parts = job_queue_from_settings(settings, engine, migrate)
    repository = PostgresJobRepository(engine, queue_parts.enqueuer)
    content_keys = None
    if settings.content_key_secret_file is not None:
        content_keys = PostgresContentKeys(engine, KeySealer.from_file(settings.content_key_secret_file))
    jobs = Jobs(
        repository,
        queue_parts.queue,
        blob_store_from_settings(settings),
        media_signer(settings),
        url_seconds=settings.signed_url_seconds,
        # Twice the queue's lease: a job service that restarts (and so hears no progress for a few seconds) must
        # not hand a running job to a duplicate delivery.
        lease_seconds=2 * settings.queue_lease_seconds,
        watch_limits=WatchLimits(settings.watch_streams_per_user, settings.watch_stream_max_seconds),
        content_keys=content_keys,
    )
    stop = asyncio.Event()
    background = [asyncio.create_task(sweep(jobs, stop))]
    # One listener for the whole process: other replicas' changes reach this one's watchers and event readers.
    background.append(
        asyncio.create_task(
            listen_for_changes(settings.database_url, jobs.changes.notify, jobs.changes.notify_all, stop)
        )
    )
    background.append(asyncio.create_task(keep_gauges_fresh(repository, queue_parts.queue, stop)))
    activity = PostgresActivityRecords(engine)
    background.append(
        asyncio.create_task(sample_queue(queue_parts.queue, activity, stop, settings.queue_sample_seconds))
    )
    background += [asyncio.create_task(loop(stop)) for loop in queue_parts.background]

    async def stop_background() -> None:
        stop.set()
        await asyncio.gather(*background, return_exceptions=True)

    services = job_pb2.DESCRIPTOR.services_by_name
    public, admin, internal = JobServicer(jobs), JobAdminServicer(jobs, activity), JobInternalServicer(jobs)
    original = JobApiServicer(jobs)
    bindings = [
        ServiceBinding(
            lambda s: job_pb2_grpc.add_JobServiceServicer_to_server(public, s), [services["JobService"].full_name]
        ),
        ServiceBinding(
            lambda s: job_pb2_grpc.add_JobAdminServiceServicer_to_server(admin, s),
            [services["JobAdminService"].full_name],
        ),
        ServiceBinding(
            lambda s: job_pb2_grpc.add_JobInternalServiceServicer_to_server(internal, s),
            [services["JobInternalService"].full_name],
        ),
        ServiceBinding(
            lambda s: job_api_pb2_grpc.add_JobApiServiceServicer_to_server(original, s),
            [job_api_pb2.DESCRIPTOR.services_by_name["JobApiService"].full_name],
        ),
    ]
    return Service(bindings, [engine.dispose, stop_background], draining=[jobs.changes.close])
