"""What a source is and whether we take it: refusal by first bytes, ffprobe reports, limits."""

from __future__ import annotations

import json
from fractions import Fraction
from typing import Any

import pytest

from videoforge.transcoder.domain.errors import UnsupportedMedia
from videoforge.transcoder.domain.media import (
    AudioTrack,
    MediaInfo,
    MediaLimits,
    parse_ffprobe,
    sniff_refusal,
    validate,
)

MP4_HEAD = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41\x00\x00\x00\x08free"
MKV_HEAD = b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04"
TS_HEAD = b"\x47\x40\x00\x10\x00\x00\xb0\x0d\x00\x01\xc1\x00\x00\x00\x01\xf0\x00" + b"\xff" * 171


@pytest.mark.parametrize(
    ("first_bytes", "reason"),
    [
        (b"", "The file is empty"),
        (b"#EXTM3U\n#EXTINF:10,\nfile:///etc/passwd\n", "The file is an HLS playlist, not a video"),
        (b"\xef\xbb\xbf  #extm3u\r\n", "The file is an HLS playlist, not a video"),
        (b'<?xml version="1.0"?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011">', "The file is a DASH manifest"),
        (b"ffconcat version 1.0\nfile '/etc/passwd'\n", "The file is an FFmpeg concat script, not a video"),
        (b"v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=x\r\nc=IN IP4 10.0.0.1\r\n", "The file is an SDP session"),
        (b"<!DOCTYPE html><html><body>Moved</body></html>", "The file is an HTML page, not a video"),
        (b'{"error": "AccessDenied"}', "The file is JSON text, not a video"),
        (b"Just some notes about my holiday\n", "The file is text, not a video"),
        ("Vidéo de vacances, été\n".encode(), "The file is text, not a video"),
    ],
)
def test_non_video_content_is_refused_by_its_first_bytes(first_bytes: bytes, reason: str) -> None:
    refusal = sniff_refusal(first_bytes)

    assert refusal is not None
    assert refusal.startswith(reason)


@pytest.mark.parametrize("first_bytes", [MP4_HEAD, MKV_HEAD, TS_HEAD, b"RIFF\x24\x00\x00\x00AVI LIST"])
def test_container_headers_pass_the_sniff(first_bytes: bytes) -> None:
    assert sniff_refusal(first_bytes) is None


def _report(**video: Any) -> dict[str, Any]:
    stream = {
        "index": 0,
        "codec_type": "video",
        "codec_name": "h264",
        "width": 1920,
        "height": 1080,
        "sample_aspect_ratio": "1:1",
        "avg_frame_rate": "30000/1001",
        "r_frame_rate": "30000/1001",
        "duration": "3.003000",
        "disposition": {"attached_pic": 0},
    } | video
    return {
        "streams": [stream, {"index": 1, "codec_type": "audio", "codec_name": "aac"}],
        "format": {
            "format_name": "mov,mp4,m4a,3gp,3g2,mj2",
            "duration": "3.003000",
            "size": "1234567",
            "bit_rate": "3289000",
        },
    }


def test_ffprobe_report_is_read_into_media_info() -> None:
    info = parse_ffprobe(json.loads(json.dumps(_report())))

    assert info == MediaInfo(
        container="mov,mp4,m4a,3gp,3g2,mj2",
        duration_seconds=3.003,
        width=1920,
        height=1080,
        frame_rate_fraction=Fraction(30000, 1001),
        video_codec="h264",
        audio_codec="aac",
        bitrate=3289000,
        size_bytes=1234567,
        stream_count=2,
        audio_tracks=(AudioTrack(position=0, codec="aac"),),
    )
    assert info.frame_rate == pytest.approx(29.97, abs=0.01)
    assert info.has_audio
    assert (info.display_width, info.display_height) == (1920, 1080)


def test_display_matrix_rotation_swaps_the_display_size() -> None:
    report = _report(side_data_list=[{"side_data_type": "Display Matrix", "rotation": -90}])

    info = parse_ffprobe(report)

    assert info.rotation == 270
    assert (info.display_width, info.display_height) == (1080, 1920)


def test_legacy_rotate_tag_is_honoured() -> None:
    assert parse_ffprobe(_report(tags={"rotate": "90"})).rotation == 90


def test_cover_art_is_not_taken_for_the_video_stream() -> None:
    report = _report()
    cover = {"codec_type": "video", "codec_name": "mjpeg", "width": 600, "height": 600}
    report["streams"].insert(0, cover | {"disposition": {"attached_pic": 1}})

    assert parse_ffprobe(report).video_codec == "h264"


def test_a_missing_average_frame_rate_falls_back_to_the_stream_rate() -> None:
    assert parse_ffprobe(_report(avg_frame_rate="0/0", r_frame_rate="25/1")).frame_rate_fraction == 25


def test_a_file_without_video_is_refused() -> None:
    report = _report()
    report["streams"] = report["streams"][1:]

    with pytest.raises(UnsupportedMedia, match="The file has no video stream"):
        parse_ffprobe(report)


