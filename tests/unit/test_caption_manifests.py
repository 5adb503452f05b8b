"""A video's captions join its master playlist (a SUBTITLES group) and its MPD (text adaptation sets)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import m3u8

from videoforge.published_captions import PublishedCaption, index_document, read_index
from videoforge.streaming.domain.caption_manifests import dash_with_captions, hls_with_captions
from videoforge.streaming.domain.manifests import rewrite_dash, rewrite_hls

MPD = "{urn:mpeg:dash:schema:mpd:2011}"
MASTER = """#EXTM3U
#EXT-X-MEDIA:TYPE=AUDIO,URI="audio.m3u8",GROUP-ID="audio",NAME="audio"
#EXT-X-STREAM-INF:BANDWIDTH=900000,RESOLUTION=640x360,CODECS="avc1.64001f,mp4a.40.2",AUDIO="audio"
360p.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=400000,RESOLUTION=426x240,CODECS="avc1.64001f,mp4a.40.2",AUDIO="audio"
240p.m3u8
"""
MANIFEST = """<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT4S">
  <Period id="0">
    <AdaptationSet id="0" contentType="video"><Representation id="0" bandwidth="1">
      <SegmentTemplate initialization="360p/init.mp4" media="360p/$Number$.m4s"/></Representation></AdaptationSet>
    <AdaptationSet id="1" contentType="audio"><Representation id="1" bandwidth="1">
      <SegmentTemplate initialization="audio/init.mp4" media="audio/$Number$.m4s"/></Representation></AdaptationSet>
  </Period>
</MPD>"""
TEXT_SET = (
    '<AdaptationSet xmlns="urn:mpeg:dash:schema:mpd:2011" id="0" contentType="text" lang="en">'
    '<Role schemeIdUri="urn:mpeg:dash:role:2011" value="subtitle"/>'
    '<Representation id="0" bandwidth="420" mimeType="text/vtt">'
    '<SegmentTemplate timescale="1000" media="captions/{c}/webvtt/$Number$.vtt" startNumber="1"/>'
    "</Representation></AdaptationSet>"
)
CAPTIONS = [
    PublishedCaption("c1", "en", "English", "captions/c1/webvtt/playlist.m3u8", TEXT_SET.format(c="c1")),
    PublishedCaption("c2", "fr", "Français", "captions/c2/webvtt/playlist.m3u8", TEXT_SET.format(c="c2")),
]
PATH = "jobs/j/attempt-1/master.m3u8"


def sign(path: str) -> str:
    return f"https://cdn/{path}?sig=1"


def test_master_lists_a_subtitles_rendition_per_caption_and_every_variant_names_the_group() -> None:
    playlist = m3u8.loads(hls_with_captions(MASTER, PATH, CAPTIONS))
    subtitles = [m for m in playlist.media if m.type == "SUBTITLES"]
    assert [(m.language, m.name, m.group_id) for m in subtitles] == [
        ("en", "English", "subtitles"),
        ("fr", "Français", "subtitles"),
    ]
    assert [p.stream_info.subtitles for p in playlist.playlists] == ["subtitles", "subtitles"]
    signed = m3u8.loads(rewrite_hls(hls_with_captions(MASTER, PATH, CAPTIONS), PATH, sign))
    assert sign("captions/c1/webvtt/playlist.m3u8") in [m.uri for m in signed.media]


def test_media_playlists_and_videos_without_captions_are_left_alone() -> None:
    assert hls_with_captions(MASTER, PATH, []) == MASTER
    media = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n1.m4s\n#EXT-X-ENDLIST\n"
    assert hls_with_captions(media, "jobs/j/attempt-1/360p.m3u8", CAPTIONS) == media


def test_mpd_gets_a_text_adaptation_set_per_caption_with_its_language_and_label() -> None:
    text = rewrite_dash(
        dash_with_captions(MANIFEST, "jobs/j/attempt-1/manifest.mpd", CAPTIONS), "jobs/j/attempt-1/manifest.mpd", sign
    )
    sets = ET.fromstring(text).findall(f"{MPD}Period/{MPD}AdaptationSet")
    texts = [s for s in sets if s.get("contentType") == "text"]
    assert [(s.get("id"), s.get("lang"), s.findtext(f"{MPD}Label")) for s in texts] == [
        ("2", "en", "English"),
        ("3", "fr", "Français"),
    ]
    template = texts[0].find(f"{MPD}Representation/{MPD}SegmentTemplate")
    assert template is not None and template.get("media") == sign("captions/c1/webvtt/$Number$.vtt")


def test_the_index_reads_back_what_was_written_and_skips_incomplete_entries() -> None:
    assert read_index(index_document(CAPTIONS)) == CAPTIONS
    assert read_index(b'{"captions": [{"id": "x"}]}') == []
