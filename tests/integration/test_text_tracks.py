"""The source's text tracks come out as WebVTT with their streams' tags, by real FFmpeg."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.media_factory import MediaFactory
from videoforge.published_captions import SOURCE_TRACKS_INDEX, read_source_tracks
from videoforge.transcoder.adapters.text_tracks import TextTrackExtractor

SRT = "1\n00:00:00,500 --> 00:00:01,500\n{text}\n"


@pytest.fixture
async def matroska_with_two_subrip_tracks(media_factory: MediaFactory, tmp_path: Path) -> Path:
    english, german = tmp_path / "en.srt", tmp_path / "de.srt"
    english.write_text(SRT.format(text="Hello <i>there</i>"))
    german.write_text(SRT.format(text="Guten Tag"))
    return await media_factory.render(
        tmp_path / "two-subs.mkv",
        ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10:duration=2", "-i", str(english), "-i", str(german),
         "-map", "0:v", "-map", "1:s", "-map", "2:s", "-c:v", "libx264", "-preset", "ultrafast", "-c:s", "srt",
         "-metadata:s:s:0", "language=eng", "-metadata:s:s:0", "title=English SDH",
         "-metadata:s:s:1", "language=ger"],
    )  # fmt: skip


async def test_each_subrip_track_of_a_matroska_source_becomes_webvtt_with_its_tags(
    matroska_with_two_subrip_tracks: Path, tmp_path: Path
) -> None:
    tracks = await TextTrackExtractor().extract(matroska_with_two_subrip_tracks, tmp_path / "out")
    assert [(t.file, t.language, t.title) for t in tracks] == [
        ("source-captions/1.vtt", "eng", "English SDH"),
        ("source-captions/2.vtt", "ger", ""),
    ]
    first = (tmp_path / "out" / tracks[0].file).read_text()
    assert first.startswith("WEBVTT") and "00:00.500 --> 00:01.500" in first and "Hello <i>there</i>" in first
    assert "Guten Tag" in (tmp_path / "out" / tracks[1].file).read_text()
    assert read_source_tracks((tmp_path / "out" / SOURCE_TRACKS_INDEX).read_bytes()) == tracks


async def test_a_source_without_text_tracks_leaves_nothing(media_factory: MediaFactory, tmp_path: Path) -> None:
    assert await TextTrackExtractor().extract(await media_factory.no_audio(), tmp_path / "out") == []
    assert not (tmp_path / "out").exists()