def test_a_file_without_audio_has_no_audio_codec() -> None:
    report = _report()
    report["streams"] = report["streams"][:1]

    info = parse_ffprobe(report)

    assert info.audio_codec is None
    assert not info.has_audio


def test_a_file_without_a_duration_is_refused() -> None:
    report = _report(duration="N/A")
    del report["format"]["duration"]

    with pytest.raises(UnsupportedMedia, match="duration is unknown"):
        parse_ffprobe(report)


def test_a_header_claiming_100000_pixels_a_side_is_refused_with_the_limit() -> None:
    info = parse_ffprobe(_report(width=100000, height=100000, codec_name=None))

    with pytest.raises(UnsupportedMedia) as error:
        validate(info, MediaLimits())

    assert str(error.value) == "Resolution 100000x100000 is above the 8192-pixel limit"
    assert error.value.reason == "UNSUPPORTED_MEDIA"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"width": 8192, "height": 8192}, "Resolution 8192x8192 is above the 35.4-megapixel limit"),
        ({"width": 8, "height": 8}, "Resolution 8x8 is below the 16-pixel minimum"),
        ({"duration_seconds": 5 * 3600 + 1}, "Duration 5:00:01 is above the 4:00:00 limit"),
        ({"duration_seconds": 0.04}, "Duration 0.04 s is below the 0.5 s minimum"),
        ({"size_bytes": 21 * 1024**3}, "File size 21.0 GiB is above the 20.0 GiB limit"),
        ({"frame_rate_fraction": Fraction(480)}, "Frame rate 480.00 fps is above the 240 fps limit"),
        ({"video_codec": ""}, "The video stream's codec is not one we can decode"),
    ],
)
def test_sources_past_the_limits_are_refused_with_a_reason(changes: dict[str, Any], reason: str) -> None:
    fields = {
        "container": "matroska,webm",
        "duration_seconds": 3.0,
        "width": 1920,
        "height": 1080,
        "frame_rate_fraction": Fraction(30),
        "video_codec": "vp9",
    }
    info = MediaInfo(**(fields | changes))

    with pytest.raises(UnsupportedMedia) as error:
        validate(info, MediaLimits())

    assert str(error.value) == reason


def test_an_ordinary_source_is_within_the_limits() -> None:
    validate(parse_ffprobe(_report()), MediaLimits())


def test_a_sar_bomb_is_refused_by_the_size_the_decoder_makes_not_the_display_size() -> None:
    # 32768x2048 frames with 1:32 pixels display as 1024x2048, which looked harmless.
    info = parse_ffprobe(_report(width=32768, height=2048, sample_aspect_ratio="1:32"))

    assert (info.display_width, info.display_height) == (1024, 2048)
    with pytest.raises(UnsupportedMedia, match=r"^Resolution 32768x2048 is above the 8192-pixel limit$"):
        validate(info, MediaLimits())


def test_a_coded_size_larger_than_the_picture_counts() -> None:
    info = parse_ffprobe(_report(width=640, height=360, coded_width=16384, coded_height=16384))

    with pytest.raises(UnsupportedMedia, match=r"^Resolution 16384x16384 is above the 8192-pixel limit$"):
        validate(info, MediaLimits())


def test_pixels_stretched_past_the_limits_on_display_are_refused() -> None:
    info = parse_ffprobe(_report(width=1024, height=256, sample_aspect_ratio="32:1"))

    with pytest.raises(UnsupportedMedia, match=r"^Display size 32768x256 is above the 8192-pixel limit$"):
        validate(info, MediaLimits())


def test_the_pixel_rate_is_limited_as_well_as_the_size() -> None:
    info = parse_ffprobe(_report(width=7680, height=4320, avg_frame_rate="120/1", r_frame_rate="120/1"))

    with pytest.raises(UnsupportedMedia, match=r"^7680x4320 at 120\.00 fps is 3981 megapixels a second, above"):
        validate(info, MediaLimits())
    validate(parse_ffprobe(_report(width=3840, height=2160, avg_frame_rate="60/1")), MediaLimits())


def test_an_absurd_frame_rate_is_refused_by_the_limit_not_taken_for_unknown() -> None:
    info = parse_ffprobe(_report(avg_frame_rate="1000000/1", r_frame_rate="1000000/1"))

    with pytest.raises(UnsupportedMedia, match=r"^Frame rate 1000000\.00 fps is above the 240 fps limit$"):
        validate(info, MediaLimits())
    glitched = parse_ffprobe(_report(avg_frame_rate="90000/1", r_frame_rate="25/1"))
    assert glitched.frame_rate_fraction == 25


def test_a_file_of_a_thousand_streams_is_refused() -> None:
    report = _report()
    report["streams"] += [{"index": i, "codec_type": "audio", "codec_name": "pcm_s16le"} for i in range(2, 1000)]

    with pytest.raises(UnsupportedMedia, match=r"^The file has 1000 streams; at most 32 are accepted$"):
        validate(parse_ffprobe(report), MediaLimits())
