"""Jobs and assets in the original API's shapes (the use-case document's names, units and words), converted from
their resource protos: the one place they are, for the job service's and the gallery's `/api` routes."""

from __future__ import annotations

from pathlib import PurePosixPath

from videoforge.job.v1 import job_api_pb2 as api
from videoforge.job.v1 import job_pb2
from videoforge.media_model import MediaSummary, quality_word

GIGABYTE = 1024**3
# What the document calls each kind of file; the kinds it never showed get words in the same spirit.
_ASSET_TYPES = {
    "MP4": "video",
    "POSTER": "thumbnail",
    "PREVIEW": "gif",
    "STORYBOARD": "storyboard",
    "STORYBOARD_INDEX": "storyboard",
    "HLS_MASTER": "manifest",
    "DASH_MANIFEST": "manifest",
    "HLS_PLAYLIST": "playlist",
}


def resolution(width: int, height: int) -> str:
    """`1920x1080`; empty before a probe."""
    return f"{width}x{height}" if width and height else ""


def gigabytes(size_bytes: int) -> float:
    return round(size_bytes / GIGABYTE, 4)


def api_job(job: job_pb2.Job, media: MediaSummary) -> api.ApiJob:
    """The job with what the probe found in its source."""
    return api.ApiJob(
        id=job.id,
        user_id=job.owner_id,
        input_source=job.source_url or job.input_source,
        status=job.status,
        progress=job.progress,
        duration=media.duration_seconds,
        resolution=resolution(media.width, media.height),
        video_codec=media.video_codec,
        audio_codec=media.audio_codec,
        error_text=job.error.message,
        video_id=job.video_id,
        output_formats=job.output_formats,
        created_at=job.create_time,
        updated_at=job.update_time,
    )


def api_asset(asset: job_pb2.Asset) -> api.ApiAsset:
    kind = job_pb2.Asset.Kind.Name(asset.kind).removeprefix("KIND_")
    return api.ApiAsset(
        id=asset.id,
        asset_type=_ASSET_TYPES.get(kind, kind.lower()),
        format=PurePosixPath(asset.key).suffix.removeprefix(".").lower(),
        quality=quality_word(asset.quality),
        s3_key=asset.key,
        file_size=asset.size_bytes,
        rendition=asset.quality,
        content_type=asset.content_type,
    )
