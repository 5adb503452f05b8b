"""HDR (PQ or HLG, BT.2020) pictures made SDR (BT.709) for the ladder: the maths, and the LUTs FFmpeg applies.

This FFmpeg has neither zimg (`zscale`) nor libplacebo, and its `colorspace` filter cannot linearise PQ or HLG, so
`tonemap` never gets the linear light it works on. Its swscale does convert transfers and primaries (`scale` with
`out_transfer`, `out_primaries`), by fixed choices of its own we cannot tune: on our graded test pictures it lands
6 to 8 times further from the original than this conversion, at a third more CPU (bench/tone_map_bench.py).
So the conversion is computed here and applied by FFmpeg per pixel, on the source's R'G'B' (converted from YCbCr
with the BT.2020 matrix) in 32-bit float, at source size, once before the ladder splits:

1. A 3D LUT (`lut3d`, `cube_lut`) from the non-linear BT.2020 R'G'B' signal to tone-mapped linear BT.2020 light:
   a. to display light in cd/m²: PQ by its EOTF (SMPTE ST 2084); HLG by its inverse OETF then its OOTF for a
      1000 cd/m² display (system gamma 1.2, BT.2100);
   b. relative to HDR reference white, 203 cd/m² (BT.2408), which becomes SDR's reference white;
   c. the BT.2390 EETF (a Hermite knee in the PQ domain, identity below it) compresses the source's peak to SDR's
      peak, applied to max(R, G, B) and scaling all three channels alike (as ST 2094-40 does): hue and saturation
      kept, no channel over 1.
2. BT.2020 → BT.709 primaries in linear light (`colorchannelmixer`, BT2020_TO_BT709), exact per pixel; what falls
   outside BT.709 is clipped by the next step.
3. A 1D LUT (`lut1d`, `gamma_lut`): clipped to 0..1 and encoded for a BT.1886 display (the inverse of its 2.4
   gamma), which is what a BT.709-tagged video is shown on.

A PQ source's peak is the brightest its tags say it holds (its content light level within its mastering display's
peak, either alone when the other is untold; 1000 cd/m², the usual HDR10 grade's, when untagged), so a
4000 cd/m² master keeps its highlights apart and a dim one is not compressed for light it never has. HLG is
scene-referred: its peak is its nominal display's.

The 3D LUT's grid is uniform in the signal, i.e. in PQ or HLG code values, which are perceptually spaced; it holds
only the smooth part of the maths. The gamut conversion and the gamma stay out of it on purpose: where a saturated
colour's channel meets 0 they bend sharply, and a 33-point LUT holding them (desaturating out-of-gamut colours
instead of clipping them) was off by 4 8-bit code values on average, 1 in 100 by 35, over SDR colours graded into
PQ at random; this way, 1.5 on average and 1 in 100 by 14 (greys within half a code value either way), for about
twice that filter's CPU (about 1 CPU s per second of 1080p30 on top of the decode).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

HdrTransfer = Literal["pq", "hlg"]
# ffprobe's names for the transfer characteristics this module converts.
HDR_TRANSFERS: dict[str, HdrTransfer] = {"smpte2084": "pq", "arib-std-b67": "hlg"}

LUT_SIZE = 33
# Entries of the 1D gamma LUT, linearly interpolated: within about a code value of the curve even at its steep foot.
GAMMA_LUT_SIZE = 16384
# HDR reference (diffuse) white, BT.2408: where SDR white goes.
REFERENCE_WHITE_NITS = 203.0
# The peak a source is taken to be mastered to when untagged (and HLG's nominal display peak): the usual HDR10
# grade's. Tagged peaks are kept within PEAK_RANGE_NITS (a dimmer claim is a wrong one, or needs no tone mapping to
# speak of) and rounded to PEAK_STEP_NITS, so a handful of LUTs serve every source.
SOURCE_PEAK_NITS = 1000.0
PEAK_RANGE_NITS = (400.0, 10_000.0)
PEAK_STEP_NITS = 100.0
SDR_GAMMA = 2.4

# SMPTE ST 2084 constants.
_M1, _M2 = 2610 / 16384, 2523 / 4096 * 128
_C1, _C2, _C3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
PQ_PEAK_NITS = 10_000.0
# ARIB STD-B67 (BT.2100 HLG) constants.
_HLG_A = 0.17883277
_HLG_B = 1 - 4 * _HLG_A
_HLG_C = 0.5 - _HLG_A * math.log(4 * _HLG_A)
_HLG_GAMMA = 1.2  # system gamma for a 1000 cd/m² display
_BT2020_LUMA = (0.2627, 0.6780, 0.0593)
# Linear BT.2020 RGB to linear BT.709 RGB (BT.2087), rows summing to 1 (white stays white).
BT2020_TO_BT709 = (
    (1.660491, -0.587641, -0.072850),
    (-0.124550, 1.132900, -0.008349),
    (-0.018151, -0.100579, 1.118730),
)

Rgb = tuple[float, float, float]


@dataclass(frozen=True, slots=True)
class ToneMap:
    """How an HDR source is made SDR: its transfer, and the brightest light its pictures hold, in cd/m²."""

    transfer: HdrTransfer
    peak_nits: float = SOURCE_PEAK_NITS


def tone_map_for(transfer: HdrTransfer, *, content_light: float = 0, mastering_peak: float = 0) -> ToneMap:
    """A source's tone mapping from its tags: `content_light` (MaxCLL) and `mastering_peak` (its mastering
    display's maximum luminance), both in cd/m², 0 when untagged. MaxCLL is the content's own brightest pixel, so
    it wins, within the mastering display's peak when both are told."""
    told = [peak for peak in (content_light, mastering_peak) if peak > 0]
    if transfer == "hlg" or not told:
        return ToneMap(transfer)
    low, high = PEAK_RANGE_NITS
    return ToneMap("pq", round(min(max(min(told), low), high) / PEAK_STEP_NITS) * PEAK_STEP_NITS)


