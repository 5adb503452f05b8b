"""The per-title trial search: each rung measured at the middle trial setting, then at the one neighbour that
holds its setting, and the ladder chosen from those two points is the ladder all three would give."""

from __future__ import annotations

import pytest

from tests.unit.test_per_title_ladder import FIXED
from videoforge.transcoder.domain.ladder import Rung
from videoforge.transcoder.domain.per_title import (
    TRIAL_CRFS,
    QualityTarget,
    RungCurve,
    TrialPoint,
    TrialSearch,
    choose_ladder,
)

TARGET = QualityTarget()
SEARCH = TrialSearch(TARGET.aim_db)
DEAREST, MIDDLE, CHEAPEST = TRIAL_CRFS

# Per rung, (kb/s, SSIM dB at the rung's size, SSIM dB at screen size) at CRF 20, 26 and 32.
Measured = tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]]

# The heavy first-segment source as measured: no rung reaches the target within its fixed bitrate.
NOISE: list[Measured] = [
    ((30287, 14.97, 14.97), (11598, 9.79, 9.79), (1815, 7.67, 7.67)),
    ((6046, 12.62, 7.93), (1072, 11.46, 7.51), (496, 10.99, 7.35)),
    ((1584, 14.24, 7.43), (437, 13.49, 7.29), (256, 12.47, 7.09)),
    ((785, 15.59, 7.25), (280, 14.72, 7.14), (175, 13.14, 6.96)),
]
# Every rung past the target at its middle setting; the top rung adds little on the screen over the one below.
FLAT: list[Measured] = [
    ((3000, 30.0, 30.0), (1500, 26.0, 26.0), (700, 22.5, 22.5)),
    ((1800, 31.0, 25.9), (900, 27.0, 25.5), (450, 23.0, 22.7)),
    ((900, 32.0, 24.0), (450, 28.0, 23.5), (220, 24.0, 21.0)),
    ((450, 33.0, 22.0), (220, 29.0, 21.5), (110, 25.0, 19.5)),
]
# The top rung short of the target at its middle setting but within its fixed bitrate, reached at the dearest;
# a rung past it at the middle; a rung whose target lies past the dearest setting, under its fixed bitrate; and
# one past its fixed bitrate at the middle, short of the target.
MIXED: list[Measured] = [
    ((4000, 24.0, 24.0), (2000, 21.5, 21.5), (1000, 19.0, 19.0)),
    ((2000, 27.0, 21.0), (1000, 24.0, 20.0), (500, 21.0, 18.0)),
    ((700, 21.0, 17.0), (400, 20.0, 16.5), (200, 18.0, 15.0)),
    ((2400, 20.0, 16.0), (1200, 18.0, 15.5), (600, 16.0, 14.0)),
]


def _point(crf: float, measured: tuple[float, float, float]) -> TrialPoint:
    return TrialPoint(crf, *measured)


def _all_three(rung: Rung, measured: Measured) -> RungCurve:
    return RungCurve(rung, tuple(_point(crf, m) for crf, m in zip(TRIAL_CRFS, measured, strict=True)))


def _searched(source: list[Measured]) -> list[RungCurve]:
    """The points the search asks for, in the order it asks: the middle setting of every rung, then the second
    setting of those it asks again."""
    firsts = [_point(SEARCH.first, dict(zip(TRIAL_CRFS, measured, strict=True))[SEARCH.first]) for measured in source]
    curves = []
    for rung, measured, first, second in zip(FIXED, source, firsts, SEARCH.seconds(FIXED, firsts), strict=True):
        by_crf = dict(zip(TRIAL_CRFS, measured, strict=True))
        curves.append(RungCurve(rung, (first,) if second is None else (first, _point(second, by_crf[second]))))
    return curves


def test_every_rung_is_first_tried_at_the_middle_setting() -> None:
    assert SEARCH.first == MIDDLE


def test_a_rung_past_the_target_at_the_middle_setting_is_next_tried_cheaper() -> None:
    assert SEARCH.second(FIXED[1], TrialPoint(MIDDLE, 1000, SEARCH.target_db + 0.1, 20.0)) == CHEAPEST


def test_a_rung_short_of_the_target_within_its_fixed_bitrate_is_next_tried_dearer() -> None:
    assert SEARCH.second(FIXED[1], TrialPoint(MIDDLE, 1000, SEARCH.target_db - 0.1, 20.0)) == DEAREST


def test_a_rung_short_of_the_target_past_its_fixed_bitrate_is_next_tried_cheaper() -> None:
    # It stays as the fixed ladder has it; what it looks like at that bitrate lies between the two.
    rung = FIXED[1]
    assert SEARCH.second(rung, TrialPoint(MIDDLE, rung.video_kbps, SEARCH.target_db - 5, 20.0)) == CHEAPEST


