"""The per-title rule: measured curves in, each rung's setting and the dropped rungs out."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from videoforge.transcoder.domain.ladder import Rung, plan_ladder
from videoforge.transcoder.domain.media import MediaInfo
from videoforge.transcoder.domain.per_title import (
    SAMPLING_MARGIN_DB,
    LadderAnalyzer,
    PerTitlePlanner,
    QualityTarget,
    RungCurve,
    TrialPoint,
    TrialSearch,
    choose_ladder,
    sample_windows,
    ssim_db,
)

SOURCE = MediaInfo(
    container="mov,mp4,m4a,3gp,3g2,mj2",
    duration_seconds=30.0,
    width=1920,
    height=1080,
    frame_rate_fraction=Fraction(30),
    video_codec="h264",
)
FIXED = plan_ladder(SOURCE)  # 1080p 5000, 720p 2800, 480p 1400, 360p 800 kb/s
# The ladder aims at 23 dB: the target plus the margin for what samples misread.
TARGET = QualityTarget(ssim_db=23.0 - SAMPLING_MARGIN_DB, min_gain_db=0.15)


def _curve(rung: Rung, *points: tuple[float, float, float, float]) -> RungCurve:
    """Points as (crf, kb/s, SSIM dB at the rung's size, SSIM dB at screen size)."""
    return RungCurve(rung, tuple(TrialPoint(*point) for point in points))


def _easy_curves() -> list[RungCurve]:
    """Each rung reaches 23 dB well below its fixed bitrate; each looks clearly better than the one below."""
    return [
        _curve(FIXED[0], (18, 2000, 26.0, 26.0), (25, 1000, 22.0, 22.0), (32, 500, 19.0, 19.0)),
        _curve(FIXED[1], (18, 1000, 26.0, 20.0), (25, 500, 22.0, 19.0), (32, 250, 19.0, 17.0)),
        _curve(FIXED[2], (18, 500, 26.0, 17.0), (25, 250, 22.0, 16.0), (32, 125, 19.0, 15.0)),
        _curve(FIXED[3], (18, 250, 26.0, 15.0), (25, 125, 22.0, 14.0), (32, 60, 19.0, 13.0)),
    ]


def test_each_rung_gets_the_constant_quality_that_reaches_the_target_and_the_bitrate_it_takes() -> None:
    ladder = choose_ladder(_easy_curves(), TARGET)

    top = ladder.rungs[0]
    # A quarter of the way from 22 dB (CRF 25, 1000 kb/s) to 26 dB (CRF 18, 2000 kb/s): CRF 23.25, in tenths
    # rounded to the better quality.
    assert top.crf == 23.2
    assert top.video_kbps == round(1000 * 2 ** (1 / 4))
    assert [rung.name for rung in ladder.rungs] == ["1080p", "720p", "480p", "360p"]
    assert ladder.dropped == []
    assert [choice.ssim_db for choice in ladder.chosen] == pytest.approx([23.0] * 4)


def test_a_chosen_rung_is_held_to_its_fixed_bitrate_at_its_peak() -> None:
    ladder = choose_ladder(_easy_curves(), TARGET)

    for chosen, fixed in zip(ladder.rungs, FIXED, strict=True):
        assert chosen.video_kbps < fixed.video_kbps
        assert (chosen.maxrate_kbps, chosen.bufsize_kbps) == (fixed.video_kbps, fixed.video_kbps * 2)
        assert (chosen.width, chosen.height, chosen.gop_frames) == (fixed.width, fixed.height, fixed.gop_frames)


def test_a_rung_whose_target_costs_more_than_the_fixed_bitrate_stays_as_the_fixed_ladder_has_it() -> None:
    hard_top = _curve(FIXED[0], (18, 12000, 14.0, 14.0), (25, 7000, 10.0, 10.0), (32, 4000, 6.0, 6.0))

    ladder = choose_ladder([hard_top], TARGET)

    assert ladder.rungs[0] == FIXED[0]
    assert ladder.rungs[0].crf is None


def test_a_curve_that_flattens_below_the_target_keeps_the_fixed_bitrate() -> None:
    flat = _curve(FIXED[3], (18, 700, 20.0, 12.0), (25, 400, 20.0, 12.0), (32, 200, 19.0, 11.0))

    assert choose_ladder([flat], TARGET).rungs == [FIXED[3]]


def test_a_target_past_the_best_trial_is_reached_along_the_last_segment_when_it_stays_under_the_cap() -> None:
    steep = _curve(FIXED[0], (18, 2000, 22.0, 22.0), (25, 1000, 20.0, 20.0))

    top = choose_ladder([steep], TARGET).rungs[0]

    assert top.crf == pytest.approx(14.5)
    assert top.video_kbps == round(2000 * 2**0.5)


def test_a_target_only_reached_far_past_the_best_trial_keeps_the_fixed_setting() -> None:
    # Along the last segment 23 dB lies at CRF 4, at 2400 kb/s: far past anything measured, near lossless.
    shallow = _curve(FIXED[2], (20, 600, 20.0, 15.0), (26, 300, 19.0, 14.0))

    assert choose_ladder([shallow], TARGET).rungs == [FIXED[2]]


def test_a_rung_already_past_the_target_at_its_cheapest_trial_is_not_taken_cheaper() -> None:
    easy = _curve(FIXED[3], (18, 150, 35.0, 16.0), (25, 80, 30.0, 15.0), (32, 40, 26.0, 14.0))

    lowest = choose_ladder([easy], TARGET).rungs[0]

    assert (lowest.crf, lowest.video_kbps) == (32, 40)


def test_noisy_measurements_never_make_more_bits_look_worse() -> None:
    noisy = _curve(FIXED[0], (18, 2000, 21.5, 21.5), (25, 1000, 22.0, 22.0), (32, 500, 19.0, 19.0))

    # Read as 22 dB at 2000 kb/s too: the target is past every point and the curve stops rising, so the rung
    # keeps its fixed setting rather than trusting a slope that is noise.
    assert choose_ladder([noisy], TARGET).rungs == [FIXED[0]]


def test_a_rung_that_adds_too_little_at_screen_size_over_the_rung_below_is_dropped() -> None:
    curves = _easy_curves()
    # 480p at its chosen setting looks, on the screen, barely better than 360p does at its own.
    curves[2] = _curve(FIXED[2], (18, 500, 26.0, 14.3), (25, 250, 22.0, 14.2), (32, 125, 19.0, 14.0))

    ladder = choose_ladder(curves, TARGET)

    assert [rung.name for rung in ladder.rungs] == ["1080p", "720p", "360p"]
    assert ladder.dropped == ["480p"]


def test_each_rung_is_compared_with_the_last_kept_rung_below_it() -> None:
    curves = _easy_curves()
    # 720p and 480p both barely beat 360p on the screen; 1080p beats it by far.
    for i in (1, 2):
        curves[i] = _curve(FIXED[i], (18, 500, 26.0, 14.35), (25, 250, 22.0, 14.25), (32, 125, 19.0, 14.0))

    ladder = choose_ladder(curves, TARGET)

    assert [rung.name for rung in ladder.rungs] == ["1080p", "360p"]
    assert ladder.dropped == ["720p", "480p"]


def test_the_lowest_rung_is_never_dropped_and_one_rung_is_always_left() -> None:
    same = [_curve(rung, (18, 400, 26.0, 15.0), (25, 200, 22.0, 15.0)) for rung in FIXED]

    ladder = choose_ladder(same, TARGET)

    assert [rung.name for rung in ladder.rungs] == ["360p"]
    assert ladder.dropped == ["1080p", "720p", "480p"]


def test_a_ladder_needs_a_curve() -> None:
    with pytest.raises(ValueError, match="at least one rung"):
        choose_ladder([], TARGET)


def test_samples_spread_over_the_source_and_a_short_source_is_sampled_whole() -> None:
    assert sample_windows(30.0, count=3, seconds=0.5) == [(4.75, 0.5), (14.75, 0.5), (24.75, 0.5)]
    assert sample_windows(1.2, count=3, seconds=0.5) == [(0.0, 1.2)]


def test_ssim_is_read_in_decibels_and_identical_pictures_stay_finite() -> None:
    assert ssim_db(0.99) == pytest.approx(20.0)
    assert ssim_db(1.0) == 60.0


class _Measured(LadderAnalyzer):
    def __init__(self, curves: list[RungCurve] | None) -> None:
        self.curves = curves
        self.searches: list[TrialSearch] = []

    async def measure(
        self, source: Path, info: MediaInfo, rungs: object, work_dir: Path, search: TrialSearch
    ) -> list[RungCurve] | None:
        self.searches.append(search)
        return self.curves


async def test_the_planner_keeps_the_fixed_ladder_when_the_source_could_not_be_measured(tmp_path: Path) -> None:
    assert await PerTitlePlanner(_Measured(None)).plan(tmp_path / "source", SOURCE, FIXED, tmp_path) == FIXED


async def test_the_planner_encodes_the_chosen_ladder(tmp_path: Path) -> None:
    planner = PerTitlePlanner(_Measured(_easy_curves()), TARGET)

    assert (
        await planner.plan(tmp_path / "source", SOURCE, FIXED, tmp_path) == choose_ladder(_easy_curves(), TARGET).rungs
    )


async def test_the_planner_searches_for_the_target_plus_the_sampling_margin(tmp_path: Path) -> None:
    analyzer = _Measured(_easy_curves())

    await PerTitlePlanner(analyzer, TARGET).plan(tmp_path / "source", SOURCE, FIXED, tmp_path)

    assert analyzer.searches == [TrialSearch(TARGET.ssim_db + SAMPLING_MARGIN_DB)]


def test_a_rung_that_stays_at_its_fixed_setting_is_kept_however_little_it_adds_at_screen_size() -> None:
    curves = _easy_curves()
    # 720p cannot reach the target within its fixed bitrate, and reads barely better than 480p on the screen.
    curves[1] = _curve(FIXED[1], (18, 9000, 19.0, 16.05), (25, 4000, 17.0, 16.02), (32, 2000, 15.0, 16.0))

    ladder = choose_ladder(curves, TARGET)

    assert [rung.name for rung in ladder.rungs] == ["1080p", "720p", "480p", "360p"]
    assert ladder.rungs[1] == FIXED[1]
    assert ladder.dropped == []
