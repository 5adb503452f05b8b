"""What a source file is (from ffprobe's report), what we accept, and what we refuse by content."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from videoforge.transcoder.domain.errors import UnsupportedMedia
from videoforge.transcoder.domain.languages import bcp47
from videoforge.transcoder.domain.tone_mapping import HDR_TRANSFERS, HdrTransfer, ToneMap, tone_map_for

# How much of a file `sniff_refusal` wants to see.
SNIFF_BYTES = 4096
# Above this a stream's average rate is taken for a timestamp glitch and its base rate is tried instead.
_PLAUSIBLE_FRAME_RATE = Fraction(1000)
# How far a stream's average rate may stray from its base rate before its frames are taken as unevenly spaced:
# a constant-rate file's two agree, up to the rounding of a container's timescale.
_VARIABLE_RATE_TOLERANCE = Fraction(1, 100)
_BIT_DEPTH = re.compile(r"p(?P<bits>\d+)(?:le|be)$")


@dataclass(frozen=True, slots=True)
class AudioTrack:
    """A decodable audio stream of a source, as its tags describe it."""

    # Its place among the source's audio streams, undecodable ones included: FFmpeg's `0:a:{position}`.
    position: int
    codec: str
    channels: int = 2
    channel_layout: str = ""
    language: str = "und"  # BCP 47
    title: str = ""  # as tagged: untrusted text

    @property
    def surround(self) -> bool:
        """5.1 or more: worth a surround rendition when one is asked for."""
        return self.channels >= 6


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """A probed source: its first video stream, its decodable audio streams, and container."""

    container: str
    duration_seconds: float
    width: int
    height: int
    frame_rate_fraction: Fraction
    video_codec: str
    rotation: int = 0
    sample_aspect_ratio: Fraction = Fraction(1)
    audio_codec: str | None = None
    bitrate: int | None = None
    size_bytes: int | None = None
    # The size the decoder allocates, when the stream says (padded, or larger than a cropped picture).
    coded_width: int = 0
    coded_height: int = 0
    stream_count: int = 1
    audio_tracks: tuple[AudioTrack, ...] = ()
    # The video's colour as tagged, in ffprobe's words (`smpte2084`, `bt2020`, `bt2020nc`...; "" when untagged).
    color_transfer: str = ""
    color_primaries: str = ""
    color_space: str = ""
    pix_fmt: str = ""
    # An HDR10 source's light levels as tagged, in cd/m² (0 when untagged): its content light level (MaxCLL) and its
    # mastering display's peak.
    content_light_nits: float = 0
    mastering_peak_nits: float = 0
    # Frames unevenly spaced in time (average and base rates disagree): a phone's or a screen recording's.
    variable_frame_rate: bool = False

    @property
    def hdr_transfer(self) -> HdrTransfer | None:
        """`pq` or `hlg` for an HDR source, which the ladder tone-maps to SDR; None for SDR."""
        return HDR_TRANSFERS.get(self.color_transfer)

    @property
    def tone_map(self) -> ToneMap | None:
        """How the ladder makes an HDR source SDR; None for SDR."""
        transfer = self.hdr_transfer
        if transfer is None:
            return None
        return tone_map_for(transfer, content_light=self.content_light_nits, mastering_peak=self.mastering_peak_nits)

    @property
    def bit_depth(self) -> int:
        """Bits per sample of the decoded picture (`yuv420p10le`: 10); 8 when the format names none."""
        match = _BIT_DEPTH.search(self.pix_fmt)
        return int(match["bits"]) if match else 8

    @property
    def frame_rate(self) -> float:
        return float(self.frame_rate_fraction)

    @property
    def decoded_width(self) -> int:
        """Width of the frames the decoder makes: what memory and time go by, whatever the display says."""
        return max(self.width, self.coded_width)

    @property
    def decoded_height(self) -> int:
        return max(self.height, self.coded_height)

    @property
    def pixel_rate(self) -> float:
        """Decoded pixels a second: the decoder's and scaler's work."""
        return self.decoded_width * self.decoded_height * self.frame_rate

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None

    @property
    def display_width(self) -> int:
        """Width as shown: non-square pixels stretched, then rotation applied."""
        return self._display_size()[0]

    @property
    def display_height(self) -> int:
        return self._display_size()[1]

    def _display_size(self) -> tuple[int, int]:
        width = round(self.width * self.sample_aspect_ratio)
        return (self.height, width) if self.rotation in (90, 270) else (width, self.height)


@dataclass(frozen=True, slots=True)
class MediaLimits:
    """What we agree to transcode; anything past these is refused before decoding.

    Sizes bound both the frames the decoder makes and the picture as displayed (non-square pixels stretched):
    a tall narrow frame with a 1:32 aspect ratio displays small but decodes huge, and the reverse scales up.
    """

    max_duration_seconds: float = 4 * 3600
    # A single picture, or a blink: too short to make previews and a storyboard of, and no video to watch.
    min_duration_seconds: float = 0.5
    max_side: int = 8192
    max_pixels: int = 8192 * 4320
    # 8K at 30 fps, 4K at 120: past this one source ties up a worker for hours.
    max_pixel_rate: float = 8192 * 4320 * 30
    min_side: int = 16
    max_bytes: int = 20 * 1024**3
    max_frame_rate: float = 240.0
    # A video, a few audio tracks, subtitles and chapters; a thousand streams is a demuxer load, not a film.
    max_streams: int = 32


def parse_ffprobe(report: dict[str, Any]) -> MediaInfo:
    """Read ffprobe's JSON (`-show_format -show_streams -of json`) into a MediaInfo.

    Raises UnsupportedMedia when the report lacks what every job needs: a video stream with a size,
    a frame rate and a duration.
    """
    streams: list[dict[str, Any]] = report.get("streams") or []
    fmt: dict[str, Any] = report.get("format") or {}
    video = next(
        (
            stream
            for stream in streams
            if stream.get("codec_type") == "video"
            # Cover art in MP4/MKV shows up as a one-frame video stream.
            and not (stream.get("disposition") or {}).get("attached_pic")
        ),
        None,
    )
    if video is None:
        raise UnsupportedMedia("The file has no video stream")
    audio_tracks = _audio_tracks(streams)
    width, height = _int(video.get("width")) or 0, _int(video.get("height")) or 0
    if width <= 0 or height <= 0:
        raise UnsupportedMedia("The video stream's resolution is unknown")
    frame_rate = _frame_rate(video.get("avg_frame_rate"), video.get("r_frame_rate"))
    if frame_rate is None:
        raise UnsupportedMedia("The video stream's frame rate is unknown")
    duration = _float(fmt.get("duration")) or _float(video.get("duration"))
    if not duration or duration <= 0:
        raise UnsupportedMedia("The file's duration is unknown")
    return MediaInfo(
        container=str(fmt.get("format_name") or ""),
        duration_seconds=duration,
        width=width,
        height=height,
        frame_rate_fraction=frame_rate,
        video_codec=str(video.get("codec_name") or ""),
        rotation=_rotation(video),
        sample_aspect_ratio=_ratio(video.get("sample_aspect_ratio")) or Fraction(1),
        audio_codec=audio_tracks[0].codec if audio_tracks else None,
        bitrate=_int(fmt.get("bit_rate")),
        size_bytes=_int(fmt.get("size")),
        coded_width=max(0, _int(video.get("coded_width")) or 0),
        coded_height=max(0, _int(video.get("coded_height")) or 0),
        stream_count=len(streams),
        audio_tracks=audio_tracks,
        color_transfer=str(video.get("color_transfer") or ""),
        color_primaries=str(video.get("color_primaries") or ""),
        color_space=str(video.get("color_space") or ""),
        pix_fmt=str(video.get("pix_fmt") or ""),
        content_light_nits=_side_data_number(video, "Content light level metadata", "max_content"),
        mastering_peak_nits=_side_data_number(video, "Mastering display metadata", "max_luminance"),
        variable_frame_rate=_variable_rate(video.get("avg_frame_rate"), video.get("r_frame_rate")),
    )


def _audio_tracks(streams: list[dict[str, Any]]) -> tuple[AudioTrack, ...]:
    """The audio streams a decoder exists for (ffprobe names their codec), each at its place among all audio."""
    audio = [stream for stream in streams if stream.get("codec_type") == "audio"]
    tracks = []
    for position, stream in enumerate(audio):
        if not stream.get("codec_name"):
            continue
        tags = stream.get("tags") or {}
        tracks.append(
            AudioTrack(
                position=position,
                codec=str(stream["codec_name"]),
                channels=max(1, _int(stream.get("channels")) or 2),
                channel_layout=str(stream.get("channel_layout") or ""),
                language=bcp47(str(tags.get("language") or "")),
                title=str(tags.get("title") or ""),
            )
        )
    return tuple(tracks)


def validate(info: MediaInfo, limits: MediaLimits) -> None:
    """Raise UnsupportedMedia with a reason a person can act on when the source is past our limits."""
    if info.stream_count > limits.max_streams:
        raise UnsupportedMedia(f"The file has {info.stream_count} streams; at most {limits.max_streams} are accepted")
    _check_size("Resolution", info.decoded_width, info.decoded_height, limits)
    _check_size("Display size", info.display_width, info.display_height, limits)
    if info.frame_rate > limits.max_frame_rate:
        raise UnsupportedMedia(f"Frame rate {info.frame_rate:.2f} fps is above the {limits.max_frame_rate:g} fps limit")
    if info.pixel_rate > limits.max_pixel_rate:
        raise UnsupportedMedia(
            f"{info.decoded_width}x{info.decoded_height} at {info.frame_rate:.2f} fps is "
            f"{info.pixel_rate / 1e6:.0f} megapixels a second, above the {limits.max_pixel_rate / 1e6:.0f} limit"
        )
    if not info.video_codec:
        raise UnsupportedMedia("The video stream's codec is not one we can decode")
    if info.duration_seconds > limits.max_duration_seconds:
        raise UnsupportedMedia(
            f"Duration {_clock(info.duration_seconds)} is above the {_clock(limits.max_duration_seconds)} limit"
        )
    if info.duration_seconds < limits.min_duration_seconds:
        raise UnsupportedMedia(
            f"Duration {info.duration_seconds:.2f} s is below the {limits.min_duration_seconds:g} s minimum"
        )
    if info.size_bytes is not None and info.size_bytes > limits.max_bytes:
        raise UnsupportedMedia(
            f"File size {_gigabytes(info.size_bytes)} is above the {_gigabytes(limits.max_bytes)} limit"
        )


def _check_size(label: str, width: int, height: int, limits: MediaLimits) -> None:
    if max(width, height) > limits.max_side:
        raise UnsupportedMedia(f"{label} {width}x{height} is above the {limits.max_side}-pixel limit")
    if width * height > limits.max_pixels:
        raise UnsupportedMedia(f"{label} {width}x{height} is above the {limits.max_pixels / 1e6:.1f}-megapixel limit")
    if min(width, height) < limits.min_side:
        raise UnsupportedMedia(f"{label} {width}x{height} is below the {limits.min_side}-pixel minimum")


def sniff_refusal(first_bytes: bytes) -> str | None:
    """Why a file is refused by its first bytes alone (before any demuxer sees it), or None.

    Playlists, concat scripts and session descriptions make FFmpeg open other files or URLs, so they
    are refused by content whatever the file is called. Text of any kind is never a video.
    """
    if not first_bytes:
        return "The file is empty"
    head = first_bytes[:SNIFF_BYTES].removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    if head.startswith(b"#extm3u"):
        return "The file is an HLS playlist, not a video"
    if head.startswith(b"<mpd") or (head.startswith(b"<?xml") and b"<mpd" in head):
        return "The file is a DASH manifest, not a video"
    if head.startswith(b"ffconcat"):
        return "The file is an FFmpeg concat script, not a video"
    if not _looks_like_text(first_bytes[:SNIFF_BYTES]):
        return None
    if head.startswith(b"v=0"):
        return "The file is an SDP session description, not a video"
    if head.startswith((b"<!doctype html", b"<html")):
        return "The file is an HTML page, not a video"
    if head.startswith((b"{", b"[")):
        return "The file is JSON text, not a video"
    return "The file is text, not a video"


def _looks_like_text(sample: bytes) -> bool:
    # Every video container has binary headers (box sizes, EBML ids, sync bytes) within its first bytes.
    return not any(byte < 0x20 and byte not in b"\t\n\r\f" for byte in sample)


def _side_data_number(stream: dict[str, Any], kind: str, field: str) -> float:
    """A number from the stream's side data of that kind (`1000` or `10000000/10000`), 0 when absent or absurd."""
    for side_data in stream.get("side_data_list") or []:
        if side_data.get("side_data_type") == kind:
            value = _ratio(side_data.get(field), "/") or _float(side_data.get(field))
            return float(value) if value and value > 0 else 0.0
    return 0.0