def test_the_search_follows_the_target_it_is_given() -> None:
    point = TrialPoint(MIDDLE, 1000, 23.0, 20.0)

    assert TrialSearch(22.0).second(FIXED[1], point) == CHEAPEST
    assert TrialSearch(24.0).second(FIXED[1], point) == DEAREST


def _middle(rung: Rung, *, kbps_over_fixed: float, db_over_target: float) -> TrialPoint:
    return TrialPoint(MIDDLE, rung.video_kbps * kbps_over_fixed, SEARCH.target_db + db_over_target, 20.0)


def test_rungs_past_their_fixed_bitrate_and_short_of_the_target_from_the_top_down_are_not_tried_again() -> None:
    settled = [_middle(rung, kbps_over_fixed=1.5, db_over_target=-5) for rung in FIXED]

    assert SEARCH.seconds(FIXED, settled) == [None] * len(FIXED)
    open_third = [*settled[:2], _middle(FIXED[2], kbps_over_fixed=0.5, db_over_target=-5), *settled[3:]]
    assert SEARCH.seconds(FIXED, open_third) == [None, None, DEAREST, CHEAPEST]


def test_a_settled_rung_under_one_still_open_is_tried_again_as_the_open_ones_choice_reads_its_quality() -> None:
    open_top = [_middle(FIXED[0], kbps_over_fixed=0.5, db_over_target=1)]
    open_top += [_middle(rung, kbps_over_fixed=1.5, db_over_target=-5) for rung in FIXED[1:]]

    assert SEARCH.seconds(FIXED, open_top) == [CHEAPEST] * len(FIXED)


def test_a_rung_within_its_fixed_bitrate_or_past_the_target_is_never_settled_by_the_middle_setting() -> None:
    within = [_middle(rung, kbps_over_fixed=0.9, db_over_target=-5) for rung in FIXED]
    past = [_middle(rung, kbps_over_fixed=1.5, db_over_target=0.1) for rung in FIXED]

    assert SEARCH.seconds(FIXED, within) == [DEAREST] * len(FIXED)
    assert SEARCH.seconds(FIXED, past) == [CHEAPEST] * len(FIXED)


@pytest.mark.parametrize("source", [NOISE, FLAT, MIXED], ids=["noise", "flat", "mixed"])
def test_the_searched_trials_choose_the_ladder_all_three_would(source: list[Measured]) -> None:
    searched_curves = _searched(source)
    searched = choose_ladder(searched_curves, TARGET)
    all_three = choose_ladder([_all_three(rung, m) for rung, m in zip(FIXED, source, strict=True)], TARGET)

    assert searched.rungs == all_three.rungs
    assert searched.dropped == all_three.dropped
    tried_twice = {curve.rung.name for curve in searched_curves if len(curve.points) == 2}
    for mine, theirs in zip(searched.chosen, all_three.chosen, strict=True):
        # A rung tried once is one nothing reads the quality of.
        if mine.rung.name in tried_twice:
            assert mine.ssim_db == pytest.approx(theirs.ssim_db)
            assert mine.screen_ssim_db == pytest.approx(theirs.screen_ssim_db)


def test_the_heavy_sources_top_rung_is_settled_by_the_middle_setting_alone() -> None:
    assert [len(curve.points) for curve in _searched(NOISE)] == [1, 2, 2, 2]


def test_the_example_sources_cover_each_way_a_rung_goes() -> None:
    """Each case the search tells apart, and each outcome of the ladder, happens in the sources above."""
    middles = [
        (rung, _point(MIDDLE, m[1])) for source in (NOISE, FLAT, MIXED) for rung, m in zip(FIXED, source, strict=True)
    ]
    assert any(point.ssim_db >= SEARCH.target_db for _, point in middles)
    assert any(point.ssim_db < SEARCH.target_db and point.kbps < rung.video_kbps for rung, point in middles)
    assert any(point.ssim_db < SEARCH.target_db and point.kbps >= rung.video_kbps for rung, point in middles)
    mixed = choose_ladder([_all_three(rung, m) for rung, m in zip(FIXED, MIXED, strict=True)], TARGET)
    flat = choose_ladder([_all_three(rung, m) for rung, m in zip(FIXED, FLAT, strict=True)], TARGET)
    noise = choose_ladder([_all_three(rung, m) for rung, m in zip(FIXED, NOISE, strict=True)], TARGET)
    assert any(rung.crf is not None for rung in mixed.rungs) and any(rung.crf is None for rung in mixed.rungs)
    assert flat.dropped == ["1080p"]
    assert noise.rungs == FIXED
