"""The rendition ladder: which rungs a source gets, at what size, bitrate and keyframe interval."""

from __future__ import annotations

from fractions import Fraction

import pytest

from videoforge.media_model import FORMAT_NAMES, MediaSummary, Rendition, UnknownFormat, parse_formats
from videoforge.transcoder.domain.ladder import FORMATS, Rung, plan_ladder
from videoforge.transcoder.domain.media import MediaInfo


def _source(
    width: int, height: int, fps: Fraction = Fraction(30), *, rotation: int = 0, sar: Fraction = Fraction(1)
) -> MediaInfo:
    return MediaInfo(
        container="mov,mp4,m4a,3gp,3g2,mj2",
        duration_seconds=3.0,
        width=width,
        height=height,
        frame_rate_fraction=fps,
        video_codec="h264",
        rotation=rotation,
        sample_aspect_ratio=sar,
        audio_codec="aac",
    )


def _sizes(rungs: list[Rung]) -> list[tuple[str, int, int]]:
    return [(rung.name, rung.width, rung.height) for rung in rungs]


def test_a_1080p_source_gets_every_rung_up_to_1080p() -> None:
    rungs = plan_ladder(_source(1920, 1080))

    assert _sizes(rungs) == [
        ("1080p", 1920, 1080),
        ("720p", 1280, 720),
        ("480p", 854, 480),
        ("360p", 640, 360),
    ]
    assert [rung.video_kbps for rung in rungs] == [5000, 2800, 1400, 800]


def test_a_4k_source_gets_the_whole_ladder() -> None:
    assert [rung.name for rung in plan_ladder(_source(3840, 2160))] == ["4K", "1080p", "720p", "480p", "360p"]


def test_rate_control_follows_the_video_bitrate() -> None:
    rung = plan_ladder(_source(1920, 1080), ["1080p"])[0]

    assert (rung.video_kbps, rung.maxrate_kbps, rung.bufsize_kbps) == (5000, 7500, 10000)


def test_tiny_source_gets_one_rung_at_its_own_size() -> None:
    rungs = plan_ladder(_source(176, 144))

    assert _sizes(rungs) == [("144p", 176, 144)]


def test_odd_sized_tiny_source_is_rounded_down_to_even_never_up() -> None:
    assert _sizes(plan_ladder(_source(175, 143))) == [("142p", 174, 142)]


def test_tiny_source_gets_its_own_size_even_when_larger_formats_are_requested() -> None:
    assert _sizes(plan_ladder(_source(176, 144), ["1080p", "360p"])) == [("144p", 176, 144)]


def test_wide_640x272_source_gets_one_rung_at_its_own_size_named_360p() -> None:
    assert _sizes(plan_ladder(_source(640, 272))) == [("360p", 640, 272)]


def test_wide_film_keeps_its_aspect_ratio_with_even_sizes() -> None:
    rungs = plan_ladder(_source(1920, 800))

    assert _sizes(rungs) == [
        ("1080p", 1920, 800),
        ("720p", 1280, 534),
        ("480p", 854, 356),
        ("360p", 640, 266),
    ]
    assert all(rung.width % 2 == 0 and rung.height % 2 == 0 for rung in rungs)
    assert rungs[0].video_kbps == round(5000 * 800 / 1080)


def test_portrait_source_compares_its_short_side() -> None:
    rungs = plan_ladder(_source(1080, 1920))

    assert _sizes(rungs) == [
        ("1080p", 1080, 1920),
        ("720p", 720, 1280),
        ("480p", 480, 854),
        ("360p", 360, 640),
    ]


def test_rotated_phone_video_is_planned_by_its_display_size() -> None:
    rungs = plan_ladder(_source(1920, 1080, rotation=90))

    assert _sizes(rungs)[0] == ("1080p", 1080, 1920)


def test_anamorphic_source_is_planned_by_its_display_aspect() -> None:
    rungs = plan_ladder(_source(720, 480, sar=Fraction(32, 27)))

    assert _sizes(rungs) == [("480p", 852, 480), ("360p", 640, 360)]


def test_4_3_source_keeps_its_height_and_gets_a_proportional_bitrate() -> None:
    rung = plan_ladder(_source(1440, 1080))[0]

    assert (rung.name, rung.width, rung.height, rung.video_kbps) == ("1080p", 1440, 1080, 3750)


def test_a_source_between_rungs_is_never_upscaled() -> None:
    assert [rung.height for rung in plan_ladder(_source(1000, 562))] == [480, 360]


@pytest.mark.parametrize(
    ("fps", "gop"),
    [
        (Fraction(30000, 1001), 60),
        (Fraction(25), 50),
        (Fraction(60), 120),
        (Fraction(24000, 1001), 48),
        (Fraction(63, 5), 26),
    ],
)
def test_gop_is_at_least_two_seconds_of_frames_at_the_source_rate(fps: Fraction, gop: int) -> None:
    rungs = plan_ladder(_source(1280, 720, fps))

    assert {rung.gop_frames for rung in rungs} == {gop}


def test_aliases_name_their_formats() -> None:
    assert parse_formats(["mobile", "high", "medium", "low"]) == ["1080p", "720p", "480p", "360p"]


def test_format_names_are_matched_in_any_case_and_repeats_collapse() -> None:
    assert parse_formats(["4k", "1080P", "high", " 720p "]) == ["4K", "1080p", "720p"]


def test_an_unknown_format_is_named_with_the_allowed_ones() -> None:
    with pytest.raises(UnknownFormat) as error:
        parse_formats(["720p", "ultra"])

    assert error.value.value == "ultra"
    assert str(error.value) == (
        "Unknown format 'ultra'; allowed: 4K, 1080p, 720p, 480p, 360p, high, medium, low, mobile"
    )


def test_requested_formats_pick_their_rungs() -> None:
    assert [rung.name for rung in plan_ladder(_source(1920, 1080), ["mobile", "720p"])] == ["720p", "360p"]


def test_requested_formats_above_the_source_are_dropped() -> None:
    assert [rung.name for rung in plan_ladder(_source(1280, 720), ["4K", "480p"])] == ["480p"]


def test_when_every_requested_format_is_above_the_source_its_largest_rung_is_used() -> None:
    assert _sizes(plan_ladder(_source(1280, 720), ["4K", "high"])) == [("720p", 1280, 720)]


def test_no_requested_formats_means_every_rung_that_fits() -> None:
    assert plan_ladder(_source(1280, 720), []) == plan_ladder(_source(1280, 720), None)


def test_the_ladder_has_one_row_per_format_name_clients_may_ask_for() -> None:
    assert tuple(fmt.name for fmt in FORMATS) == FORMAT_NAMES


def test_stored_media_reads_back_typed_whatever_wrote_it() -> None:
    stored = {"width": 640, "height": 360, "bitrate": "1200000", "has_audio": True, "added_later": 1}
    summary = MediaSummary.from_fields(stored)
    assert (summary.width, summary.bitrate, summary.has_audio) == (640, 1_200_000, True)
    assert MediaSummary.from_fields(summary.as_fields()) == summary
    rendition = Rendition.from_fields({"name": "720p", "width": 1280, "bitrate": "2800000"})
    assert rendition == Rendition("720p", 1280, 0, 2_800_000, "")
