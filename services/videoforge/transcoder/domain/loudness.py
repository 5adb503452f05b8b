"""EBU R128 loudness normalisation in two passes: FFmpeg's `ebur128` measures each audio rendition's source
track, then the encode brings it to -16 LUFS integrated with true peaks at most -1 dBTP, by one linear gain
(`volume`) wherever that gain keeps the peaks under the ceiling. That is the gain loudnorm's second pass would
apply, without its 3 s look-ahead: the encode's first segment would wait for 3 s of audio, and for the 3 s of
video read with it. The measure gates the encode: `ebur128` takes a fifth of the time of loudnorm's own first pass
(which runs its whole processing at 192 kHz), and reads the same figures from a track to a tenth of a unit.

Where it cannot (a quiet track with loud peaks), loudnorm's own fallback takes over: gain riding with a true-peak
limiter (looking ahead, oversampled at 192 kHz), told the figures of loudnorm's own first pass, which such a track
(and only such a track) is measured by as well. Measured on a quiet track with loud clicks, it lands on the target
(-16.0 LUFS, -1.5 dBTP) where a gain followed by `alimiter` fell 2 LU short: the limiter's release pulls the
whole track down after each peak it catches.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

TARGET_LUFS = -16.0
TARGET_TRUE_PEAK_DBTP = -1.0
TARGET_RANGE_LU = 11.0
# AAC's encode overshoots the peaks it is given by a few tenths of a dB: the filter aims this far under the
# ceiling, so the published audio stays under it.
CODEC_HEADROOM_DB = 0.5
FILTER_TRUE_PEAK_DBTP = TARGET_TRUE_PEAK_DBTP - CODEC_HEADROOM_DB
# loudnorm keeps to a linear gain only for a track whose loudness range is within the range it aims for, so it is
# told the track's own range (never narrower than the target's): the range alone never costs a track its
# dynamics. Its largest range.
MAX_RANGE_LU = 50.0
# EBU R128's absolute gate: a track no louder than this throughout is silence, with nothing to bring up.
SILENCE_LUFS = -70.0
# The channel layouts renditions are encoded in, by channel count (what FFmpeg's `-ac` picks for each).
CHANNEL_LAYOUTS = {1: "mono", 2: "stereo", 6: "5.1"}


@dataclass(frozen=True, slots=True)
class Measurement:
    """What the first pass measured of a track, as loudnorm's second pass takes it."""

    integrated_lufs: float
    true_peak_dbtp: float
    range_lu: float
    threshold_lufs: float
    # loudnorm's first pass's own miss of the target, which its fallback corrects by: only that pass measures it,
    # and it runs only for a track the fallback takes.
    offset_lu: float = 0.0

    @property
    def gain_db(self) -> float:
        """The linear gain that brings the track to the target loudness."""
        return TARGET_LUFS - self.integrated_lufs

    @property
    def linear(self) -> bool:
        """Whether that gain alone keeps the track's true peaks under the ceiling (else loudnorm limits them)."""
        return self.true_peak_dbtp + self.gain_db <= FILTER_TRUE_PEAK_DBTP and self.range_lu <= MAX_RANGE_LU


@dataclass(frozen=True, slots=True)
class LoudnessFigures:
    """What a video's details show: the source's default audio track as measured, and as published."""

    input_integrated_lufs: float
    input_true_peak_dbtp: float
    output_integrated_lufs: float
    output_true_peak_dbtp: float
    normalized: bool

    def as_fields(self) -> dict[str, float | bool]:
        return {
            "input_integrated_lufs": self.input_integrated_lufs,
            "input_true_peak_dbtp": self.input_true_peak_dbtp,
            "output_integrated_lufs": self.output_integrated_lufs,
            "output_true_peak_dbtp": self.output_true_peak_dbtp,
            "normalized": self.normalized,
        }


def parse_summary(summary: str) -> Measurement | None:
    """The summary `ebur128` logs once the track has been read (peak=true); None for silence, which has no
    loudness to measure. Raises ValueError for a summary without its figures."""
    integrated = _summary_figure(summary, "integrated loudness", "I", "LUFS")
    if _silent(integrated):
        return None
    return Measurement(
        integrated_lufs=integrated,
        true_peak_dbtp=_summary_figure(summary, "true peak", "Peak", "dBFS"),
        range_lu=_summary_figure(summary, "loudness range", "LRA", "LU"),
        threshold_lufs=_summary_figure(summary, "integrated loudness", "Threshold", "LUFS"),
    )


