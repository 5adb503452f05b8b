"""The loudness domain: ebur128's summary read, the second-pass filter built from it, and when a linear gain alone
reaches -16 LUFS under the true-peak ceiling."""

from __future__ import annotations

import pytest

from videoforge.transcoder.adapters.ffmpeg_loudness import LoudnessMeter
from videoforge.transcoder.domain.audio_renditions import AudioRendition
from videoforge.transcoder.domain.loudness import (
    FILTER_TRUE_PEAK_DBTP,
    Measurement,
    fallback_measure_filter,
    figures,
    measure_filter,
    normalization_filter,
    parse_report,
    parse_summary,
)
from videoforge.transcoder.loudness_normalization import LoudnessNormalization

# As FFmpeg logs it, after the "[Parsed_ebur128_1 @ 0x...] Summary:" that the meter reads it from.
SUMMARY = """

  Integrated loudness:
    I:         -30.1 LUFS
    Threshold: -40.1 LUFS

  Loudness range:
    LRA:         2.3 LU
    Threshold: -50.3 LUFS
    LRA low:   -31.4 LUFS
    LRA high:  -29.1 LUFS

  True peak:
    Peak:      -26.4 dBFS
[out#0/null @ 0x7fe4efae8c80] video:0KiB audio:562KiB subtitle:0KiB other streams:0KiB global headers:0KiB
"""


# loudnorm's own first pass, for a track its fallback takes.
REPORT = {
    "input_i": "-30.12",
    "input_tp": "-6.40",
    "input_lra": "2.30",
    "input_thresh": "-40.12",
    "output_i": "-16.02",
    "output_tp": "-2.30",
    "output_lra": "2.10",
    "output_thresh": "-26.02",
    "normalization_type": "dynamic",
    "target_offset": "0.02",
}


def _measured(integrated: float, peak: float, range_lu: float = 3.0) -> Measurement:
    return Measurement(integrated, peak, range_lu, integrated - 10)


def test_the_summary_gives_the_first_pass_figures() -> None:
    # The integrated loudness's gate, not the loudness range's.
    assert parse_summary(SUMMARY) == Measurement(-30.1, -26.4, 2.3, -40.1)


def test_silence_has_no_loudness_to_bring_up() -> None:
    # ebur128 reads a silent track at its absolute gate, with no peak at all.
    silent = SUMMARY.replace("-30.1 LUFS", "-70.0 LUFS").replace("-26.4 dBFS", "-inf dBFS")
    assert parse_summary(silent) is None
    assert parse_summary(SUMMARY.replace("-30.1 LUFS", "-75.0 LUFS")) is None


def test_a_summary_without_its_figures_is_refused() -> None:
    with pytest.raises(ValueError, match="true peak"):
        parse_summary(SUMMARY.split("  True peak:")[0])
    with pytest.raises(ValueError, match="LRA"):
        parse_summary(SUMMARY.replace("2.3 LU\n", "n/a LU\n"))


def test_loudnorms_report_gives_its_figures_and_its_miss_of_the_target() -> None:
    assert parse_report(REPORT) == Measurement(-30.12, -6.40, 2.30, -40.12, 0.02)
    assert parse_report({**REPORT, "input_i": "-inf", "input_tp": "-inf", "target_offset": "inf"}) is None
    with pytest.raises(ValueError, match="input_tp"):
        parse_report({"input_i": "-20.00"})


def test_a_quiet_track_with_headroom_is_brought_up_by_a_linear_gain() -> None:
    quiet = _measured(-30.0, -26.0)
    assert quiet.gain_db == pytest.approx(14.0)
    assert quiet.linear


def test_a_loud_track_is_brought_down_linearly() -> None:
    loud = _measured(-5.0, -0.5)
    assert loud.gain_db == pytest.approx(-11.0)
    assert loud.linear


