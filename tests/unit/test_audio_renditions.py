"""Every audio track of a source: read from ffprobe's report (language as BCP 47, title, channels), planned as
renditions (stereo each, 5.1 when asked for), and named in the HLS master and the MPD the muxer wrote."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import m3u8
import pytest

from videoforge.published_captions import PublishedCaption
from videoforge.streaming.domain.caption_manifests import dash_with_captions, hls_with_captions
from videoforge.transcoder.domain.audio_renditions import AudioRendition, plan_audio
from videoforge.transcoder.domain.languages import bcp47, language_name
from videoforge.transcoder.domain.media import AudioTrack, parse_ffprobe
from videoforge.transcoder.domain.presentation import (
    PresentationLayout,
    master_with_audio_names,
    mpd_with_audio_labels,
)

DASH = "{urn:mpeg:dash:schema:mpd:2011}"
VIDEO = {"index": 0, "codec_type": "video", "codec_name": "h264", "width": 640, "height": 360, "avg_frame_rate": "25/1"}


def _report(*audio: dict[str, Any]) -> dict[str, Any]:
    streams = [VIDEO, *({"index": i + 1, "codec_type": "audio"} | a for i, a in enumerate(audio))]
    return {"streams": streams, "format": {"format_name": "matroska,webm", "duration": "4.0"}}


def test_each_decodable_audio_stream_is_read_with_its_language_title_and_channels() -> None:
    info = parse_ffprobe(
        _report(
            {"codec_name": "aac", "channels": 1, "channel_layout": "mono", "tags": {"language": "eng"}},
            {"codec_name": None, "channels": 2},  # no decoder: skipped, but it still counts for `0:a:N`
            {"codec_name": "ac3", "channels": 6, "channel_layout": "5.1(side)", "tags": {"language": "fre"}},
            {"codec_name": "opus", "channels": 2, "tags": {"title": "Director's commentary"}},
        )
    )

    assert info.audio_tracks == (
        AudioTrack(position=0, codec="aac", channels=1, channel_layout="mono", language="en"),
        AudioTrack(position=2, codec="ac3", channels=6, channel_layout="5.1(side)", language="fr"),
        AudioTrack(position=3, codec="opus", channels=2, title="Director's commentary"),
    )
    assert info.has_audio and info.audio_codec == "aac"
    assert [track.surround for track in info.audio_tracks] == [False, True, False]


def test_a_source_without_audio_has_no_tracks() -> None:
    info = parse_ffprobe(_report())

    assert info.audio_tracks == () and not info.has_audio


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("eng", "en"),
        ("fre", "fr"),
        ("fra", "fr"),
        ("GER", "de"),
        ("en", "en"),
        ("en_us", "en-US"),
        ("zh-hant", "zh-Hant"),
        ("tlh", "tlh"),  # no 2-letter code: the 3-letter one is a valid tag
        ("und", "und"),
        ("", "und"),
        ('en",DEFAULT=YES', "und"),
        ("english", "und"),
    ],
)
def test_container_language_tags_become_bcp47(tag: str, expected: str) -> None:
    assert bcp47(tag) == expected


def test_language_names_come_from_the_primary_subtag() -> None:
    assert (language_name("en-US"), language_name("fr"), language_name("und")) == ("English", "French", None)


def test_every_track_gets_a_stereo_rendition_named_by_title_language_or_number() -> None:
    tracks = [
        AudioTrack(position=0, codec="aac", channels=1, language="en"),
        AudioTrack(position=1, codec="aac", channels=6, language="fr", title='  Version\nfrançaise "VF" '),
        AudioTrack(position=2, codec="aac", channels=2),
        AudioTrack(position=3, codec="aac", channels=2, language="en"),
    ]

    planned = plan_audio(tracks, surround=False)

    assert planned == (
        AudioRendition(source=0, channels=2, bitrate_kbps=128, language="en", name="English"),
        AudioRendition(source=1, channels=2, bitrate_kbps=128, language="fr", name="Version française VF"),
        AudioRendition(source=2, channels=2, bitrate_kbps=128, language="und", name="Audio 3"),
        AudioRendition(source=3, channels=2, bitrate_kbps=128, language="en", name="English 4"),
    )


def test_surround_adds_a_5_1_rendition_after_the_stereo_one_of_each_surround_track() -> None:
    tracks = [
        AudioTrack(position=0, codec="aac", channels=2, language="en"),
        AudioTrack(position=1, codec="ac3", channels=6, language="de"),
    ]

    planned = plan_audio(tracks, surround=True)

    assert [(r.source, r.channels, r.bitrate_kbps, r.name) for r in planned] == [
        (0, 2, 128, "English"),
        (1, 2, 128, "German"),
        (1, 6, 384, "German (5.1)"),
    ]


ENGLISH = AudioRendition(source=0, channels=2, bitrate_kbps=128, language="en", name="English")
FRENCH = AudioRendition(source=1, channels=2, bitrate_kbps=128, language="fr", name="Français")
LAYOUT = PresentationLayout(("360p",), (ENGLISH, FRENCH))
# As FFmpeg 8.1's DASH muxer writes it for one rung and two audio streams.
MUXER_MASTER = """#EXTM3U
#EXT-X-VERSION:7
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="group_A1",NAME="audio_1",DEFAULT=YES,CHANNELS="2",URI="media_1.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="group_A1",NAME="audio_2",DEFAULT=NO,CHANNELS="2",URI="media_2.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=604422,RESOLUTION=640x360,CODECS="avc1.64001e,mp4a.40.2",AUDIO="group_A1"
media_0.m3u8
"""
MUXER_MPD = """<?xml version="1.0" encoding="utf-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT4.0S">
	<Period id="0" start="PT0.0S">
		<AdaptationSet id="0" contentType="video">
			<Representation id="0" mimeType="video/mp4" codecs="avc1.64001e" bandwidth="800000" />
		</AdaptationSet>
		<AdaptationSet id="1" contentType="audio" lang="en">
			<Representation id="1" mimeType="audio/mp4" codecs="mp4a.40.2" bandwidth="128000" />
		</AdaptationSet>
		<AdaptationSet id="2" contentType="audio" lang="fr">
			<Representation id="2" mimeType="audio/mp4" codecs="mp4a.40.2" bandwidth="128000" />
		</AdaptationSet>
	</Period>
