"""The per-title trial search, round by round: the top rung first, alone, at the middle trial setting; below a
top rung that stays fixed the others at the dearest setting, which settles the hard ones in one trial; otherwise
each rung at the middle setting, then at the one neighbour that holds its setting. The ladder chosen from the
points searched is the ladder all three settings would give."""

from __future__ import annotations

import random

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


def _searched(source: list[Measured]) -> tuple[list[RungCurve], int]:
    """The points the search asks for, round by round, and how many rounds it took."""
    measured: list[list[TrialPoint]] = [[] for _ in source]
    for rounds in range(1, 10):
        asked = SEARCH.next_round(FIXED, measured)
        if not any(crf is not None for crf in asked):
            return [RungCurve(rung, tuple(points)) for rung, points in zip(FIXED, measured, strict=True)], rounds - 1
        for points, crf, table in zip(measured, asked, source, strict=True):
            if crf is not None:
                points.append(_point(crf, dict(zip(TRIAL_CRFS, table, strict=True))[crf]))
    raise AssertionError("the search did not end")


def test_the_top_rung_is_tried_first_at_the_middle_setting_with_the_smallest_beside_it() -> None:
    assert SEARCH.middle == MIDDLE
    assert SEARCH.next_round(FIXED, [[] for _ in FIXED]) == [MIDDLE, None, None, MIDDLE]
    assert SEARCH.next_round(FIXED[:1], [[]]) == [MIDDLE]


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


def _tried(rung: Rung, crf: float = MIDDLE, *, kbps_over_fixed: float, db_over_target: float) -> TrialPoint:
    return TrialPoint(crf, rung.video_kbps * kbps_over_fixed, SEARCH.target_db + db_over_target, 20.0)


def _hard(rung: Rung, crf: float = MIDDLE) -> TrialPoint:
    """Past the rung's fixed bitrate and short of the target."""
    return _tried(rung, crf, kbps_over_fixed=1.5, db_over_target=-5)


def test_below_a_top_rung_that_stays_fixed_the_others_are_first_tried_at_the_dearest_setting() -> None:
    within = _tried(FIXED[3], kbps_over_fixed=0.5, db_over_target=-5)

    assert SEARCH.next_round(FIXED, [[_hard(FIXED[0])], [], [], [within]]) == [None, DEAREST, DEAREST, DEAREST]


def test_a_smallest_rung_its_middle_trial_settles_waits_for_the_rungs_above() -> None:
    rounds = [[_hard(FIXED[0])], [], [], [_hard(FIXED[3])]]

    assert SEARCH.next_round(FIXED, rounds) == [None, DEAREST, DEAREST, None]
    hard_above = [rounds[0], [_hard(FIXED[1], DEAREST)], [_hard(FIXED[2], DEAREST)], rounds[3]]
    assert SEARCH.next_round(FIXED, hard_above) == [None] * len(FIXED)
    # A rung above that the dearest trial does not settle: the smallest is measured on, as any other.
    open_above = [*hard_above[:2], [_tried(FIXED[2], DEAREST, kbps_over_fixed=0.5, db_over_target=1)], rounds[3]]
    assert SEARCH.next_round(FIXED, open_above) == [None, None, MIDDLE, CHEAPEST]


def test_below_a_top_rung_still_open_the_others_are_first_tried_at_the_middle_setting() -> None:
    open_top = _tried(FIXED[0], kbps_over_fixed=0.5, db_over_target=1)

    assert SEARCH.next_round(FIXED, [[open_top], [], [], []]) == [CHEAPEST, MIDDLE, MIDDLE, MIDDLE]


def test_rungs_past_their_fixed_bitrate_and_short_of_the_target_from_the_top_down_are_not_tried_again() -> None:
    settled = [[_hard(FIXED[0])], *([_hard(rung, DEAREST)] for rung in FIXED[1:])]

    assert SEARCH.next_round(FIXED, settled) == [None] * len(FIXED)
    within = _tried(FIXED[2], DEAREST, kbps_over_fixed=0.9, db_over_target=-5)
    # The dearest setting fell short within the fixed bitrate: the middle one says how steep the curve is.
    assert SEARCH.next_round(FIXED, [*settled[:2], [within], *settled[3:]]) == [None, None, MIDDLE, MIDDLE]


def test_a_settled_rung_under_one_still_open_is_tried_again_as_the_open_ones_choice_reads_its_quality() -> None:
    open_top = [_tried(FIXED[0], kbps_over_fixed=0.5, db_over_target=1)]
    open_top += [_hard(rung) for rung in FIXED[1:]]

    assert SEARCH.next_round(FIXED, [[point] for point in open_top]) == [CHEAPEST] * len(FIXED)


def test_a_rung_within_its_fixed_bitrate_or_past_the_target_is_never_settled() -> None:
    within = [[_tried(rung, kbps_over_fixed=0.9, db_over_target=-5)] for rung in FIXED]
    past = [[_tried(rung, kbps_over_fixed=1.5, db_over_target=0.1)] for rung in FIXED]

    assert SEARCH.next_round(FIXED, within) == [DEAREST] * len(FIXED)
    assert SEARCH.next_round(FIXED, past) == [CHEAPEST] * len(FIXED)


def test_whatever_the_trials_read_no_setting_is_tried_twice_and_the_search_ends() -> None:
    rng = random.Random(7)
    for _ in range(500):
        source: list[Measured] = [
            tuple(  # type: ignore[misc]
                (rung.video_kbps * rng.uniform(0.2, 3.0), rng.uniform(5, 35), rng.uniform(5, 35)) for _ in TRIAL_CRFS
            )
            for rung in FIXED
        ]
        curves, rounds = _searched(source)

        assert 1 <= rounds <= 4
        for curve in curves:
            crfs = [point.crf for point in curve.points]
            assert 1 <= len(crfs) == len(set(crfs)) <= 3


@pytest.mark.parametrize("source", [NOISE, FLAT, MIXED], ids=["noise", "flat", "mixed"])
def test_the_searched_trials_choose_the_ladder_all_three_would(source: list[Measured]) -> None:
    searched_curves, _ = _searched(source)
    searched = choose_ladder(searched_curves, TARGET)
    all_three = choose_ladder([_all_three(rung, m) for rung, m in zip(FIXED, source, strict=True)], TARGET)

    assert searched.rungs == all_three.rungs
    assert searched.dropped == all_three.dropped
    tried_once = {curve.rung.name for curve in searched_curves if len(curve.points) == 1}
    for mine, theirs in zip(searched.chosen, all_three.chosen, strict=True):
        # A rung settled by one trial is one nothing reads the quality of.
        if mine.rung.name not in tried_once:
            assert mine.ssim_db == pytest.approx(theirs.ssim_db)
            assert mine.screen_ssim_db == pytest.approx(theirs.screen_ssim_db)


def test_the_heavy_source_is_settled_with_one_trial_per_rung_but_the_smallest() -> None:
    curves, rounds = _searched(NOISE)

    # 360p's middle trial ran beside the top rung's; its dearest one spent just under its fixed bitrate.
    assert [[point.crf for point in curve.points] for curve in curves] == [
        [MIDDLE],
        [DEAREST],
        [DEAREST],
        [MIDDLE, DEAREST],
    ]
    assert rounds == 2


def test_an_easy_sources_rungs_are_tried_at_the_middle_setting_and_its_cheaper_neighbour() -> None:
    curves, rounds = _searched(FLAT)

    assert [[point.crf for point in curve.points] for curve in curves] == [[MIDDLE, CHEAPEST]] * len(FIXED)
    assert rounds == 3


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
