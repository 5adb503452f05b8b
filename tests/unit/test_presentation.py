"""The presentation's names and its playlists' type: EVENT while it grows, VOD once it ended."""

from __future__ import annotations

import m3u8

from videoforge.transcoder.domain.presentation import PresentationLayout, marked_playlist, stream_files

GROWING = """#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:1
#EXT-X-MAP:URI="0/init.mp4"
#EXTINF:2.000000,
0/1.m4s
"""


def test_a_growing_playlist_is_an_event_playlist() -> None:
    playlist = m3u8.loads(marked_playlist(GROWING))

    assert playlist.playlist_type == "event"
    assert not playlist.is_endlist


def test_an_ended_playlist_is_on_demand_and_keeps_its_segments() -> None:
    ended = marked_playlist(marked_playlist(GROWING) + "#EXTINF:1.5,\n0/2.m4s\n#EXT-X-ENDLIST\n")

    playlist = m3u8.loads(ended)
    assert playlist.playlist_type == "vod" and playlist.is_endlist
    assert ended.count("#EXT-X-PLAYLIST-TYPE") == 1
    assert stream_files(ended) == ["0/init.mp4", "0/1.m4s", "0/2.m4s"]


def test_a_master_playlist_is_left_as_it_is() -> None:
    master = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360\nmedia_0.m3u8\n"

    assert marked_playlist(master) == master


def test_manifests_come_after_the_playlists_they_name_and_carry_their_kinds() -> None:
    layout = PresentationLayout(("720p", "360p"), has_audio=True)

    listed = [(m.relative, m.kind, m.quality) for m in layout.manifests()]
    assert listed == [
        ("media_0.m3u8", "HLS_PLAYLIST", "720p"),
        ("media_1.m3u8", "HLS_PLAYLIST", "360p"),
        ("media_2.m3u8", "", ""),
        ("master.m3u8", "HLS_MASTER", ""),
        ("manifest.mpd", "DASH_MANIFEST", ""),
    ]
    assert layout.segment_folders() == ["0", "1", "2"]


def test_only_whole_segments_count() -> None:
    layout = PresentationLayout(("360p",), has_audio=False)

    assert layout.whole_segments("0", ["init.mp4", "1.m4s.tmp"]) == [], "the init segment may still be empty"
    assert layout.whole_segments("0", ["init.mp4", "1.m4s", "2.m4s.tmp"]) == ["0/init.mp4", "0/1.m4s"]
