"""HDR to SDR maths: the PQ and HLG curves at their published points, the BT.2390 EETF, and the LUT they make."""

from __future__ import annotations

import pytest

from videoforge.transcoder.domain.tone_mapping import (
    LUT_SIZE,
    HdrTransfer,
    ToneMap,
    bt2390_eetf,
    cube_lut,
    gamma_lut,
    hlg_display_nits,
    hlg_inverse_oetf,
    pq_eotf,
    pq_inverse_eotf,
    sdr_from_hdr,
    sdr_signal,
    tone_map_for,
)


@pytest.mark.parametrize(
    ("nits", "signal"),
    [(0, 0.0), (100, 0.5081), (203, 0.5807), (1000, 0.7518), (10_000, 1.0)],  # ST 2084 / BT.2408 tables
)
def test_pq_meets_the_published_code_values(nits: float, signal: float) -> None:
    assert pq_inverse_eotf(nits) == pytest.approx(signal, abs=5e-4)
    assert pq_eotf(pq_inverse_eotf(nits)) == pytest.approx(nits, rel=1e-9, abs=1e-9)


def test_hlg_reference_white_is_203_nits_on_a_1000_nit_display() -> None:
    assert hlg_inverse_oetf(0.5) == pytest.approx(1 / 12)
    assert hlg_inverse_oetf(1.0) == pytest.approx(1.0, abs=1e-6)
    # BT.2408: 75% HLG is HDR reference white.
    assert hlg_display_nits((0.75, 0.75, 0.75)) == pytest.approx((203, 203, 203), rel=0.01)
    assert hlg_display_nits((1.0, 1.0, 1.0)) == pytest.approx((1000, 1000, 1000), rel=1e-5)


def test_the_eetf_keeps_dim_light_and_lands_the_source_peak_on_the_target_peak() -> None:
    assert bt2390_eetf(0, target_peak=203) == 0
    assert bt2390_eetf(50, target_peak=203) == pytest.approx(50)
    assert bt2390_eetf(1000, target_peak=203) == pytest.approx(203)
    assert bt2390_eetf(4000, target_peak=203) == pytest.approx(203)  # past the mastering peak: clipped there
    curve = [bt2390_eetf(nits, target_peak=203) for nits in range(0, 1001, 10)]
    assert curve == sorted(curve)


@pytest.mark.parametrize("transfer", ["pq", "hlg"])
def test_black_stays_black_and_white_becomes_white(transfer: HdrTransfer) -> None:
    peak_white = (1.0, 1.0, 1.0) if transfer == "hlg" else (pq_inverse_eotf(1000),) * 3
    reference_white = (0.75,) * 3 if transfer == "hlg" else (pq_inverse_eotf(203),) * 3

    assert sdr_from_hdr((0.0, 0.0, 0.0), ToneMap(transfer)) == (0.0, 0.0, 0.0)
    assert sdr_from_hdr(peak_white, ToneMap(transfer)) == pytest.approx((1, 1, 1), abs=1e-5)
    # Diffuse white stays neutral and near the top, leaving headroom for highlights.
    r, g, b = sdr_from_hdr(reference_white, ToneMap(transfer))
    assert r == pytest.approx(g, abs=1e-4) == pytest.approx(b, abs=1e-4)
    assert 0.85 < g < 0.95


def test_a_brighter_master_keeps_its_highlights_apart_and_its_own_peak_becomes_white() -> None:
    bright = ToneMap("pq", 4000)

    def grey(nits: float, tone_map: ToneMap) -> float:
        return sdr_from_hdr((pq_inverse_eotf(nits),) * 3, tone_map)[1]

    assert grey(4000, bright) == pytest.approx(1.0, abs=1e-5)
    # A 1000 cd/m² master would clip both to white.
    assert grey(1000, bright) < 0.99 and grey(1000, bright) < grey(2000, bright) < grey(4000, bright)
    assert grey(1000, ToneMap("pq")) == grey(2000, ToneMap("pq")) == pytest.approx(1.0, abs=1e-5)
    assert grey(20, bright) == pytest.approx(grey(20, ToneMap("pq")), abs=1e-6)  # below the knee: untouched


@pytest.mark.parametrize(
    ("content_light", "mastering_peak", "peak"),
    [
        (0, 0, 1000),
        (0, 4000, 4000),
        (1500, 4000, 1500),
        (4000, 1000, 1000),
        (80, 0, 400),
        (1e6, 0, 10_000),
        (1234, 0, 1200),
    ],
)
def test_the_peak_is_the_content_light_level_within_the_mastering_peak_kept_sane_and_rounded(
    content_light: float, mastering_peak: float, peak: float
) -> None:
    assert tone_map_for("pq", content_light=content_light, mastering_peak=mastering_peak) == ToneMap("pq", peak)


def test_colours_are_moved_to_bt709_primaries_and_what_falls_outside_is_clipped() -> None:
    bt709_red_light = (0.627404, 0.069097, 0.016391)  # BT.709's red primary in BT.2020 terms (BT.2087)
    bt2020_green = (0.0, pq_inverse_eotf(400), 0.0)

    assert sdr_signal(bt709_red_light) == pytest.approx((1, 0, 0), abs=2e-3)
    assert sdr_signal((1.0, 1.0, 1.0)) == pytest.approx((1, 1, 1))
    r, g, b = sdr_from_hdr(bt2020_green, ToneMap("pq"))
    assert (r, b) == (0.0, 0.0) and g == 1.0  # still green, at BT.709's most


def test_the_gamma_lut_is_the_bt1886_inverse_from_black_to_white() -> None:
    lines = gamma_lut(1024).splitlines()

    assert lines[1] == "LUT_1D_SIZE 1024"
    values = [tuple(float(value) for value in line.split()) for line in lines[2:]]
    assert values[0] == (0, 0, 0) and values[-1] == (1, 1, 1) and len(values) == 1024
    assert values[511][0] == pytest.approx((511 / 1023) ** (1 / 2.4), abs=1e-6)


def test_the_cube_file_has_every_grid_point_in_range_black_first_white_last() -> None:
    lines = cube_lut(ToneMap("pq")).splitlines()

    assert lines[1] == f"LUT_3D_SIZE {LUT_SIZE}"
    entries = [tuple(float(value) for value in line.split()) for line in lines[2:]]
    assert len(entries) == LUT_SIZE**3
    assert entries[0] == (0.0, 0.0, 0.0)
    assert entries[-1] == (1.0, 1.0, 1.0)  # 10000 cd/m² white, past the peak: SDR white
    assert all(0.0 <= value <= 1.0 for entry in entries for value in entry)
    # Red varies fastest: the second entry is (dim, BT.2020) red, in linear light.
    assert entries[1][0] > 0 and entries[1][1:] == (0.0, 0.0)
    assert entries[1][0] == pytest.approx(pq_eotf(1 / (LUT_SIZE - 1)) / 203, rel=1e-4)
