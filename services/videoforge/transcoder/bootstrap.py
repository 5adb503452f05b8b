"""Composition root of the transcoder service."""

from __future__ import annotations

from videoforge.kit.runtime import Service
from videoforge.kit.server import ServiceBinding
from videoforge.kit.settings import Settings
from videoforge.storage.s3 import blob_store_from_settings
from videoforge.transcoder.adapters.ffmpeg import FfmpegEncoder
from videoforge.transcoder.adapters.ffmpeg_analysis import FfmpegLadderAnalyzer
from videoforge.transcoder.adapters.ffmpeg_loudness import LoudnessMeter
from videoforge.transcoder.domain.media import MediaLimits
from videoforge.transcoder.domain.per_title import PerTitlePlanner, QualityTarget
from videoforge.transcoder.entrypoints.grpc_servicer import ProbeBounds, TranscoderServicer
from videoforge.transcoder.loudness_normalization import LoudnessNormalization
from videoforge.transcoder.v1 import transcoder_pb2, transcoder_pb2_grpc


def media_limits(settings: Settings) -> MediaLimits:
    return MediaLimits(
        max_duration_seconds=settings.max_duration_seconds,
        max_pixels=settings.max_pixels,
        max_bytes=settings.max_upload_bytes,
    )


def media_encoder(settings: Settings) -> FfmpegEncoder:
    return FfmpegEncoder(
        preset=settings.encoder_preset, max_pixels=settings.max_pixels, memory_bytes=settings.media_memory_bytes
    )


def per_title_planner(settings: Settings) -> PerTitlePlanner | None:
    """The per-title ladder's analysis; None when PER_TITLE_LADDER is off, and every source gets the fixed ladder."""
    if not settings.per_title_ladder:
        return None
    analyzer = FfmpegLadderAnalyzer(
        preset=settings.encoder_preset, max_pixels=settings.max_pixels, memory_bytes=settings.media_memory_bytes
    )
    return PerTitlePlanner(analyzer, QualityTarget(ssim_db=settings.per_title_target_ssim_db))


def loudness_normalization(settings: Settings) -> LoudnessNormalization:
    """Loudness measured for every transcode; the audio normalised unless LOUDNESS_NORMALIZATION is off."""
    meter = LoudnessMeter(max_pixels=settings.max_pixels, memory_bytes=settings.media_memory_bytes)
    return LoudnessNormalization(meter, normalize=settings.loudness_normalization)


async def build(settings: Settings) -> Service:
    servicer = TranscoderServicer(
        blob_store_from_settings(settings),
        media_encoder(settings),
        media_limits(settings),
        ProbeBounds(concurrency=settings.probe_concurrency, queue_seconds=settings.probe_queue_seconds),
    )
    name = transcoder_pb2.DESCRIPTOR.services_by_name["TranscoderService"].full_name
    binding = ServiceBinding(lambda s: transcoder_pb2_grpc.add_TranscoderServiceServicer_to_server(servicer, s), [name])
    return Service([binding])
