"""The media model and the transcoder's domain values ↔ their protos: the one place they are converted."""

from __future__ import annotations

from fractions import Fraction

from videoforge.media_model import MediaSummary, Rendition
from videoforge.transcoder.domain.ladder import Rung
from videoforge.transcoder.domain.media import MediaInfo
from videoforge.transcoder.v1 import transcoder_pb2 as pb

# avc1.64 = High profile; the level byte follows the rung's size.
_H264_HIGH = {2160: "avc1.640033", 1080: "avc1.640028", 720: "avc1.64001f"}
# HEVC Main (hvc1.1.6, progressive frames: 90) and AV1 Main 8-bit (av01.0...M.08), at the level each height needs
# up to 30 fps, as the encoders choose it.
_HEVC_MAIN = {360: "hvc1.1.6.L63.90", 540: "hvc1.1.6.L90.90", 720: "hvc1.1.6.L93.90", 1080: "hvc1.1.6.L120.90"}
_AV1_MAIN = {
    240: "av01.0.00M.08",
    360: "av01.0.01M.08",
    540: "av01.0.04M.08",
    720: "av01.0.05M.08",
    1080: "av01.0.08M.08",
}
_LEVELS = {
    "h264": (_H264_HIGH, "avc1.640033"),
    "hevc": (_HEVC_MAIN, "hvc1.1.6.L150.90"),
    "av1": (_AV1_MAIN, "av01.0.12M.08"),
}
AAC_LC = "mp4a.40.2"


def media_proto(info: MediaInfo) -> pb.MediaInfo:
    return pb.MediaInfo(
        container=info.container,
        duration_seconds=info.duration_seconds,
        width=info.display_width,
        height=info.display_height,
        frame_rate=info.frame_rate,
        video_codec=info.video_codec,
        audio_codec=info.audio_codec or "",
        has_audio=info.has_audio,
        bitrate=info.bitrate or 0,
        size_bytes=info.size_bytes or 0,
        rotation=info.rotation,
    )


def media_from_proto(message: pb.MediaInfo) -> MediaInfo:
    """Display size as probed; rotation is already applied to it."""
    return MediaInfo(
        container=message.container,
        duration_seconds=message.duration_seconds,
        width=message.width,
        height=message.height,
        frame_rate_fraction=Fraction(message.frame_rate or 30).limit_denominator(1001),
        video_codec=message.video_codec,
        audio_codec=message.audio_codec or None,
        bitrate=message.bitrate or None,
        size_bytes=message.size_bytes or None,
    )


def codecs_for(rung: Rung, has_audio: bool) -> str:
    """The rung's RFC 6381 codecs, by its codec and its height."""
    levels, largest = _LEVELS[rung.codec]
    level = next((codec for height, codec in sorted(levels.items()) if rung.height <= height), largest)
    return f"{level},{AAC_LC}" if has_audio else level


def rendition_proto(rung: Rung, has_audio: bool) -> pb.Rendition:
    return pb.Rendition(
        name=rung.name,
        width=rung.width,
        height=rung.height,
        bitrate=rung.video_kbps * 1000,
        codecs=codecs_for(rung, has_audio),
    )


def summary_proto(summary: MediaSummary) -> pb.MediaInfo:
    return pb.MediaInfo(**summary.as_fields())


def summary_from_proto(message: pb.MediaInfo) -> MediaSummary:
    return MediaSummary(
        container=message.container,
        duration_seconds=message.duration_seconds,
        width=message.width,
        height=message.height,
        frame_rate=message.frame_rate,
        video_codec=message.video_codec,
        audio_codec=message.audio_codec,
        has_audio=message.has_audio,
        bitrate=message.bitrate,
        size_bytes=message.size_bytes,
        rotation=message.rotation,
    )


def renditions_proto(renditions: list[Rendition]) -> list[pb.Rendition]:
    return [pb.Rendition(**r.as_fields()) for r in renditions]


def rendition_from_proto(message: pb.Rendition) -> Rendition:
    return Rendition(message.name, message.width, message.height, message.bitrate, message.codecs)
