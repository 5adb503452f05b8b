"""Stored manifests come back with every child URI carrying the grant, and nothing escapes the output set."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import m3u8
import pytest

from videoforge.streaming.domain.manifests import rewrite_dash, rewrite_hls


def sign(path: str) -> str:
    return f"https://cdn/{path}?sig=1"


MASTER = """#EXTM3U
#EXT-X-MEDIA:TYPE=AUDIO,URI="audio.m3u8",GROUP-ID="audio",NAME="audio"
#EXT-X-STREAM-INF:BANDWIDTH=900000,RESOLUTION=640x360,CODECS="avc1.64001f,mp4a.40.2",AUDIO="audio"
360p.m3u8
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=90000,URI="360p-iframes.m3u8"
"""
MEDIA = """#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:2
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-MAP:URI="360p/init.mp4"
#EXTINF:2,
360p/1.m4s
#EXTINF:2,
360p/2.m4s
#EXT-X-ENDLIST
"""


def test_master_playlist_children_are_all_signed() -> None:
    rewritten = m3u8.loads(rewrite_hls(MASTER, "jobs/j/attempt-1/master.m3u8", sign))
    uris = [p.uri for p in rewritten.playlists] + [p.uri for p in rewritten.iframe_playlists]
    uris += [m.uri for m in rewritten.media]
    assert uris == [sign("jobs/j/attempt-1/360p.m3u8"), sign("jobs/j/attempt-1/360p-iframes.m3u8"),
                    sign("jobs/j/attempt-1/audio.m3u8")]  # fmt: skip


def test_media_playlist_signs_segments_and_the_init_section() -> None:
    text = rewrite_hls(MEDIA, "jobs/j/attempt-1/360p.m3u8", sign)
    assert '#EXT-X-MAP:URI="https://cdn/jobs/j/attempt-1/360p/init.mp4?sig=1"' in text
    assert [s.uri for s in m3u8.loads(text).segments] == [sign("jobs/j/attempt-1/360p/1.m4s"),
                                                          sign("jobs/j/attempt-1/360p/2.m4s")]  # fmt: skip


def test_children_outside_the_output_set_are_refused() -> None:
    escaping = MEDIA.replace("360p/1.m4s", "../../../../other-video/secret.m4s")
    with pytest.raises(ValueError, match="leaves the output set"):
        rewrite_hls(escaping, "jobs/j/attempt-1/360p.m3u8", sign)
    with pytest.raises(ValueError, match="leaves the output set"):
        rewrite_hls(MEDIA.replace("360p/1.m4s", "https://elsewhere/x.m4s"), "jobs/j/attempt-1/360p.m3u8", sign)


def test_dash_templates_keep_their_number_placeholder() -> None:
    mpd = """<?xml version="1.0"?><MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static"><Period><AdaptationSet>
    <Representation id="0"><SegmentTemplate initialization="360p/init.mp4" media="360p/$Number$.m4s"/>
    </Representation></AdaptationSet></Period></MPD>"""
    root = ET.fromstring(rewrite_dash(mpd, "jobs/j/attempt-1/manifest.mpd", sign))
    template = next(root.iter("{urn:mpeg:dash:schema:mpd:2011}SegmentTemplate"))
    assert template.get("media") == sign("jobs/j/attempt-1/360p/$Number$.m4s")
    assert template.get("initialization") == sign("jobs/j/attempt-1/360p/init.mp4")
