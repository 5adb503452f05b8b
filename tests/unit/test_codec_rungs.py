"""Rungs in HEVC and AV1 beside H.264: their rates, their place in the presentation, the encoders' options, the
DASH adaptation sets and the codecs the job reports."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import m3u8

from videoforge.transcoder.adapters.ffmpeg import FfmpegEncoder, _adaptation_sets
from videoforge.transcoder.domain.audio_renditions import AudioRendition
from videoforge.transcoder.domain.ladder import Rung, codec_rungs
from videoforge.transcoder.domain.presentation import PresentationLayout, master_with_iframes
from videoforge.transcoder.entrypoints.media_proto import codecs_for

HD = Rung("1080p", 1920, 1080, 5000, 7500, 10000, 60)
SD = Rung("480p", 854, 480, 1400, 2100, 2800, 60)
STEREO = AudioRendition(source=0, channels=2, bitrate_kbps=128, language="en", name="English")


def test_another_codecs_rungs_keep_size_and_gop_at_a_share_of_the_bitrate() -> None:
    per_title = replace(SD, crf=23.5, video_kbps=900)

    hevc, av1 = codec_rungs([per_title], ["h264", "hevc", "av1"])

    assert (hevc.codec, hevc.name, hevc.width, hevc.height, hevc.gop_frames) == ("hevc", "480p", 854, 480, 60)
    assert (hevc.video_kbps, hevc.maxrate_kbps, hevc.bufsize_kbps) == (675, 1575, 2100)
    assert (av1.codec, av1.video_kbps, av1.maxrate_kbps) == ("av1", 675, 1575)
    # x264's constant-quality setting means nothing to the others: they encode to the expected bitrate.
    assert hevc.crf is None and av1.crf is None
    assert codec_rungs([HD, SD], ["h264"]) == []
    assert [(r.codec, r.name) for r in codec_rungs([HD, SD], ["h264", "av1", "hevc"])] == [
        ("av1", "1080p"), ("av1", "480p"), ("hevc", "1080p"), ("hevc", "480p"),
    ]  # fmt: skip


def test_other_codecs_streams_come_after_the_audio_and_only_h264_playlists_are_listed_by_quality() -> None:
    layout = PresentationLayout.for_ladder([HD, SD], (STEREO,), codec_rungs([HD, SD], ["h264", "av1"]))

    assert (layout.first_audio_stream, layout.first_codec_stream, layout.stream_count) == (2, 3, 5)
    assert layout.segment_folders() == ["0", "1", "2", "3", "4"]
    listed = [(m.relative, m.kind, m.quality) for m in layout.manifests()]
    assert listed[:2] == [("media_0.m3u8", "HLS_PLAYLIST", "1080p"), ("media_1.m3u8", "HLS_PLAYLIST", "480p")]
    assert listed[2:5] == [("media_2.m3u8", "", ""), ("media_3.m3u8", "", ""), ("media_4.m3u8", "", "")]


def test_each_codec_and_picture_shape_gets_its_own_adaptation_set_after_the_audio() -> None:
    uhd_shape = replace(HD, name="720p", width=1280, height=720)
    extra = codec_rungs([HD, uhd_shape, SD], ["h264", "hevc", "av1"])

    sets = _adaptation_sets([HD, uhd_shape, SD], 1, extra)

    # Video is cut at every keyframe (the keyframes say where segments start); the audio where the video is.
    cut = "seg_duration=0.1,"
    assert sets == (
        f"id=0,{cut}streams=0,1 id=1,{cut}streams=2 id=2,streams=3 "  # H.264 16:9, H.264 854x480, the audio
        f"id=3,{cut}streams=4,5 id=4,{cut}streams=6 id=5,{cut}streams=7,8 id=6,{cut}streams=9"  # HEVC, AV1
    )
    assert _adaptation_sets([HD, SD], 0) == f"id=0,{cut}streams=0 id=1,{cut}streams=1"


def test_the_encoders_of_other_codecs_share_the_h264_rungs_pictures_and_keyframes() -> None:
    encoder = FfmpegEncoder(cpu_count=4)
    extra = codec_rungs([HD, SD], ["h264", "hevc", "av1"])

    graph = encoder._ladder_input(Path("source.mp4"), [HD, SD], 3)[-1]
    args = encoder._codec_rungs_args([HD, SD], extra, total_work=1e9)

    # One decode, one scaling per rung, split once per codec.
    assert graph.count("[0:v:0]") == 1
    assert "scale=1920:1080,setsar=1,split=3[v0][v0c1][v0c2]" in graph
    assert "scale=854:480,setsar=1,split=3[v1][v1c1][v1c2]" in graph
    maps = [args[i + 1] for i, arg in enumerate(args) if arg == "-map"]
    assert maps == ["[v0c1]", "[v1c1]", "[v0c2]", "[v1c2]"]
    hevc = args[: args.index("-map", 1)]
    assert _option(hevc, "-c:v:2") == "libx265" and _option(hevc, "-tag:v:2") == "hvc1"
    assert _option(hevc, "-b:v:2") == "3750k" and _option(hevc, "-maxrate:v:2") == "5625k"
    assert "keyint=60:min-keyint=60:scenecut=0:open-gop=0" in _option(hevc, "-x265-params:v:2")
    assert "log-level=error" in _option(hevc, "-x265-params:v:2")
    assert _option(args, "-c:v:5") == "libsvtav1" and _option(args, "-b:v:5") == "1050k"
    assert _option(args, "-svtav1-params:v:5").startswith("keyint=60:scd=0")


def test_the_job_reports_each_renditions_own_codec() -> None:
    hevc, av1 = codec_rungs([HD], ["hevc", "av1"])

    assert codecs_for(HD, has_audio=True) == "avc1.640028,mp4a.40.2"
    assert codecs_for(hevc, has_audio=True) == "hvc1.1.6.L120.90,mp4a.40.2"
    assert codecs_for(av1, has_audio=False) == "av01.0.08M.08"


def test_trick_play_names_the_h264_variants_only() -> None:
    master = (
        "#EXTM3U\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,CODECS="avc1.64001e,mp4a.40.2"\nmedia_0.m3u8\n'
        '#EXT-X-STREAM-INF:BANDWIDTH=500000,RESOLUTION=640x360,CODECS="av01.0.01M.08,mp4a.40.2"\nmedia_2.m3u8\n'
    )

    parsed = m3u8.loads(master_with_iframes(master, {"media_0.m3u8": ("media_0-iframes.m3u8", 36000)}))

    assert [v.stream_info.codecs for v in parsed.playlists] == ["avc1.64001e,mp4a.40.2", "av01.0.01M.08,mp4a.40.2"]
    assert [(i.uri, i.iframe_stream_info.codecs) for i in parsed.iframe_playlists] == [
        ("media_0-iframes.m3u8", "avc1.64001e")
    ]


def _option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]
