"""Codec benchmark: the bits HEVC (x265) and AV1 (SVT-AV1) need for H.264's quality, per rung, on the project's own
synthetic sources (bench/per_title_bench.py's: flat, talking head, noise).

Each source is encoded as the platform encodes it (`FfmpegEncoder.encode_presentation`: one decode into CMAF
segments, the encoders' presets and fixed GOPs): the H.264 ladder alone, whose rungs set the quality to match; the
same with each other codec's ladder beside it, as the platform ships it (at its share of the H.264 bitrates); and
at four constant-quality settings per codec, which draw each codec's bitrate/quality curve. Every stream is decoded
(PyAV, whose FFmpeg has dav1d) and its SSIM in dB measured against the source scaled to the rung's size (a short
clip's average bitrate is too loose a handle: encoders under- or overshoot it, so curves are drawn at constant
quality). Per rung, each curve is read at the H.264 rung's SSIM (linear in log bitrate between the two nearest
points, extrapolated past them, marked `~`), and the bits saved are the other codec's against H.264's there. The CPU
time each codec's shipped ladder adds, against the whole H.264-only encode's, is the encode time ratio (CPU time:
the machine is shared, wall time would measure the neighbours).

    python -m bench.codec_bench [--seconds 3] [--height 540] [--formats 480p,360p]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import resource
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import av

from bench.per_title_bench import _make_source, source_recipes
from videoforge.transcoder.adapters.ffmpeg import FfmpegEncoder
from videoforge.transcoder.adapters.ffmpeg_analysis import FfmpegLadderAnalyzer
from videoforge.transcoder.domain.ladder import CODEC_BITRATE_SHARE, Rung, codec_rungs, plan_ladder
from videoforge.transcoder.domain.presentation import PresentationLayout

CODECS = ("hevc", "av1")
# Constant-quality settings per codec, from near-transparent to coarse, that draw comparable stretches of each curve.
CRFS = {"h264": (18, 23, 28, 33), "hevc": (20, 25, 30, 35), "av1": (25, 35, 45, 55)}


@dataclass(frozen=True)
class Point:
    kbps: float
    ssim_db: float


@dataclass(frozen=True)
class RungResult:
    source: str
    rung: Rung
    h264: Point  # the H.264 ladder's rung: the quality to match
    shipped: dict[str, Point]  # each codec's rung as the platform ships it
    # Per codec, H.264 included: its points at constant quality.
    curves: dict[str, list[Point]]

    def kbps_at_h264_quality(self, codec: str) -> tuple[float, bool]:
        """The codec's curve read at the H.264 rung's SSIM; whether that lies within its points."""
        return _read_curve(self.curves[codec], self.h264.ssim_db)

    def saving(self, codec: str) -> float:
        return 1 - self.kbps_at_h264_quality(codec)[0] / self.kbps_at_h264_quality("h264")[0]


def _read_curve(curve: list[Point], ssim_db: float) -> tuple[float, bool]:
    points = sorted(curve, key=lambda p: p.kbps)
    pairs = list(itertools.pairwise(points))
    inside = next(((a, b) for a, b in pairs if a.ssim_db <= ssim_db <= b.ssim_db), None)
    low, high = inside or (pairs[0] if ssim_db < points[0].ssim_db else pairs[-1])
    if high.ssim_db == low.ssim_db:
        return low.kbps, inside is not None
    slope = (math.log(high.kbps) - math.log(low.kbps)) / (high.ssim_db - low.ssim_db)
    return math.exp(math.log(low.kbps) + slope * (ssim_db - low.ssim_db)), inside is not None


async def run(seconds: int, height: int, formats: list[str], work: Path) -> tuple[list[RungResult], dict[str, float]]:
    encoder = FfmpegEncoder()
    results: list[RungResult] = []
    extra_cpu: dict[str, list[float]] = {codec: [] for codec in CODECS}
    for name, recipe in source_recipes(seconds, height).items():
        folder = work / name.replace(" ", "-")
        folder.mkdir()
        source = folder / "source.mp4"
        await _make_source(recipe, source, hard=name == "noise")
        info = await encoder.probe(source)
        rungs = plan_ladder(info, formats)
        n = len(rungs)
        measure = _Measure(source, rungs, seconds)
        baseline_cpu = await _encode(encoder, source, rungs, [], folder / "h264")
        h264 = [await measure(folder / "h264", i) for i in range(n)]
        shipped: dict[str, list[Point]] = {}
        for codec in CODECS:
            out = folder / codec
            cpu = await _encode(encoder, source, rungs, codec_rungs(rungs, ["h264", codec]), out)
            extra_cpu[codec].append((cpu - baseline_cpu) / baseline_cpu)
            # The other codec's streams follow the H.264 ones (no audio: the sources have none).
            shipped[codec] = [await measure(out, n + i) for i in range(n)]
        curves: dict[str, list[list[Point]]] = {codec: [[] for _ in rungs] for codec in ("h264", *CODECS)}
        for step in range(len(CRFS["h264"])):
            out = folder / f"quality-{step}"
            extra = [_at_crf(rung, codec, CRFS[codec][step]) for codec in CODECS for rung in rungs]
            await _encode(encoder, source, [_at_crf(rung, "h264", CRFS["h264"][step]) for rung in rungs], extra, out)
            for k, codec in enumerate(("h264", *CODECS)):
                for i in range(n):
                    curves[codec][i].append(await measure(out, k * n + i))
        for i, rung in enumerate(rungs):
            results.append(
                RungResult(
                    name,
                    rung,
                    h264[i],
                    {codec: shipped[codec][i] for codec in CODECS},
                    {codec: curve[i] for codec, curve in curves.items()},
                )
            )
    return results, {codec: sum(ratios) / len(ratios) for codec, ratios in extra_cpu.items()}


def _at_crf(rung: Rung, codec: str, crf: float) -> Rung:
    """The rung at constant quality, its peak rate out of the way (the curve is the encoder's, not the cap's)."""
    return replace(rung, codec=codec, crf=crf, maxrate_kbps=rung.video_kbps * 20, bufsize_kbps=rung.video_kbps * 40)


async def _encode(encoder: FfmpegEncoder, source: Path, rungs: list[Rung], extra: list[Rung], out: Path) -> float:
    """Encodes the presentation; the CPU seconds it took."""
    layout = PresentationLayout.for_ladder(rungs, (), extra)
    info = await encoder.probe(source)
    before = _children_cpu()
    await encoder.encode_presentation(source, rungs, layout, out, duration=info.duration_seconds)
    return _children_cpu() - before


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class _Measure:
    """A stream's bitrate (its segments' bytes over the duration) and SSIM dB against the source at its rung's size."""

    def __init__(self, source: Path, rungs: list[Rung], seconds: int) -> None:
        self._source, self._rungs, self._seconds = source, rungs, seconds

    async def __call__(self, out: Path, stream: int) -> Point:
        rung = self._rungs[stream % len(self._rungs)]
        files = [path for path in (out / str(stream)).iterdir() if path.is_file()]
        kbps = sum(path.stat().st_size for path in files) * 8 / 1000 / self._seconds
        decoded = out / f"decoded-{stream}.y4m"
        await asyncio.to_thread(_decode_to_y4m, out / f"media_{stream}.m3u8", decoded)
        ssim = await FfmpegLadderAnalyzer().rendition_ssim_db(self._source, decoded, rung.width, rung.height, out)
        decoded.unlink()
        return Point(kbps, ssim)