def pq_eotf(signal: float) -> float:
    """A PQ code value (0..1) to display light in cd/m²."""
    power = max(signal, 0.0) ** (1 / _M2)
    return PQ_PEAK_NITS * (max(power - _C1, 0.0) / (_C2 - _C3 * power)) ** (1 / _M1)


def pq_inverse_eotf(nits: float) -> float:
    """Display light in cd/m² to a PQ code value (0..1)."""
    y = (max(nits, 0.0) / PQ_PEAK_NITS) ** _M1
    return ((_C1 + _C2 * y) / (1 + _C3 * y)) ** _M2


def hlg_inverse_oetf(signal: float) -> float:
    """An HLG code value (0..1) to relative scene light (0..1)."""
    signal = max(signal, 0.0)
    if signal <= 0.5:
        return signal * signal / 3
    return (math.exp((signal - _HLG_C) / _HLG_A) + _HLG_B) / 12


def hlg_display_nits(signal: Rgb) -> Rgb:
    """HLG R'G'B' to display light in cd/m² on the nominal 1000 cd/m² display (inverse OETF, then OOTF)."""
    scene = tuple(hlg_inverse_oetf(channel) for channel in signal)
    luminance = sum(weight * channel for weight, channel in zip(_BT2020_LUMA, scene, strict=True))
    gain = SOURCE_PEAK_NITS * luminance ** (_HLG_GAMMA - 1) if luminance > 0 else 0.0
    r, g, b = (gain * channel for channel in scene)
    return r, g, b


def bt2390_eetf(nits: float, *, source_peak: float = SOURCE_PEAK_NITS, target_peak: float) -> float:
    """ITU-R BT.2390's EETF (black at 0): light up to a knee kept as it is, the rest to `target_peak` along a
    Hermite spline in the PQ domain, `source_peak` landing on `target_peak` exactly."""
    source_max = pq_inverse_eotf(source_peak)
    e1 = min(pq_inverse_eotf(nits) / source_max, 1.0)
    max_lum = pq_inverse_eotf(target_peak) / source_max
    knee = 1.5 * max_lum - 0.5
    if e1 >= knee:
        t = (e1 - knee) / (1 - knee)
        t2, t3 = t * t, t * t * t
        e1 = (2 * t3 - 3 * t2 + 1) * knee + (t3 - 2 * t2 + t) * (1 - knee) + (-2 * t3 + 3 * t2) * max_lum
    return pq_eotf(e1 * source_max)


