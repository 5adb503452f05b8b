"""The growing presentation with real FFmpeg: one decode writes every rung's CMAF segments, each state handed
to the sink lists only whole segments, the set plays before the encode ends (EVENT playlists, a dynamic MPD),
and ends as an on-demand presentation of the same segments (ENDLIST, a static MPD)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import m3u8
import pytest

from tests.decoding import DASH, dash_segments, segment_lengths
from tests.media_factory import MediaFactory
from videoforge.transcoder.adapters.ffmpeg import FfmpegEncoder
from videoforge.transcoder.domain.audio_renditions import AudioRendition
from videoforge.transcoder.domain.media import MediaLimits
from videoforge.transcoder.domain.presentation import (
    PresentationLayout,
    PresentationSink,
    PresentationSnapshot,
    stream_files,
)
from videoforge.transcoder.live_presentation import read_snapshot
from videoforge.transcoder.pipeline import MediaPipeline


class RecordingSink(PresentationSink):
    def __init__(self) -> None:
        self.snapshots: list[PresentationSnapshot] = []
        # What was kept ahead of the rest, and its size then.
        self.kept: dict[str, int] = {}

    async def publish(self, snapshot: PresentationSnapshot) -> None:
        self.snapshots.append(snapshot)

    async def keep(self, path: Path, relative: str) -> None:
        self.kept[relative] = path.stat().st_size


@pytest.fixture(scope="module")
async def recorded(media_factory: MediaFactory, tmp_path_factory: pytest.TempPathFactory) -> RecordingSink:
    sink = RecordingSink()
    pipeline = MediaPipeline(FfmpegEncoder(), MediaLimits())
    source = await media_factory.hd_with_audio(seconds=6)
    await pipeline.transcode(
        source, tmp_path_factory.mktemp("live"), formats=["720p", "360p"], on_progress=lambda _: None, sink=sink
    )
    return sink


def _manifest(snapshot: PresentationSnapshot, name: str) -> str:
    return next(data for manifest, data in snapshot.manifests if manifest.relative == name).decode()


def _mpd(snapshot: PresentationSnapshot) -> ET.Element:
    return ET.fromstring(_manifest(snapshot, "manifest.mpd"))


def _dash_segments(mpd: ET.Element) -> list[str]:
    return [segment for rep in mpd.iter(f"{DASH}Representation") for segment in dash_segments(rep)[1]]


async def test_the_presentation_plays_before_the_encode_ends(recorded: RecordingSink) -> None:
    growing = [s for s in recorded.snapshots if s.playable and not s.final]

    assert growing, "some state before the last was already playable"
    first = growing[0]
    for playlist in ("media_0.m3u8", "media_1.m3u8", "media_2.m3u8"):
        parsed = m3u8.loads(_manifest(first, playlist))
        assert parsed.playlist_type == "event" and not parsed.is_endlist and parsed.segments
    assert _mpd(first).get("type") == "dynamic"
    assert [v.stream_info.resolution for v in m3u8.loads(_manifest(first, "master.m3u8")).playlists] == [
        (1280, 720),
        (640, 360),
    ]


async def test_every_state_lists_only_segments_already_whole(recorded: RecordingSink) -> None:
    for snapshot in recorded.snapshots:
        whole = set(snapshot.segments)
        for manifest, data in snapshot.manifests:
            if manifest.relative.startswith("media_"):
                assert set(stream_files(data.decode())) <= whole
        if snapshot.manifests:
            assert set(_dash_segments(_mpd(snapshot))) <= whole


async def test_the_last_state_is_on_demand_over_the_same_segments(recorded: RecordingSink) -> None:
    final = recorded.snapshots[-1]
    earlier = [s for s in recorded.snapshots if s.playable and not s.final]

    assert final.final and final.playable
    mpd = _mpd(final)
    assert mpd.get("type") == "static" and mpd.get("mediaPresentationDuration")
    counts = []
    for stream in range(3):
        playlist = m3u8.loads(_manifest(final, f"media_{stream}.m3u8"))
        assert playlist.playlist_type == "vod" and playlist.is_endlist
        counts.append(len(playlist.segments))
    assert counts[0] == counts[1] == len(segment_lengths(6)), "6 s in segments, the rungs' keyframes aligned"
    # What a player already fetched keeps its name and place: the final set only adds.
    for snapshot in earlier:
        for stream in range(3):
            before = stream_files(_manifest(snapshot, f"media_{stream}.m3u8"))
            after = stream_files(_manifest(final, f"media_{stream}.m3u8"))
            assert after[: len(before)] == before
    assert all((final.output_dir / segment).stat().st_size > 0 for segment in final.segments)
    # Trick play: each rung's keyframes by byte range, from the segments' own fragments.
    master = m3u8.loads(_manifest(final, "master.m3u8"))
    assert [p.uri for p in master.iframe_playlists] == ["media_0-iframes.m3u8", "media_1-iframes.m3u8"]
    for stream in range(2):
        iframes = m3u8.loads(_manifest(final, f"media_{stream}-iframes.m3u8"))
        assert len(iframes.segments) == len(segment_lengths(6))
        for segment in iframes.segments:
            length, offset = map(int, segment.byterange.split("@"))
            data = (final.output_dir / segment.uri).read_bytes()
            assert data[offset + 4 : offset + 8] == b"moof" and offset + length < len(data)


def test_a_state_read_before_the_encode_made_its_folders_is_empty(tmp_path: Path) -> None:
    layout = PresentationLayout(("360p",), (AudioRendition(0, 2, 128, "und", "Audio 1"),))

    state = read_snapshot(layout, tmp_path, [], final=False)

    assert (state.segments, state.manifests, state.playable) == ([], [], False)


async def test_each_download_is_handed_on_whole_before_the_transcode_returns(recorded: RecordingSink) -> None:
    downloads = recorded.snapshots[-1].output_dir / "downloads"
    assert recorded.kept == {
        f"downloads/{rung}.mp4": (downloads / f"{rung}.mp4").stat().st_size for rung in ("720p", "360p")
    }
