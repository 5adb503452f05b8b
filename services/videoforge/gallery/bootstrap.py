"""Composition root of the gallery service."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from videoforge.gallery.adapters.caption_publisher import PackagedCaptionPublisher
from videoforge.gallery.adapters.caption_repository import PostgresCaptionRepository
from videoforge.gallery.adapters.mesh_clients import GrpcJobEventFeed, GrpcJobScheduler, GrpcMediaProber
from videoforge.gallery.adapters.repository import PostgresVideoRepository
from videoforge.gallery.adapters.webhook_repository import PostgresWebhookRepository
from videoforge.gallery.adapters.webhook_sender import SignedWebhookTransport
from videoforge.gallery.domain.videos import JobUpdate
from videoforge.gallery.entrypoints.api_servicer import GalleryApiServicer
from videoforge.gallery.entrypoints.caption_servicer import CaptionServicer
from videoforge.gallery.entrypoints.grpc_servicer import GalleryInternalServicer, GalleryServicer, VideoPresenter
from videoforge.gallery.entrypoints.webhook_servicer import WebhookServicer
from videoforge.gallery.service_layer.captions import CaptionLibrary
from videoforge.gallery.service_layer.gallery import Gallery, UploadLimits
from videoforge.gallery.service_layer.job_events import follow_job_events
from videoforge.gallery.service_layer.upload_sweep import sweep_uploads_every
from videoforge.gallery.service_layer.webhooks import RetrySchedule, WebhookRegistry, run_webhook_sender
from videoforge.gallery.v1 import (
    captions_pb2,
    captions_pb2_grpc,
    gallery_api_pb2,
    gallery_api_pb2_grpc,
    gallery_pb2,
    gallery_pb2_grpc,
    webhooks_pb2,
    webhooks_pb2_grpc,
)
from videoforge.kit.address_policy import AddressPolicy
from videoforge.kit.clients import open_channel
from videoforge.kit.mesh_tls import JOB, TRANSCODER
from videoforge.kit.outbound import OutboundClient
from videoforge.kit.runtime import Service, database, media_signer, mesh_credentials
from videoforge.kit.server import ServiceBinding
from videoforge.kit.settings import Settings
from videoforge.packager.captions import ShakaCaptionPackager
from videoforge.storage.guard import GuardedMedia
from videoforge.storage.s3 import blob_store_from_settings

MIGRATIONS = Path(__file__).parent / "migrations"
FINAL_VIEWS_FLUSH_SECONDS = 5.0


async def build(settings: Settings) -> Service:
    engine = database(settings, "gallery", MIGRATIONS)
    credentials = mesh_credentials(settings)
    transcoder = open_channel(settings.transcoder_address, server=TRANSCODER, credentials=credentials)
    jobs = open_channel(settings.job_address, server=JOB, credentials=credentials)
    videos = PostgresVideoRepository(engine)
    blobs = blob_store_from_settings(settings)
    # Import from a URL and webhooks reach outside under the same address rules.
    outbound = AddressPolicy.from_setting(settings.outbound_allowed_hosts)
    gallery = Gallery(
        videos,
        blobs,
        GrpcMediaProber(transcoder, timeout=settings.rpc_timeout_seconds),
        GrpcJobScheduler(jobs, timeout=settings.rpc_timeout_seconds),
        UploadLimits(
            max_bytes=settings.max_upload_bytes,
            multipart_threshold=settings.multipart_threshold_bytes,
            part_bytes=settings.multipart_part_bytes,
            url_seconds=settings.upload_url_seconds,
            quota_bytes=settings.user_storage_quota_bytes,
            abandoned_after=timedelta(seconds=settings.upload_abandon_seconds),
        ),
        default_formats=settings.default_formats,
        auto_transcode=settings.auto_transcode,
        import_policy=outbound,
    )
    presenter = VideoPresenter(media_signer(settings), settings.signed_url_seconds)
    public, internal = GalleryServicer(gallery, presenter), GalleryInternalServicer(gallery, presenter)
    original = GalleryApiServicer(gallery, presenter)
    webhooks = PostgresWebhookRepository(engine)
    hooks = WebhookServicer(WebhookRegistry(webhooks, outbound))
    publisher = PackagedCaptionPublisher(blobs, GuardedMedia(blobs, videos.referenced_sources), ShakaCaptionPackager())
    caption_library = CaptionLibrary(videos, PostgresCaptionRepository(engine), publisher)
    captions = CaptionServicer(caption_library)
    services = gallery_pb2.DESCRIPTOR.services_by_name
    bindings = [
        ServiceBinding(
            lambda s: gallery_pb2_grpc.add_GalleryServiceServicer_to_server(public, s),
            [services["GalleryService"].full_name],
        ),
        ServiceBinding(
            lambda s: gallery_pb2_grpc.add_GalleryInternalServiceServicer_to_server(internal, s),
            [services["GalleryInternalService"].full_name],
        ),
        ServiceBinding(
            lambda s: gallery_api_pb2_grpc.add_GalleryApiServiceServicer_to_server(original, s),
            [gallery_api_pb2.DESCRIPTOR.services_by_name["GalleryApiService"].full_name],
        ),
        ServiceBinding(
            lambda s: webhooks_pb2_grpc.add_WebhookServiceServicer_to_server(hooks, s),
            [webhooks_pb2.DESCRIPTOR.services_by_name["WebhookService"].full_name],
        ),
        ServiceBinding(
            lambda s: captions_pb2_grpc.add_CaptionServiceServicer_to_server(captions, s),
            [captions_pb2.DESCRIPTOR.services_by_name["CaptionService"].full_name],
        ),
    ]
    stop = asyncio.Event()

    async def after_job_update(update: JobUpdate) -> None:
        gallery.changed(update.video_id)
        await caption_library.import_source_tracks(update)

    events = asyncio.create_task(
        follow_job_events(
            videos,
            GrpcJobEventFeed(jobs, timeout=settings.rpc_timeout_seconds),
            stop,
            after=after_job_update,
        )
    )
    sweeping = (
        [asyncio.create_task(sweep_uploads_every(gallery, settings.upload_sweep_seconds, stop))]
        if settings.upload_sweep_seconds
        else []
    )

    async def stop_sweeping() -> None:
        for task in sweeping:
            task.cancel()  # every step of a sweep is idempotent: the next one finishes what this one began
        await asyncio.gather(*sweeping, return_exceptions=True)

    retries = RetrySchedule(
        timedelta(seconds=settings.webhook_retry_base_seconds), timedelta(hours=settings.webhook_retry_hours)
    )
    sender = asyncio.create_task(
        run_webhook_sender(webhooks, SignedWebhookTransport(OutboundClient(outbound)), retries, stop)
    )

    # Views reach the stored totals once a second, and once more as the service stops.
    counting = asyncio.create_task(gallery.views.run(stop))

    async def stop_events() -> None:
        stop.set()
        await asyncio.wait({counting}, timeout=FINAL_VIEWS_FLUSH_SECONDS)
        events.cancel()  # it may be inside a long poll; nothing is lost, unacknowledged events come again
        # A delivery cut short keeps its lease and is attempted again once the lease lapses.
        sender.cancel()
        await asyncio.gather(events, sender, return_exceptions=True)

    return Service(bindings, [stop_events, stop_sweeping, engine.dispose, transcoder.close, jobs.close])