</MPD>
"""
CAPTION_SET = (
    '<AdaptationSet xmlns="urn:mpeg:dash:schema:mpd:2011" id="0" contentType="text">'
    '<Representation id="0" bandwidth="420" mimeType="text/vtt">'
    '<SegmentTemplate timescale="1000" media="captions/c1/webvtt/$Number$.vtt" startNumber="1"/>'
    "</Representation></AdaptationSet>"
)


def test_the_master_names_each_audio_rendition_in_one_group_the_first_by_default() -> None:
    master = master_with_audio_names(MUXER_MASTER, LAYOUT)

    audio = m3u8.loads(master).media
    assert [(m.uri, m.group_id, m.language, m.name, m.default, m.autoselect, m.channels) for m in audio] == [
        ("media_1.m3u8", "group_A1", "en", "English", "YES", "YES", "2"),
        ("media_2.m3u8", "group_A1", "fr", "Français", "NO", "YES", "2"),
    ]
    assert master_with_audio_names(master, LAYOUT) == master, "naming them again changes nothing"
    assert master.endswith('AUDIO="group_A1"\nmedia_0.m3u8\n'), "the variants stay as the muxer wrote them"


def test_the_mpd_labels_each_audio_set_and_marks_the_first_the_main_one() -> None:
    mpd = ET.fromstring(mpd_with_audio_labels(MUXER_MPD, LAYOUT))

    sets = list(mpd.iter(f"{DASH}AdaptationSet"))
    assert [(s.get("lang"), s.findtext(f"{DASH}Label")) for s in sets] == [
        (None, None),
        ("en", "English"),
        ("fr", "Français"),
    ]
    assert [[child.tag.removeprefix(DASH) for child in s] for s in sets[1:]] == [
        ["Label", "Role", "Representation"],
        ["Label", "Representation"],
    ]
    role = sets[1].find(f"{DASH}Role")
    assert role is not None and role.attrib == {"schemeIdUri": "urn:mpeg:dash:role:2011", "value": "main"}


def test_captions_added_later_keep_every_audio_rendition() -> None:
    caption = PublishedCaption("c1", "de", "Deutsch", "captions/c1/webvtt/playlist.m3u8", CAPTION_SET)
    path = "jobs/j/attempt-1/master.m3u8"

    master = m3u8.loads(hls_with_captions(master_with_audio_names(MUXER_MASTER, LAYOUT), path, [caption]))
    mpd = ET.fromstring(dash_with_captions(mpd_with_audio_labels(MUXER_MPD, LAYOUT), path, [caption]))

    assert [(m.type, m.language, m.name, m.default) for m in master.media] == [
        ("AUDIO", "en", "English", "YES"),
        ("AUDIO", "fr", "Français", "NO"),
        ("SUBTITLES", "de", "Deutsch", "NO"),
    ]
    assert [(v.stream_info.audio, v.stream_info.subtitles) for v in master.playlists] == [("group_A1", "subtitles")]
    sets = [(s.get("id"), s.get("contentType"), s.get("lang")) for s in mpd.iter(f"{DASH}AdaptationSet")]
    assert sets == [("0", "video", None), ("1", "audio", "en"), ("2", "audio", "fr"), ("3", "text", "de")]