def measure_filter(channels: int) -> str:
    """The first pass over a source track, in the channel layout it is encoded in (a downmix, or a mono track
    spread over two channels, is louder or quieter than its source); its summary is logged at the info level."""
    return f"{_layout(channels)},ebur128=peak=true:framelog=quiet"


def parse_report(report: Mapping[str, object]) -> Measurement | None:
    """loudnorm's first pass's JSON report (`print_format=json`), as `parse_summary` reads ebur128's."""
    integrated = _figure(report, "input_i")
    if _silent(integrated):
        return None
    return Measurement(
        integrated_lufs=integrated,
        true_peak_dbtp=_figure(report, "input_tp"),
        range_lu=_figure(report, "input_lra"),
        threshold_lufs=_figure(report, "input_thresh"),
        offset_lu=_figure(report, "target_offset"),
    )


def fallback_measure_filter(channels: int) -> str:
    """loudnorm's own first pass over a track its fallback takes (`Measurement.linear` false): the fallback is told
    that pass's miss of the target. The caller adds where the report goes."""
    return f"{_layout(channels)},loudnorm={_targets(TARGET_RANGE_LU)}:print_format=json"


def normalization_filter(measured: Measurement, channels: int) -> str:
    """The second pass over a source track as the encode applies it (`-filter:a:K`): the same layout as measured,
    then the linear gain where the peaks allow, else loudnorm told the first pass's figures."""
    if measured.linear:
        return f"{_layout(channels)},volume={measured.gain_db:.2f}dB"
    range_lu = min(max(TARGET_RANGE_LU, measured.range_lu), MAX_RANGE_LU)
    figures = (
        f"measured_I={measured.integrated_lufs:.2f}:measured_TP={measured.true_peak_dbtp:.2f}"
        f":measured_LRA={measured.range_lu:.2f}:measured_thresh={measured.threshold_lufs:.2f}"
        f":offset={measured.offset_lu:.2f}"
    )
    return f"{_layout(channels)},loudnorm={_targets(range_lu)}:{figures}:linear=true"


def figures(source: Measurement, published: Measurement, *, normalized: bool) -> LoudnessFigures:
    return LoudnessFigures(
        input_integrated_lufs=round(source.integrated_lufs, 2),
        input_true_peak_dbtp=round(source.true_peak_dbtp, 2),
        output_integrated_lufs=round(published.integrated_lufs, 2),
        output_true_peak_dbtp=round(published.true_peak_dbtp, 2),
        normalized=normalized,
    )


def _targets(range_lu: float) -> str:
    return f"I={TARGET_LUFS:g}:TP={FILTER_TRUE_PEAK_DBTP:g}:LRA={range_lu:g}"


def _layout(channels: int) -> str:
    if channels not in CHANNEL_LAYOUTS:
        raise ValueError(f"no channel layout for {channels} channels")
    return f"aformat=channel_layouts={CHANNEL_LAYOUTS[channels]}"


def _silent(integrated_lufs: float) -> bool:
    return not math.isfinite(integrated_lufs) or integrated_lufs <= SILENCE_LUFS


def _summary_figure(summary: str, section: str, name: str, unit: str) -> float:
    """The figure `name` first listed in the summary's `section` ("  Integrated loudness:", then its figures)."""
    heading = re.search(rf"^\s*{re.escape(section)}:\s*$", summary, re.IGNORECASE | re.MULTILINE)
    if heading is None:
        raise ValueError(f"the loudness summary has no {section}")
    found = re.search(rf"^\s*{name}:\s*(\S+)\s+{unit}\s*$", summary[heading.end() :], re.MULTILINE)
    if found is None:
        raise ValueError(f"the loudness summary has no {section} {name}")
    try:
        return float(found[1])  # "-23.1", "-inf"
    except ValueError:
        raise ValueError(f"the loudness summary's {section} {name} is {found[1]!r}") from None


def _figure(report: Mapping[str, object], name: str) -> float:
    value = report.get(name)
    if not isinstance(value, str | int | float):
        raise ValueError(f"the loudness report has no {name}")
    return float(value)  # loudnorm writes figures as strings: "-23.10", "-inf"
