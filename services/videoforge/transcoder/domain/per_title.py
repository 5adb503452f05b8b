"""The per-title ladder: each rung gets the bits this source needs to look good, never more than the fixed ladder.

A short analysis measures, per rung, one to three trial encodes of sampled seconds: their bitrate and their SSIM
(in dB, `-10·log10(1 - SSIM)`), once at the rung's own size and once scaled up to the top rung's size, the
size the viewer's screen shows every rung at. `TrialSearch` says which settings a rung needs. From those
curves `choose_ladder` picks each rung's constant-quality setting (and so its bitrate) and drops the rungs a
viewer would not see as better than the one below.
"""

from __future__ import annotations

import itertools
import logging
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from videoforge.transcoder.domain.ladder import Rung, at_constant_quality
from videoforge.transcoder.domain.media import MediaInfo

logger = logging.getLogger(__name__)

# SSIM 0.994 at the rung's own size: past it, more bits show little one can see at that size (the fixed ladder's
# top rung gives about this to a flat 1080p source).
DEFAULT_TARGET_SSIM_DB = 22.0
# Under a second of samples reads a rung's SSIM up to about three quarters of a dB off the whole encode (most
# often too good): the ladder aims that much above the target so that the whole encode meets it.
SAMPLING_MARGIN_DB = 0.75
# What a rung must add over the rung below, at screen size, to be worth its bits and a player's switch.
DEFAULT_MIN_GAIN_DB = 0.15
# The analysis encodes this many stretches of this many seconds, spread over the source: enough for a
# curve that holds for the whole, a small fraction of the encode's work.
SAMPLE_WINDOWS = 3
SAMPLE_SECONDS = 0.25
# SSIM 0.999999: as good as identical.
MAX_SSIM_DB = 60.0
# x264 constant-quality settings a rung's trials are taken from (dearest first): from near-transparent to plainly
# soft, so the curve spans the target and the fixed ladder's bitrates on easy and hard sources alike.
TRIAL_CRFS = (20.0, 26.0, 32.0)
# The constant quality settings a rung may get: past CRF 12 x264 is close to lossless (and its lossless CRF 0
# is not H.264 High), so a curve pointing there is extrapolated too far to trust.
MIN_CRF, MAX_CRF = 12.0, 51.0


@dataclass(frozen=True, slots=True)
class QualityTarget:
    """What the per-title ladder aims for: `ssim_db` at each rung's own size, and the least gain per rung."""

    ssim_db: float = DEFAULT_TARGET_SSIM_DB
    min_gain_db: float = DEFAULT_MIN_GAIN_DB

    @property
    def aim_db(self) -> float:
        """What a rung's samples must reach for its whole encode to meet `ssim_db`."""
        return self.ssim_db + SAMPLING_MARGIN_DB


@dataclass(frozen=True, slots=True)
class TrialPoint:
    """One trial encode of a rung at x264 constant quality `crf`: its bitrate, and its SSIM dB at the rung's size
    and at screen size."""

    crf: float
    kbps: float
    ssim_db: float
    screen_ssim_db: float


@dataclass(frozen=True, slots=True)
class RungCurve:
    """A rung of the fixed ladder and the trial encodes measured for it."""

    rung: Rung
    points: tuple[TrialPoint, ...]


@dataclass(frozen=True, slots=True)
class ChosenRung:
    """A rung as chosen: its new bitrate, and the qualities its curve predicts there."""

    rung: Rung
    ssim_db: float
    screen_ssim_db: float


@dataclass(frozen=True, slots=True)
class PerTitleLadder:
    """The rungs to encode (largest first) and the names of those dropped for adding nothing."""

    chosen: list[ChosenRung]
    dropped: list[str]

    @property
    def rungs(self) -> list[Rung]:
        return [choice.rung for choice in self.chosen]