def test_a_gain_that_would_push_the_peaks_over_the_ceiling_is_not_linear() -> None:
    # -29 LUFS with peaks at -0.4 dBTP: +13 dB would put them at +12.6 dBTP.
    assert not _measured(-29.0, -0.4).linear
    # Exactly at the ceiling is still linear; a hundredth above is not.
    assert _measured(-20.0, FILTER_TRUE_PEAK_DBTP - 4.0).linear
    assert not _measured(-20.0, FILTER_TRUE_PEAK_DBTP - 3.99).linear


def test_the_ceiling_leaves_headroom_for_the_aac_encode() -> None:
    assert FILTER_TRUE_PEAK_DBTP < -1.0


def test_a_track_whose_peaks_allow_it_gets_the_gain_alone() -> None:
    # loudnorm's linear mode applies the same gain, but only after 3 s of look-ahead.
    assert normalization_filter(Measurement(-30.12, -26.4, 2.3, -40.12), channels=2) == (
        "aformat=channel_layouts=stereo,volume=14.12dB"
    )


def test_the_second_pass_of_a_track_with_loud_peaks_carries_the_measured_figures() -> None:
    text = normalization_filter(Measurement(-30.12, -6.4, 2.3, -40.12, 0.02), channels=2)

    layout, loudnorm = text.split(",")
    assert layout == "aformat=channel_layouts=stereo"
    options = dict(option.split("=") for option in loudnorm.removeprefix("loudnorm=").split(":"))
    assert options == {
        "I": "-16",
        "TP": f"{FILTER_TRUE_PEAK_DBTP:g}",
        "LRA": "11",
        "measured_I": "-30.12",
        "measured_TP": "-6.40",
        "measured_LRA": "2.30",
        "measured_thresh": "-40.12",
        "offset": "0.02",
        "linear": "true",
    }


def test_a_wide_range_track_is_not_squeezed_to_the_default_range() -> None:
    # loudnorm keeps to linear gain only for a range within its target: it is told the track's own.
    assert ":LRA=18.5:" in normalization_filter(_measured(-24.0, -8.0, range_lu=18.5), channels=2)
    assert ":LRA=50:" in normalization_filter(_measured(-24.0, -12.0, range_lu=70.0), channels=2)
    assert not _measured(-24.0, -12.0, range_lu=70.0).linear


def test_both_passes_read_the_track_in_the_layout_it_is_encoded_in() -> None:
    assert measure_filter(2) == "aformat=channel_layouts=stereo,ebur128=peak=true:framelog=quiet"
    assert measure_filter(6).startswith("aformat=channel_layouts=5.1,")
    assert fallback_measure_filter(2).startswith("aformat=channel_layouts=stereo,loudnorm=I=-16:")
    assert normalization_filter(_measured(-20.0, -10.0), channels=6).startswith("aformat=channel_layouts=5.1,")
    with pytest.raises(ValueError):
        measure_filter(3)


def test_the_shown_figures_are_rounded_to_hundredths() -> None:
    shown = figures(_measured(-30.123456, -26.4049), _measured(-16.0049, -12.0), normalized=True)
    assert shown.as_fields() == {
        "input_integrated_lufs": -30.12,
        "input_true_peak_dbtp": -26.4,
        "output_integrated_lufs": -16.0,
        "output_true_peak_dbtp": -12.0,
        "normalized": True,
    }


def test_a_rendition_carries_no_loudness_filter_until_one_is_given() -> None:
    assert AudioRendition(0, 2, 128, "en", "English").loudness_filter == ""


def test_each_rendition_gets_the_filter_of_its_own_track_and_channel_count() -> None:
    english, english_51 = AudioRendition(0, 2, 128, "en", "English"), AudioRendition(0, 6, 384, "en", "English 5.1")
    silent = AudioRendition(1, 2, 128, "fr", "French")
    measured = {(0, 2): _measured(-30.0, -20.0), (0, 6): _measured(-27.0, -18.0), (1, 2): None}

    normalized = LoudnessNormalization(LoudnessMeter()).apply([english, english_51, silent], measured)

    assert normalized[0].loudness_filter == normalization_filter(measured[0, 2], channels=2)
    assert normalized[1].loudness_filter == normalization_filter(_measured(-27.0, -18.0), channels=6)
    assert normalized[2] == silent