def _rotation(stream: dict[str, Any]) -> int:
    degrees: float | None = None
    for side_data in stream.get("side_data_list") or []:
        if side_data.get("side_data_type") == "Display Matrix" and "rotation" in side_data:
            degrees = _float(side_data["rotation"])
    if degrees is None:  # older muxers wrote a `rotate` tag instead of a display matrix
        degrees = _float((stream.get("tags") or {}).get("rotate"))
    # FFmpeg auto-rotates by quarter turns only.
    return round((degrees or 0) / 90) * 90 % 360


def _frame_rate(average: object, base: object) -> Fraction | None:
    """The average rate, else the base rate; an absurd pair is kept (as the larger) for the limits to refuse."""
    rates = [rate for rate in (_ratio(average, "/"), _ratio(base, "/")) if rate is not None]
    plausible = [rate for rate in rates if rate <= _PLAUSIBLE_FRAME_RATE]
    return (plausible or [max(rates, default=None)])[0]


def _variable_rate(average: object, base: object) -> bool:
    """Whether the average rate strays from the base rate (the rate every timestamp is a multiple of)."""
    average_rate, base_rate = _ratio(average, "/"), _ratio(base, "/")
    if average_rate is None or base_rate is None:
        return False
    return abs(average_rate - base_rate) > base_rate * _VARIABLE_RATE_TOLERANCE


def _ratio(value: object, separator: str = ":") -> Fraction | None:
    numerator, _, denominator = str(value or "").partition(separator)
    try:
        ratio = Fraction(int(numerator), int(denominator))
    except (ValueError, ZeroDivisionError):
        return None
    return ratio if ratio > 0 else None


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def _float(value: object) -> float | None:
    try:
        number = float(str(value))
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _clock(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def _gigabytes(size: int) -> str:
    return f"{size / 1024**3:.1f} GiB"