@dataclass(frozen=True, slots=True)
class TrialSearch:
    """Which of the three trial settings each rung is measured at, round by round (a round is one run over the
    rungs it names, side by side). Trials take most of the analysis' time, the dearest ones most on a hard source.

    - The top rung goes first, at the middle setting: what it reads says where the others start. The smallest
      rung's middle trial runs beside it, on the part of a core the top rung's leaves idle.
    - A rung is settled, and stays as the fixed ladder has it, once a trial of it spent its fixed bitrate and still
      fell short of the target, with every rung above it settled: more bits only cost more, and with only such
      rungs above it no choice reads its quality at that bitrate.
    - Below a settled top rung the source is hard at screen size: a rung not tried yet is first tried at the
      dearest setting, which settles it in a single trial when it is hard too (on the heavy first-segment
      source, each of them). One it does not settle is tried at the middle setting next.
    - Otherwise a rung is tried at the middle setting, then at the neighbour on the side where its setting lies
      (`second`): `choose_ladder` reads a rung's setting, and its qualities at the bitrate it gets, from the two
      points around them, and the third setting would change neither.

    `target_db` is what the ladder aims at: the target plus the sampling margin.
    """

    target_db: float
    crfs: tuple[float, float, float] = TRIAL_CRFS

    @property
    def middle(self) -> float:
        return self.crfs[1]

    def second(self, rung: Rung, middle: TrialPoint) -> float:
        """The dearer setting when the middle one falls short of the target within the rung's fixed bitrate (the
        setting lies past it); else the cheaper one: the setting lies between the two, or, when the target costs
        more than the fixed bitrate, the rung stays fixed and its qualities at that bitrate lie between them."""
        if middle.ssim_db < self.target_db and middle.kbps < rung.video_kbps:
            return self.crfs[0]
        return self.crfs[2]

    def next_round(self, rungs: Sequence[Rung], measured: Sequence[Sequence[TrialPoint]]) -> list[float | None]:
        """The setting each rung (largest first) is tried at next, given the trials `measured` so far for each, or
        None for a rung that needs no more; None for every rung once the search is done."""
        if not any(measured):
            # The smallest rung's middle trial is asked for on all but the hardest sources, and on those it spares
            # the round that would ask for it once its dearest trial fell just short of settling it.
            return [self.middle if i in (0, len(rungs) - 1) else None for i in range(len(rungs))]
        settled_above = hard_above = True
        crfs: list[float | None] = []
        for rung, points in zip(rungs, measured, strict=True):
            hard = any(self._settles(rung, point) for point in points)
            settled = settled_above and hard
            # Hard with every rung above it settled or being tried now: settled, or so once they are.
            crfs.append(None if hard and hard_above else self._next(rung, points, hard_above=hard_above))
            settled_above = settled
            # A rung not tried yet is taken for as hard as the settled ones above it: it is tried beside them.
            hard_above = hard_above and (settled or not points)
        return crfs

    def _settles(self, rung: Rung, point: TrialPoint) -> bool:
        return point.ssim_db < self.target_db and point.kbps >= rung.video_kbps

    def _next(self, rung: Rung, points: Sequence[TrialPoint], *, hard_above: bool) -> float | None:
        tried = {point.crf: point for point in points}
        if not tried:
            return self.crfs[0] if hard_above else self.middle
        if self.middle not in tried:
            return self.middle
        wanted = self.second(rung, tried[self.middle])
        return None if wanted in tried else wanted


class LadderAnalyzer(ABC):
    """Measures how many bits a source needs per rung: the analysis pass of the per-title ladder."""

    @abstractmethod
    async def measure(
        self, source: Path, info: MediaInfo, rungs: Sequence[Rung], work_dir: Path, search: TrialSearch
    ) -> list[RungCurve] | None:
        """A curve per rung (in the order given) with the trials `search` asks for, round by round, or None when
        the source could not be measured."""


@dataclass(frozen=True, slots=True)
class PerTitlePlanner:
    """Turns the fixed ladder planned for a source into its per-title ladder."""

    analyzer: LadderAnalyzer
    target: QualityTarget = QualityTarget()

    async def plan(self, source: Path, info: MediaInfo, rungs: list[Rung], work_dir: Path) -> list[Rung]:
        """The per-title rungs, or `rungs` as they are when the source could not be measured."""
        search = TrialSearch(self.target.aim_db)
        curves = await self.analyzer.measure(source, info, rungs, work_dir, search)
        if curves is None:
            return rungs
        ladder = choose_ladder(curves, self.target)
        logger.info(
            "per-title ladder for %s: %s; dropped: %s",
            source.name,
            ", ".join(f"{c.rung.name} {c.rung.video_kbps} kb/s ({_described(c)})" for c in ladder.chosen),
            ", ".join(ladder.dropped) or "none",
        )
        return ladder.rungs


def choose_ladder(curves: Sequence[RungCurve], target: QualityTarget = QualityTarget()) -> PerTitleLadder:
    """Each rung's setting from its measured curve; rungs that repeat the quality of the one below dropped.

    `curves` are largest rung first, as the fixed ladder lists them. A rung whose curve reaches the target (plus
    `SAMPLING_MARGIN_DB`) below its fixed bitrate is encoded at the constant quality that reaches it (never
    cheaper than its cheapest trial: the curve is not trusted past what was measured), its peak held to its fixed
    bitrate; any other rung stays as the fixed ladder has it. Going up from the lowest rung, which is always kept,
    a rung is kept only if at screen size it beats the last kept rung by `target.min_gain_db`; otherwise a player
    is as well served by the rung below. A rung that stays as the fixed ladder has it is always kept: the source is
    hard at its size, and there the samples read screen-size gains least reliably (on a noisy source a fixed rung
    whose whole encode adds 0.3 dB over the rung below reads as adding 0.15 to 0.25 dB).
    """
    if not curves:
        raise ValueError("choose_ladder needs at least one rung")
    chosen = [_choose(curve, target.aim_db) for curve in curves]
    kept, dropped = [chosen[-1]], []
    for choice in reversed(chosen[:-1]):
        if choice.rung.crf is None or choice.screen_ssim_db - kept[-1].screen_ssim_db >= target.min_gain_db:
            kept.append(choice)
        else:
            dropped.append(choice.rung.name)
    return PerTitleLadder(chosen=kept[::-1], dropped=dropped[::-1])


