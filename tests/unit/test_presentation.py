"""The presentation's names, its playlists' type (EVENT while it grows, VOD once it ended), and the I-frame
playlists of the ended one."""

from __future__ import annotations

import struct

import m3u8

from videoforge.transcoder.domain.audio_renditions import AudioRendition
from videoforge.transcoder.domain.keyframes import keyframe_range
from videoforge.transcoder.domain.presentation import (
    PresentationLayout,
    iframe_playlist,
    marked_playlist,
    master_with_iframes,
    stream_files,
)

STEREO = AudioRendition(source=0, channels=2, bitrate_kbps=128, language="en", name="English")
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


def test_a_growing_playlist_keeps_one_target_duration_from_its_first_half_second_segment() -> None:
    opening = GROWING.replace("#EXT-X-TARGETDURATION:2", "#EXT-X-TARGETDURATION:0").replace("2.000000", "0.500000")
    later = opening + "#EXTINF:0.5,\n0/2.m4s\n#EXTINF:2.002,\n0/3.m4s\n"

    # The muxer writes 0 (the longest segment so far, rounded), which players refuse; then 2.
    assert m3u8.loads(marked_playlist(opening)).target_duration == 2
    assert m3u8.loads(marked_playlist(later)).target_duration == 2
    # A segment longer than the GOP (keyframes by time, a slow frame) still fits it.
    assert m3u8.loads(marked_playlist(later + "#EXTINF:2.6,\n0/4.m4s\n")).target_duration == 3


def test_a_master_playlist_is_left_as_it_is() -> None:
    master = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360\nmedia_0.m3u8\n"

    assert marked_playlist(master) == master


def test_manifests_come_after_the_playlists_they_name_and_carry_their_kinds() -> None:
    layout = PresentationLayout(("720p", "360p"), (STEREO,))

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
    layout = PresentationLayout(("360p",))

    assert layout.whole_segments("0", ["init.mp4", "1.m4s.tmp"]) == [], "the init segment may still be empty"
    assert layout.whole_segments("0", ["init.mp4", "1.m4s", "2.m4s.tmp"]) == ["0/init.mp4", "0/1.m4s"]


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def _fragment(sample_sizes: list[int]) -> bytes:
    """styp, sidx, then a moof whose trun gives each sample's size and offsets data from the moof, then mdat."""
    tfhd = _box(b"tfhd", struct.pack(">II", 0x020038, 1) + struct.pack(">III", 512, 1000, 0))
    trun_fields = struct.pack(">IIiI", 0xA05, len(sample_sizes), 0, 0) + b"".join(
        struct.pack(">II", size, 0) for size in sample_sizes
    )
    moof_size = 8 + len(_box(b"mfhd", b"\0" * 8)) + 8 + len(tfhd) + 8 + len(trun_fields)
    data_offset = moof_size + 8  # past the moof and the mdat's header
    trun = _box(b"trun", trun_fields[:8] + struct.pack(">i", data_offset) + trun_fields[12:])
    moof = _box(b"moof", _box(b"mfhd", b"\0" * 8) + _box(b"traf", tfhd + trun))
    head = _box(b"styp", b"cmfs" * 2) + _box(b"sidx", b"\0" * 16)
    return head + moof + _box(b"mdat", b"\1" * sum(sample_sizes))


def test_a_segments_keyframe_runs_from_its_moof_to_the_end_of_its_first_sample() -> None:
    segment = _fragment([5000, 300, 200])
    moof_at = segment.index(b"moof") - 4

    offset, length = keyframe_range(segment)

    assert offset == moof_at
    assert segment[offset + length - 5000 - 8 : offset + length - 5000] == struct.pack(">I4s", 5508, b"mdat")


def test_an_ended_playlist_gets_an_i_frame_playlist_the_master_names() -> None:
    ended = marked_playlist(GROWING + "#EXTINF:1.5,\n0/2.m4s\n#EXT-X-ENDLIST\n")
    keyframes = {"0/1.m4s": (76, 5000), "0/2.m4s": (76, 4000)}

    iframes = m3u8.loads(iframe_playlist(ended, keyframes))
    master = m3u8.loads(
        master_with_iframes(
            '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,CODECS="avc1.64001e,mp4a.40.2"\n'
            "media_0.m3u8\n",
            {"media_0.m3u8": ("media_0-iframes.m3u8", 36000)},
        )
    )

    assert iframes.is_i_frames_only and iframes.is_endlist
    assert [(s.uri, s.byterange) for s in iframes.segments] == [("0/1.m4s", "5000@76"), ("0/2.m4s", "4000@76")]
    [listed] = master.iframe_playlists
    assert (listed.uri, listed.iframe_stream_info.codecs, listed.iframe_stream_info.bandwidth) == (
        "media_0-iframes.m3u8",
        "avc1.64001e",
        36000,
    )