def tone_mapped_light(signal: Rgb, tone_map: ToneMap) -> Rgb:
    """The 3D LUT's entry for a BT.2020 HDR R'G'B' signal: linear BT.2020 light relative to SDR white, its brightest
    channel brought within 1 by the EETF."""
    pq = tone_map.transfer == "pq"
    nits = tuple(pq_eotf(channel) for channel in signal) if pq else hlg_display_nits(signal)
    peak = max(nits)
    if peak <= 0:
        return 0.0, 0.0, 0.0
    mapped = bt2390_eetf(peak, source_peak=tone_map.peak_nits, target_peak=REFERENCE_WHITE_NITS)
    r, g, b = (channel / peak * mapped / REFERENCE_WHITE_NITS for channel in nits)
    return r, g, b


def sdr_signal(light: Rgb) -> Rgb:
    """Linear BT.2020 light (1: SDR white) to the BT.709 SDR R'G'B' signal, as the mixer and 1D LUT make it."""
    r, g, b = (bt1886_inverse_eotf(channel) for channel in _matrix(BT2020_TO_BT709, light))
    return r, g, b


def bt1886_inverse_eotf(light: float) -> float:
    """Relative light, clipped to 0..1, to the signal a BT.1886 display (gamma 2.4, black at 0) shows it from."""
    return min(1.0, max(0.0, light)) ** (1 / SDR_GAMMA)


def sdr_from_hdr(signal: Rgb, tone_map: ToneMap) -> Rgb:
    """One BT.2020 HDR R'G'B' signal to the BT.709 SDR R'G'B' signal (0..1) shown in its place: the exact maths the
    LUTs and the mixer approximate."""
    return sdr_signal(tone_mapped_light(signal, tone_map))


def cube_lut(tone_map: ToneMap, size: int = LUT_SIZE) -> str:
    """The 3D `.cube` file (Adobe's format, as `lut3d` reads it) of `tone_mapped_light` for `tone_map`."""
    title = f"{tone_map.transfer.upper()} BT.2020 ({tone_map.peak_nits:g} cd/m2) tone-mapped, linear"
    lines = [f'TITLE "{title}"', f"LUT_3D_SIZE {size}"]
    # Linear light is small near black: digits enough that the gamma after it does not show their rounding.
    lines += (f"{r:.9f} {g:.9f} {b:.9f}" for r, g, b in _grid(size, lambda rgb: tone_mapped_light(rgb, tone_map)))
    return "\n".join(lines) + "\n"


def gamma_lut(size: int = GAMMA_LUT_SIZE) -> str:
    """The 1D `.cube` file (as `lut1d` reads it) of `bt1886_inverse_eotf`, the same curve for all three channels."""
    lines = ['TITLE "BT.1886 inverse EOTF"', f"LUT_1D_SIZE {size}"]
    lines += (f"{v:.7f} {v:.7f} {v:.7f}" for v in (bt1886_inverse_eotf(i / (size - 1)) for i in range(size)))
    return "\n".join(lines) + "\n"


def _grid(size: int, convert: Callable[[Rgb], Rgb]) -> Iterator[Rgb]:
    # .cube order: red varies fastest, then green, then blue.
    steps = [i / (size - 1) for i in range(size)]
    for b in steps:
        for g in steps:
            for r in steps:
                yield convert((r, g, b))


def _matrix(rows: tuple[Rgb, Rgb, Rgb], rgb: tuple[float, ...]) -> Rgb:
    r, g, b = (sum(weight * channel for weight, channel in zip(row, rgb, strict=True)) for row in rows)
    return r, g, b