def _described(choice: ChosenRung) -> str:
    # A rung left at the fixed ladder may have been measured once, at a dearer setting than its bitrate allows.
    return "fixed" if choice.rung.crf is None else f"CRF {choice.rung.crf:g}, SSIM {choice.ssim_db:.1f} dB"


def sample_windows(
    duration: float, count: int = SAMPLE_WINDOWS, seconds: float = SAMPLE_SECONDS
) -> list[tuple[float, float]]:
    """(start, length) of the stretches the analysis encodes: `count` spread evenly over the source, or the
    whole source when it is shorter than they would be together."""
    if duration <= count * seconds:
        return [(0.0, duration)]
    return [(max(0.0, duration * (i + 0.5) / count - seconds / 2), seconds) for i in range(count)]


def ssim_db(ssim: float) -> float:
    """SSIM on the decibel scale FFmpeg prints, where equal steps look about equally large; identical pictures
    read as `MAX_SSIM_DB` rather than infinity, so curves through them still interpolate."""
    return min(MAX_SSIM_DB, -10 * math.log10(max(1e-12, 1 - ssim)))


def _choose(curve: RungCurve, target_db: float) -> ChosenRung:
    points = _monotone(curve.points)
    if not points:
        raise ValueError(f"rung {curve.rung.name} has no trial encodes")
    cap = curve.rung.video_kbps
    crf, kbps = _setting_for(points, target_db)
    if kbps >= cap or crf < MIN_CRF:
        # The target costs more than the fixed ladder spends, or lies too far past what was measured to trust:
        # the rung stays as it was.
        rung, kbps = curve.rung, cap
    else:
        # Rounded down, to the better quality: x264 takes CRF in tenths.
        rung = at_constant_quality(curve.rung, math.floor(crf * 10) / 10, round(kbps))
    return ChosenRung(
        rung=rung,
        ssim_db=_quality_at(points, kbps, lambda point: point.ssim_db),
        screen_ssim_db=_quality_at(points, kbps, lambda point: point.screen_ssim_db),
    )


def _monotone(points: Sequence[TrialPoint]) -> list[TrialPoint]:
    """Points by bitrate, each quality at least that of any cheaper point (more bits never look worse; what
    looks like it is measurement noise)."""
    ordered = sorted((point for point in points if point.kbps > 0), key=lambda point: point.kbps)
    smoothed: list[TrialPoint] = []
    for point in ordered:
        if smoothed:
            last = smoothed[-1]
            point = replace(
                point,
                ssim_db=max(point.ssim_db, last.ssim_db),
                screen_ssim_db=max(point.screen_ssim_db, last.screen_ssim_db),
            )
        smoothed.append(point)
    return smoothed


def _setting_for(points: list[TrialPoint], target_db: float) -> tuple[float, float]:
    """The CRF at which SSIM dB reaches the target, and the bitrate it takes: between the two points around the
    target, linear in CRF and in the logarithm of the bitrate; past the best point along the last segment;
    infinitely many bits where the curve stops rising below the target. Never cheaper than the cheapest point."""
    if target_db <= points[0].ssim_db:
        return points[0].crf, points[0].kbps
    pairs = [(low, high) for low, high in itertools.pairwise(points) if low.ssim_db < target_db <= high.ssim_db]
    if pairs:
        low, high = pairs[0]
    elif len(points) >= 2 and points[-1].ssim_db > points[-2].ssim_db:
        low, high = points[-2], points[-1]
    else:
        return MIN_CRF, math.inf
    share = (target_db - low.ssim_db) / (high.ssim_db - low.ssim_db)
    crf = min(MAX_CRF, low.crf + share * (high.crf - low.crf))
    return crf, math.exp(math.log(low.kbps) + share * (math.log(high.kbps) - math.log(low.kbps)))


def _quality_at(points: list[TrialPoint], kbps: float, quality: Callable[[TrialPoint], float]) -> float:
    """A quality the curve predicts at `kbps`: interpolated between points, held flat past either end."""
    if kbps <= points[0].kbps:
        return quality(points[0])
    for low, high in itertools.pairwise(points):
        if kbps <= high.kbps:
            share = (math.log(kbps) - math.log(low.kbps)) / (math.log(high.kbps) - math.log(low.kbps))
            return quality(low) + share * (quality(high) - quality(low))
    return quality(points[-1])
