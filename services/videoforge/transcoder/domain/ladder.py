"""The rendition ladder: one table of formats (one row per name in the media model), and the rungs a given
source gets from it."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction

from videoforge.media_model import parse_formats
from videoforge.transcoder.domain.media import MediaInfo

# Seconds between keyframes; segments of the same length start at those keyframes (past the opening's, below).
GOP_SECONDS = 2
# A presentation's first segment is this share of a GOP (half a second), and the rest of the first GOP starts on a
# keyframe of its own: a video being transcoded is watchable once half a second of every rung is encoded, and any
# player starts after a smaller first download. One keyframe more, not one every half second: a constant-quality
# rung pays for each (three cost a 10 s clip's per-title ladder 2% of its bits; bench/per_title_bench.py).
OPENING_SHARE = Fraction(1, 4)
# Floor for the bitrate of a rung smaller than every format (bits per pixel grow as frames shrink).
MIN_VIDEO_KBPS = 150
# Another codec's rung takes this share of the H.264 rung's bitrates for about its quality: bench/codec_bench.py
# finds x265 veryfast saving about 30% of H.264's bits at equal SSIM and SVT-AV1 (preset 10) 20-60% except on
# flat synthetic pictures, and their bitrate-controlled rungs short of H.264's SSIM at 65% and 55%.
CODEC_BITRATE_SHARE: dict[str, Fraction] = {"hevc": Fraction(3, 4), "av1": Fraction(3, 4)}


@dataclass(frozen=True, slots=True)
class Format:
    """A row of the ladder: a 16:9 box (landscape; portrait sources use it turned) and its H.264 bitrate."""

    name: str
    height: int
    video_kbps: int

    @property
    def width(self) -> int:
        return _even(self.height * 16 / 9)


# H.264 High bitrates for a full 16:9 frame; smaller frames in the same box get proportionally less.
FORMATS: tuple[Format, ...] = (
    Format("4K", 2160, 14_000),
    Format("1080p", 1080, 5_000),
    Format("720p", 720, 2_800),
    Format("480p", 480, 1_400),
    Format("360p", 360, 800),
)


@dataclass(frozen=True, slots=True)
class Rung:
    """One rendition to encode: its frame size, rate control and keyframe interval."""

    name: str
    width: int
    height: int
    video_kbps: int
    maxrate_kbps: int
    bufsize_kbps: int
    gop_frames: int
    # Set by the per-title ladder: constant quality under the peak rate instead of an average bitrate.
    crf: float | None = None
    # The video codec: `h264`, or `hevc` / `av1` for the rungs of a ladder asked for in those too.
    codec: str = "h264"
    # Keyframes every GOP_SECONDS of the source's time rather than every `gop_frames` frames: for a source whose
    # frames are unevenly spaced, so that its segments still last GOP_SECONDS.
    keyframes_by_time: bool = False


def plan_ladder(info: MediaInfo, requested_formats: Iterable[str] | None = None) -> list[Rung]:
    """The rungs to encode for a source, largest first; never larger than the source.

    A format applies when the source reaches its box on either side (short side against the box's
    height, so a 1080x1920 portrait gets a 1080-wide `1080p` and a 1920x800 film gets a `1080p` at its
    own size). A source below every format gets one rung at its own size, named `{short side}p`.
    Empty `requested_formats` means every format that applies; requested formats above the source
    are dropped, and if none is left the source's largest rung is used instead.
    """
    wanted = parse_formats(requested_formats or [])
    long_side = max(info.display_width, info.display_height)
    short_side = min(info.display_width, info.display_height)
    # Rounded up: a GOP a frame short of two seconds would make the packager join two GOPs per segment.
    gop_frames = max(1, math.ceil(GOP_SECONDS * info.frame_rate_fraction))
    applicable = [fmt for fmt in FORMATS if long_side >= fmt.width or short_side >= fmt.height]
    if not applicable:
        return _timed([_own_size_rung(info, gop_frames)], info)
    rungs = [_rung(fmt, info, gop_frames) for fmt in applicable]
    chosen = [rung for rung in rungs if rung.name in wanted]
    return _timed(chosen or (rungs[:1] if wanted else rungs), info)


def gop_duration(rung: Rung, frame_rate: Fraction) -> Fraction:
    """How long a rung's GOP lasts, in seconds: GOP_SECONDS where its keyframes come by time, else its frames at
    `frame_rate` (2 s at 30 fps, 2.002 s at 29.97)."""
    return Fraction(GOP_SECONDS) if rung.keyframes_by_time else rung.gop_frames / frame_rate


def _timed(rungs: list[Rung], info: MediaInfo) -> list[Rung]:
    """A variable-frame-rate source's rungs get keyframes by time: counted in frames, a GOP would last longer
    where frames come slower (and a segment with it)."""
    return [replace(rung, keyframes_by_time=True) for rung in rungs] if info.variable_frame_rate else rungs


def _rung(fmt: Format, info: MediaInfo, gop_frames: int) -> Rung:
    long_side = max(info.display_width, info.display_height)
    short_side = min(info.display_width, info.display_height)
    scale = min(Fraction(fmt.width, long_side), Fraction(fmt.height, short_side), Fraction(1))
    long_px, short_px = _even(long_side * scale, long_side), _even(short_side * scale, short_side)
    portrait = info.display_height > info.display_width
    width, height = (short_px, long_px) if portrait else (long_px, short_px)
    fill = Fraction(width * height, fmt.width * fmt.height)
    return _with_rates(fmt.name, width, height, round(fmt.video_kbps * min(fill, Fraction(1))), gop_frames)


def at_constant_quality(rung: Rung, crf: float, expected_kbps: int) -> Rung:
    """The rung encoded at x264's constant quality `crf`, which is expected to take `expected_kbps`; its peak rate
    is held to the rung's own bitrate, so it never takes more than the rung did, at any moment or on average."""
    return replace(
        rung, crf=crf, video_kbps=expected_kbps, maxrate_kbps=rung.video_kbps, bufsize_kbps=rung.video_kbps * 2
    )


