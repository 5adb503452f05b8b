"""What the probe learns of a source's picture (HDR transfer, bit depth, uneven frame timing) and what the ladder
and the encoder make of it: tone mapping before the split, keyframes by time."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from videoforge.transcoder.adapters.ffmpeg import KEYFRAME_CEILING, FfmpegEncoder
from videoforge.transcoder.adapters.ffmpeg_tone_map import tone_map_filters
from videoforge.transcoder.domain.ladder import codec_rungs, plan_ladder
from videoforge.transcoder.domain.media import MediaInfo, parse_ffprobe
from videoforge.transcoder.domain.tone_mapping import ToneMap


def _probed(**video: Any) -> MediaInfo:
    stream = {
        "codec_type": "video", "codec_name": "hevc", "width": 1920, "height": 1080,
        "avg_frame_rate": "30/1", "r_frame_rate": "30/1",
    } | video  # fmt: skip
    return parse_ffprobe({"streams": [stream], "format": {"format_name": "matroska,webm", "duration": "10"}})


@pytest.mark.parametrize(
    ("transfer", "expected"),
    [("smpte2084", "pq"), ("arib-std-b67", "hlg"), ("bt709", None), ("unknown", None), (None, None)],
)
def test_pq_and_hlg_sources_are_hdr(transfer: str | None, expected: str | None) -> None:
    tags = {} if transfer is None else {"color_transfer": transfer}

    assert _probed(**tags).hdr_transfer == expected


def test_a_pq_sources_peak_comes_from_its_light_level_tags() -> None:
    mastering = {"side_data_type": "Mastering display metadata", "max_luminance": "40000000/10000"}
    content = {"side_data_type": "Content light level metadata", "max_content": 1500, "max_average": 400}
    pq = {"color_transfer": "smpte2084"}

    assert _probed(**pq).tone_map == ToneMap("pq", 1000)  # untagged: the usual HDR10 grade's
    assert _probed(**pq, side_data_list=[mastering]).tone_map == ToneMap("pq", 4000)
    # The content's own brightest pixel wins over the display it was mastered on.
    assert _probed(**pq, side_data_list=[mastering, content]).tone_map == ToneMap("pq", 1500)
    assert _probed(**pq, side_data_list=[content | {"max_content": 0}]).tone_map == ToneMap("pq", 1000)
    # HLG is scene-referred: its nominal display's peak whatever the tags.
    assert _probed(color_transfer="arib-std-b67", side_data_list=[mastering]).tone_map == ToneMap("hlg", 1000)
    assert _probed().tone_map is None


def test_colour_tags_and_bit_depth_are_kept() -> None:
    info = _probed(pix_fmt="yuv420p10le", color_transfer="smpte2084", color_primaries="bt2020", color_space="bt2020nc")

    assert (info.color_primaries, info.color_space, info.bit_depth) == ("bt2020", "bt2020nc", 10)
    assert _probed(pix_fmt="yuv420p").bit_depth == 8
    assert _probed().bit_depth == 8


@pytest.mark.parametrize(
    ("average", "base", "variable"),
    [
        ("21/1", "60/1", True),  # 30 fps then 12 fps: timestamps on a 60 fps grid, 21 frames a second
        ("2997/100", "30000/1001", False),  # a container's rounded timescale: the same rate
        ("30000/1001", "30000/1001", False),
        ("25/1", "50/1", True),
        ("0/0", "25/1", False),  # no average to compare with
    ],
)
def test_a_frame_rate_is_variable_when_the_average_strays_from_the_base_rate(
    average: str, base: str, variable: bool
) -> None:
    assert _probed(avg_frame_rate=average, r_frame_rate=base).variable_frame_rate is variable


def test_a_variable_frame_rate_ladder_is_keyed_by_time_in_every_codec() -> None:
    rungs = plan_ladder(_probed(avg_frame_rate="21/1", r_frame_rate="60/1"))

    assert rungs and all(rung.keyframes_by_time for rung in rungs)
    assert all(rung.keyframes_by_time for rung in codec_rungs(rungs, ["h264", "hevc", "av1"]))
    assert not any(rung.keyframes_by_time for rung in plan_ladder(_probed()))


def test_rungs_keyed_by_time_force_a_keyframe_each_two_seconds_with_no_gop_limit_before_it() -> None:
    encoder = FfmpegEncoder(cpu_count=4)
    [timed] = plan_ladder(_probed(avg_frame_rate="21/1", r_frame_rate="60/1"), ["1080p"])
    [hevc, av1] = codec_rungs([timed], ["h264", "hevc", "av1"])

    x264 = encoder._video_args(timed, 1.0, ":0")
    x265 = encoder._codec_rungs_args([timed], [hevc], 1.0)
    svt = encoder._codec_rungs_args([timed], [hevc, av1], 1.0)

    every_two_seconds = "expr:lt(n_forced,1)+gt(floor(t/2),floor(prev_forced_t/2))"
    forced = ["-force_key_frames:v:0", every_two_seconds, "-forced-idr:v:0", "1"]
    assert _after(x264, "-force_key_frames:v:0", 4) == forced
    assert _after(x264, "-g:v:0", 2) == ["-g:v:0", str(KEYFRAME_CEILING)]
    # The source's own frame timing, never frames duplicated up to its base rate.
    assert _after(x264, "-fps_mode:v:0", 2) == ["-fps_mode:v:0", "vfr"]
    assert _after(svt, "-fps_mode:v:2", 2) == ["-fps_mode:v:2", "vfr"]
    assert _after(x265, "-force_key_frames:v:1", 2) == ["-force_key_frames:v:1", every_two_seconds]
    assert f"keyint={KEYFRAME_CEILING}:" in x265[x265.index("-x265-params:v:1") + 1]
    assert _after(svt, "-force_key_frames:v:2", 2) == ["-force_key_frames:v:2", every_two_seconds]
    # Constant-rate rungs keep their fixed GOP in frames, as chunked encodes cut them.
    [fixed] = plan_ladder(_probed(), ["1080p"])
    assert "-force_key_frames:v:0" not in encoder._video_args(fixed, 1.0, ":0")


def test_an_hdr_source_is_tone_mapped_once_before_the_ladder_splits() -> None:
    encoder = FfmpegEncoder()
    [rung] = plan_ladder(_probed(), ["1080p"])

    graph = encoder._ladder_input(Path("source.mp4"), [rung], picture=tone_map_filters(ToneMap("pq")))[-1]
    decoded, _, rungs = graph.partition(",split=1")

    assert decoded.startswith("[0:v:0]scale=in_color_matrix=bt2020nc,format=gbrpf32le,lut3d=file='")
    assert "pq-1000-33.cube':interp=tetrahedral,colorchannelmixer=rr=1.660491:rg=-0.587641:" in decoded
    assert "bt1886-16384.cube',setparams=color_primaries=bt709:color_trc=bt709," in decoded
    assert decoded.endswith("format=yuv420p,setparams=colorspace=bt709:range=tv")
    assert "lut3d" not in rungs
    lut = Path(decoded.split("file='")[1].split("'")[0])
    assert lut.read_text().startswith('TITLE "PQ BT.2020 (1000 cd/m2) tone-mapped, linear"\nLUT_3D_SIZE 33\n')
    assert "format=yuv420p,split" in encoder._ladder_input(Path("source.mp4"), [rung])[-1]


def _after(argv: list[str], option: str, count: int) -> list[str]:
    at = argv.index(option)
    return argv[at : at + count]


def test_luts_cleaned_away_under_a_running_process_are_written_again() -> None:
    first = _lut_paths(tone_map_filters(ToneMap("hlg")))
    shutil.rmtree(first[0].parent)

    again = _lut_paths(tone_map_filters(ToneMap("hlg")))

    assert again[0].parent != first[0].parent
    assert all(path.read_text().startswith("TITLE ") for path in again)


def _lut_paths(filters: str) -> list[Path]:
    return [Path(part.split("'")[0]) for part in filters.split("file='")[1:]]
