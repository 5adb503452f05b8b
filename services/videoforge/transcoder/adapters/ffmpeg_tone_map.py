"""The FFmpeg filters that make an HDR source's decoded frames the ladder's SDR picture, through the LUTs and the
matrix of `domain.tone_mapping` (why LUTs, and which curves, are told there).

The LUT files are computed once per process (the 3D one per transfer and peak: a fraction of a second) into a
folder of the process's own, removed when it exits, and written again should that folder have been cleaned away.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from videoforge.transcoder.domain.tone_mapping import (
    BT2020_TO_BT709,
    GAMMA_LUT_SIZE,
    LUT_SIZE,
    ToneMap,
    cube_lut,
    gamma_lut,
)

# The ladder's picture: 8-bit 4:2:0, what every rung's encoder and every player takes.
SDR_PICTURE = "format=yuv420p"
# How the tone-mapped picture is tagged (in the encoders' VUI and the container): BT.709 throughout.
SDR_TAGS = ("-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709")


def tone_map_filters(tone_map: ToneMap) -> str:
    """Filters from an HDR (BT.2020) source's frames to the ladder's SDR picture, tagged BT.709. Blocking: it may
    write the LUT files."""
    tone_curve = _lut_file(f"{tone_map.transfer}-{tone_map.peak_nits:.0f}-{LUT_SIZE}.cube", lambda: cube_lut(tone_map))
    gamma = _lut_file(f"bt1886-{GAMMA_LUT_SIZE}.cube", gamma_lut)
    mixer = ":".join(
        f"{out}{into}={weight:.6f}"
        for out, row in zip("rgb", BT2020_TO_BT709, strict=True)
        for into, weight in zip("rgb", row, strict=True)
    )
    return (
        # R'G'B' as the source's YCbCr encodes it (range as the frames say), in float: linear light near black, and
        # BT.709's negative channels out of BT.2020's saturated colours, kept until the gamma clips them.
        "scale=in_color_matrix=bt2020nc,format=gbrpf32le,"
        f"lut3d=file='{tone_curve}':interp=tetrahedral,colorchannelmixer={mixer},lut1d=file='{gamma}',"
        # The frames now hold BT.709 SDR: tagged so, the conversion below and the encoders take them as such.
        "setparams=color_primaries=bt709:color_trc=bt709,"
        f"scale=out_color_matrix=bt709:out_range=tv,{SDR_PICTURE},setparams=colorspace=bt709:range=tv"
    )


def _lut_file(name: str, text: Callable[[], str]) -> Path:
    if not _lut_folder().is_dir():  # cleaned away under us: a new one of our own
        _lut_folder.cache_clear()
    path = _lut_folder() / name
    if not path.exists():
        # Written under a name of its own then renamed: an encode never reads half a LUT.
        with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".partial", delete=False) as partial:
            partial.write(text())
        os.replace(partial.name, path)
    return path


@functools.cache
def _lut_folder() -> Path:
    # A folder only this process writes (mode 0700): no other user can put a LUT of their own in its place. It goes
    # with the process.
    folder = tempfile.mkdtemp(prefix="videoforge-tone-map-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return Path(folder)
