"""What the per-title analysis costs on the first-segment benchmark's heavy source, against the bare single-pass
FFmpeg + packager run of the same ladder measured in the same run.

The analysis runs between the probe and the encode, so it delays the first playable segment by its own time;
the first-segment benchmark (`bench.first_segment_bench`) measures the whole platform, this one the analysis
alone, in wall-clock and in CPU seconds (children's user + system, less disturbed by other work on the machine).
It prints the curves measured and the ladder chosen from them.

    python -m bench.per_title_analysis_bench --seconds 30 [--preset veryfast]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
from pathlib import Path

from bench.first_segment_bench import make_heavy_source
from bench.transcode_bench import PLATFORM_FORMATS, _bare, _cpus
from videoforge.transcoder.adapters.ffmpeg import FfmpegEncoder
from videoforge.transcoder.adapters.ffmpeg_analysis import FfmpegLadderAnalyzer
from videoforge.transcoder.domain.ladder import plan_ladder
from videoforge.transcoder.domain.per_title import QualityTarget, RungCurve, TrialSearch, choose_ladder


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class _Clock:
    """Wall-clock and children's CPU seconds since it was made."""

    def __init__(self) -> None:
        self._wall, self._cpu = time.perf_counter(), _children_cpu()

    def read(self) -> tuple[float, float]:
        return time.perf_counter() - self._wall, _children_cpu() - self._cpu


async def _analyse(source: Path, preset: str, work_dir: Path) -> list[RungCurve]:
    info = await FfmpegEncoder(preset=preset).probe(source)
    rungs = plan_ladder(info, PLATFORM_FORMATS)
    search = TrialSearch(QualityTarget().aim_db)
    curves = await FfmpegLadderAnalyzer(preset=preset).measure(source, info, rungs, work_dir, search)
    if curves is None:
        raise RuntimeError("the analysis measured nothing")
    return curves


def run(seconds: int, preset: str) -> tuple[dict[str, float], list[RungCurve]]:
    with tempfile.TemporaryDirectory(prefix="per-title-analysis-bench-") as scratch_dir:
        scratch = Path(scratch_dir)
        source = scratch / "source.mp4"
        make_heavy_source(source, seconds)
        (scratch / "bare").mkdir()
        clock = _Clock()
        _bare(source, scratch / "bare", preset)
        bare_wall, bare_cpu = clock.read()
        clock = _Clock()
        curves = asyncio.run(_analyse(source, preset, scratch / "analysis"))
        wall, cpu = clock.read()
    return {"bare_s": bare_wall, "bare_cpu_s": bare_cpu, "analysis_s": wall, "analysis_cpu_s": cpu}, curves


def report(figures: dict[str, float], curves: list[RungCurve], seconds: int, preset: str) -> str:
    ladder = choose_ladder(curves)
    lines = [
        f"per-title analysis benchmark: {seconds} s heavy 1080p30 source (noise, 20 Mb/s), ladder "
        f"1080p/720p/480p/360p, x264 {preset}, {_cpus()} CPUs",
        f"  bare (decode-once ffmpeg + packager)   {figures['bare_s']:>7.2f} s   {figures['bare_cpu_s']:>7.2f} CPU s",
        f"  per-title analysis                     {figures['analysis_s']:>7.2f} s   "
        f"{figures['analysis_cpu_s']:>7.2f} CPU s",
        f"  analysis / bare   {figures['analysis_s'] / figures['bare_s']:.3f} wall   "
        f"{figures['analysis_cpu_s'] / figures['bare_cpu_s']:.3f} CPU",
    ]
    for curve in curves:
        points = ", ".join(
            f"CRF {p.crf:g}: {p.kbps:.0f} kb/s {p.ssim_db:.2f} dB (screen {p.screen_ssim_db:.2f})" for p in curve.points
        )
        lines.append(f"  {curve.rung.name:<6} {points}")
    chosen = ", ".join(
        f"{c.rung.name} {c.rung.video_kbps} kb/s" + (f" CRF {c.rung.crf:g}" if c.rung.crf is not None else " fixed")
        for c in ladder.chosen
    )
    lines.append(f"  ladder: {chosen}; dropped: {', '.join(ladder.dropped) or 'none'}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=30, help="source duration")
    parser.add_argument("--preset", default="veryfast", help="x264 preset of the bare run and the trials")
    args = parser.parse_args()
    figures, curves = run(args.seconds, args.preset)
    print(report(figures, curves, args.seconds, args.preset))


if __name__ == "__main__":
    main()
