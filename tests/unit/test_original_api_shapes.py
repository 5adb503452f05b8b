"""The original API's shapes: the document's names, words and units, from the resource protos."""

from __future__ import annotations

from videoforge.gallery.entrypoints.api_servicer import api_video
from videoforge.gallery.v1 import gallery_pb2
from videoforge.job.entrypoints.api_shapes import api_asset, api_job, gigabytes
from videoforge.job.v1 import job_pb2
from videoforge.media_model import MediaSummary
from videoforge.transcoder.v1 import transcoder_pb2

MEDIA = MediaSummary(duration_seconds=120.5, width=1920, height=1080, video_codec="h264", audio_codec="aac")


def asset(kind: str, key: str, quality: str = "") -> job_pb2.Asset:
    return job_pb2.Asset(id="a1", kind=job_pb2.Asset.Kind.Value(f"KIND_{kind}"), key=key, quality=quality, size_bytes=7)


def test_mp4_assets_are_videos_with_the_documents_quality_words() -> None:
    shown = api_asset(asset("MP4", "videos/v/jobs/j/attempt-1/downloads/1080p.mp4", "1080p"))
    assert (shown.asset_type, shown.format, shown.quality, shown.rendition) == ("video", "mp4", "high", "1080p")
    assert (shown.s3_key, shown.file_size) == ("videos/v/jobs/j/attempt-1/downloads/1080p.mp4", 7)
    assert api_asset(asset("MP4", "x/360p.mp4", "360p")).quality == "mobile"
    assert api_asset(asset("MP4", "x/4K.mp4", "4K")).quality == "4K", "a rung without a word keeps its name"


def test_images_are_a_thumbnail_and_a_gif_without_quality() -> None:
    poster = api_asset(asset("POSTER", "x/images/poster.jpg"))
    preview = api_asset(asset("PREVIEW", "x/images/preview.gif"))
    assert (poster.asset_type, poster.format, poster.quality) == ("thumbnail", "jpg", "")
    assert (preview.asset_type, preview.format) == ("gif", "gif")


def test_a_job_shows_its_source_as_the_document_does() -> None:
    job = job_pb2.Job(id="j1", owner_id="u1", input_source="uploads/u1/a/source", status="PROCESSING", progress=45)
    shown = api_job(job, MEDIA)
    assert (shown.id, shown.user_id, shown.status, shown.progress) == ("j1", "u1", "PROCESSING", 45)
    assert (shown.duration, shown.resolution, shown.video_codec, shown.audio_codec) == (
        120.5,
        "1920x1080",
        "h264",
        "aac",
    )
    assert api_job(job, MediaSummary()).resolution == "", "no resolution before a probe"


def test_a_video_shows_views_duration_and_size_under_the_documents_names() -> None:
    video = gallery_pb2.Video(
        id="v1",
        owner_id="u1",
        title="My Amazing Video",
        status="ready",
        view_count=157,
        source_key="uploads/u1/a/source",
        media=transcoder_pb2.MediaInfo(duration_seconds=120.5, width=1920, height=1080, size_bytes=52345678),
    )
    shown = api_video(video)
    assert (shown.id, shown.user_id, shown.views, shown.duration) == ("v1", "u1", 157, 120.5)
    assert (shown.resolution, shown.file_size, shown.s3_key) == ("1920x1080", 52345678, "uploads/u1/a/source")


def test_storage_is_counted_in_gigabytes() -> None:
    assert gigabytes(0) == 0
    assert gigabytes(52_300_000_000) == 48.7082