def codec_rungs(rungs: Sequence[Rung], codecs: Iterable[str]) -> list[Rung]:
    """The rungs of each extra codec, codec by codec in `codecs`' order, each rung as the H.264 one (size, GOP) at
    the codec's share of its bitrates. A per-title rung's constant-quality setting is x264's: the others encode
    to its expected bitrate under its peak instead."""
    return [
        replace(
            rung,
            codec=codec,
            crf=None,
            video_kbps=_share(rung.video_kbps, codec),
            maxrate_kbps=_share(rung.maxrate_kbps, codec),
            bufsize_kbps=_share(rung.bufsize_kbps, codec),
        )
        for codec in codecs
        if codec != "h264"
        for rung in rungs
    ]


def _share(kbps: int, codec: str) -> int:
    return max(1, round(kbps * CODEC_BITRATE_SHARE[codec]))


def _own_size_rung(info: MediaInfo, gop_frames: int) -> Rung:
    width = _even(info.display_width, info.display_width)
    height = _even(info.display_height, info.display_height)
    smallest = FORMATS[-1]
    kbps = round(smallest.video_kbps * Fraction(width * height, smallest.width * smallest.height))
    return _with_rates(f"{min(width, height)}p", width, height, max(MIN_VIDEO_KBPS, kbps), gop_frames)


def _with_rates(name: str, width: int, height: int, video_kbps: int, gop_frames: int) -> Rung:
    # Peaks stay within 150% of the average (Apple asks at most 200% for VOD); a buffer of twice the
    # average lets x264 spend bits on hard scenes without breaking that cap for long.
    return Rung(
        name=name,
        width=width,
        height=height,
        video_kbps=video_kbps,
        maxrate_kbps=video_kbps * 3 // 2,
        bufsize_kbps=video_kbps * 2,
        gop_frames=gop_frames,
    )


def _even(value: float | Fraction, limit: int | None = None) -> int:
    """Nearest even number (4:2:0 chroma needs even sizes), at least 2, never above `limit` rounded down."""
    even = 2 * round(value / 2)
    if limit is not None:
        even = min(even, limit // 2 * 2)
    return max(2, even)