def _decode_to_y4m(playlist: Path, out: Path) -> None:
    """Decodes a stream of any of the codecs to raw frames the encoding FFmpeg reads (it has no AV1 decoder)."""
    with av.open(str(playlist)) as source, av.open(str(out), "w", format="yuv4mpegpipe") as sink:
        video = source.streams.video[0]
        raw = sink.add_stream("rawvideo", rate=video.average_rate)
        raw.width, raw.height, raw.pix_fmt = video.width, video.height, "yuv420p"
        for frame in source.decode(video):
            sink.mux(raw.encode(frame))
        sink.mux(raw.encode(None))


def report(results: list[RungResult], extra_cpu: dict[str, float], seconds: int, height: int) -> str:
    header = f"{'source':<13}{'rung':<7}{'H.264 kb/s':>11}{'SSIM dB':>9}"
    header += "".join(f"{codec + ' kb/s':>13}{'saved':>8}{'shipped kb/s':>14}{'SSIM dB':>9}" for codec in CODECS)
    lines = [
        f"codec benchmark: {seconds} s {height}p30 sources; per rung, the H.264 ladder's bitrate and SSIM, each "
        "codec's bitrate for that SSIM (from its constant-quality curve; ~ = extrapolated) and the bits it saves "
        "against H.264's curve there, then the codec's rung as shipped (its share of the H.264 bitrate)",
        header,
    ]
    for result in results:
        line = f"{result.source:<13}{result.rung.name:<7}{result.h264.kbps:>11.0f}{result.h264.ssim_db:>9.2f}"
        for codec in CODECS:
            kbps, inside = result.kbps_at_h264_quality(codec)
            shipped = result.shipped[codec]
            line += f"{('' if inside else '~') + f'{kbps:.0f}':>13}{result.saving(codec):>8.1%}"
            line += f"{shipped.kbps:>14.0f}{shipped.ssim_db:>9.2f}"
        lines.append(line)
    for codec in CODECS:
        savings = [result.saving(codec) for result in results]
        shipped_gap = [result.shipped[codec].ssim_db - result.h264.ssim_db for result in results]
        lines.append(
            f"{codec}: saves {sum(savings) / len(savings):.1%} of H.264's bits at equal SSIM on average (per rung "
            f"{min(savings):.1%} .. {max(savings):.1%}); shipped at {float(CODEC_BITRATE_SHARE[codec]):.0%} of H.264's "
            f"bitrate its rungs are {sum(shipped_gap) / len(shipped_gap):+.2f} dB against H.264's on average; its "
            f"ladder adds {extra_cpu[codec]:.2f}x the H.264-only encode's CPU time"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=3, help="source duration")
    parser.add_argument("--height", type=int, default=540, help="source height (16:9)")
    parser.add_argument("--formats", default="480p,360p", help="the ladder's rungs, comma-separated")
    args = parser.parse_args()
    formats = [name.strip() for name in args.formats.split(",") if name.strip()]
    with tempfile.TemporaryDirectory(prefix="codec-bench-") as scratch:
        results, extra_cpu = asyncio.run(run(args.seconds, args.height, formats, Path(scratch)))
    print(report(results, extra_cpu, args.seconds, args.height))


if __name__ == "__main__":
    main()
