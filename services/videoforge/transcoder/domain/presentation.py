"""The presentation a transcode writes: one set of CMAF segments, described by an HLS master playlist with a
media playlist per stream and by a DASH MPD. Its file names live here, once.

The set grows while the encode runs: the media playlists are HLS EVENT playlists and the MPD is dynamic, so
players can start before the end. When the encode ends the same segments are described as on-demand
(`EXT-X-ENDLIST`, a static MPD), and a player that started on the growing set plays on to the end.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import m3u8

from videoforge.transcoder.domain.audio_renditions import AudioRendition
from videoforge.transcoder.domain.ladder import GOP_SECONDS, Rung

DASH_MANIFEST = "manifest.mpd"
MASTER_PLAYLIST = "master.m3u8"
# Streams are numbered in the order they are mapped: the rungs largest first, then the audio renditions.
INIT_TEMPLATE = "$RepresentationID$/init.mp4"  # INIT_SEGMENT in each stream's folder
SEGMENT_TEMPLATE = "$RepresentationID$/$Number$.m4s"
INIT_SEGMENT = "init.mp4"
# A media segment is written under this suffix and renamed once whole.
PARTIAL_SUFFIX = ".tmp"
_TARGET_DURATION = "#EXT-X-TARGETDURATION"
_PLAYLIST_TYPE = "#EXT-X-PLAYLIST-TYPE"
_ENDLIST = "#EXT-X-ENDLIST"
_SEGMENT_LENGTH = "#EXTINF:"
_AUDIO_MEDIA = "#EXT-X-MEDIA:TYPE=AUDIO,"
_ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')
_MPD_NS = "urn:mpeg:dash:schema:mpd:2011"
_MAIN_ROLE = (("schemeIdUri", "urn:mpeg:dash:role:2011"), ("value", "main"))


@dataclass(frozen=True)
class ManifestFile:
    """A manifest of the presentation: its path in the set, and the Asset kind and quality it is listed as."""

    relative: str
    kind: str = ""
    quality: str = ""


@dataclass(frozen=True)
class PresentationLayout:
    """Where each stream's segments and playlist go, for a ladder, its audio renditions (maybe none) and its rungs
    in other codecs (maybe none)."""

    rung_names: tuple[str, ...]
    audio: tuple[AudioRendition, ...] = ()
    # The ladder in HEVC and AV1 when asked for: numbered after the audio, so H.264 and audio keep their numbers.
    codec_rungs: tuple[Rung, ...] = ()
    master_playlist: str = MASTER_PLAYLIST
    dash_manifest: str = DASH_MANIFEST
    init_template: str = INIT_TEMPLATE
    segment_template: str = SEGMENT_TEMPLATE

    @classmethod
    def for_ladder(
        cls, rungs: list[Rung], audio: tuple[AudioRendition, ...], codec_rungs: Sequence[Rung] = ()
    ) -> PresentationLayout:
        return cls(tuple(rung.name for rung in rungs), audio, tuple(codec_rungs))

    @property
    def has_audio(self) -> bool:
        return bool(self.audio)

    @property
    def first_audio_stream(self) -> int:
        """The stream number of the first audio rendition: the default one, and the one downloads carry."""
        return len(self.rung_names)

    @property
    def first_codec_stream(self) -> int:
        """The stream number of the first rung in another codec than H.264."""
        return len(self.rung_names) + len(self.audio)

    @property
    def stream_count(self) -> int:
        return self.first_codec_stream + len(self.codec_rungs)

    def segment_folders(self) -> list[str]:
        return [str(stream) for stream in range(self.stream_count)]

    def media_playlist(self, stream: int) -> str:
        return f"media_{stream}.m3u8"

    def iframe_playlist(self, stream: int) -> str:
        return f"media_{stream}-iframes.m3u8"

    def manifests(self) -> list[ManifestFile]:
        """Every manifest, in the order they may be published: each one's children before it."""
        playlists = [
            ManifestFile(self.media_playlist(i), "HLS_PLAYLIST", name) for i, name in enumerate(self.rung_names)
        ]
        playlists += [ManifestFile(self.media_playlist(self.first_audio_stream + i)) for i in range(len(self.audio))]
        # Unlisted as assets: a quality's playlist (`?quality=`) stays the H.264 one, which every player decodes.
        playlists += [
            ManifestFile(self.media_playlist(self.first_codec_stream + i)) for i in range(len(self.codec_rungs))
        ]
        return [
            *playlists,
            ManifestFile(self.master_playlist, "HLS_MASTER"),
            ManifestFile(self.dash_manifest, "DASH_MANIFEST"),
        ]

    def whole_segments(self, folder: str, names: list[str]) -> list[str]:
        """Which of the files in a stream's folder are whole, as paths in the set: the media segments renamed
        into place, and the init segment once one of them is (the init segment is written in place, empty at
        first, before the first media segment)."""
        media = [name for name in names if name != INIT_SEGMENT and not name.endswith(PARTIAL_SUFFIX)]
        init = [INIT_SEGMENT] if media and INIT_SEGMENT in names else []
        return [f"{folder}/{name}" for name in init + media]


def marked_playlist(text: str) -> str:
    """A media playlist with its type said, EVENT while it grows, VOD once it has ended, and a target duration
    that never changes.

    HLS players read an EVENT playlist from its start and keep reloading it; the muxer writes no type. Its target
    duration is the longest segment so far, rounded: 0 while only the half-second opening segment is listed, which
    players refuse, and the target duration of a playlist must not change as it grows. So it is the GOP, or a
    longer segment's rounded length.
    """
    if _TARGET_DURATION not in text:
        return text  # a master playlist has no type
    ended = _ENDLIST in text
    lines = [line for line in text.splitlines() if not line.startswith(_PLAYLIST_TYPE)]
    at = next(i for i, line in enumerate(lines) if line.startswith(_TARGET_DURATION))
    lengths = [line.removeprefix(_SEGMENT_LENGTH).split(",")[0] for line in lines if line.startswith(_SEGMENT_LENGTH)]
    target = max([GOP_SECONDS, *(round(float(length)) for length in lengths)])
    lines[at : at + 1] = [f"{_TARGET_DURATION}:{target}", f"{_PLAYLIST_TYPE}:{'VOD' if ended else 'EVENT'}"]
    return "\n".join(lines) + "\n"


def master_with_audio_names(master: str, layout: PresentationLayout) -> str:
    """The master playlist with each audio rendition's LANGUAGE and NAME, the first one the default, and every one
    AUTOSELECT=YES (a player may pick one in the viewer's language). The muxer names them `audio_N`, writes no
    language and marks no rendition selectable automatically."""
    renditions = {layout.media_playlist(layout.first_audio_stream + i): r for i, r in enumerate(layout.audio)}
    lines = master.splitlines()
    for at, line in enumerate(lines):
        if not line.startswith(_AUDIO_MEDIA):
            continue
        attributes = dict(_ATTRIBUTE.findall(line.removeprefix("#EXT-X-MEDIA:")))
        rendition = renditions.get(attributes.get("URI", "").strip('"'))
        if rendition is None:
            continue
        default = "YES" if rendition is layout.audio[0] else "NO"
        attributes |= {
            "LANGUAGE": f'"{rendition.language}"',
            "NAME": f'"{rendition.name}"',
            "DEFAULT": default,
            "AUTOSELECT": "YES",
            "CHANNELS": f'"{rendition.channels}"',
        }
        order = ["TYPE", "GROUP-ID", "LANGUAGE", "NAME", "DEFAULT", "AUTOSELECT", "CHANNELS", "URI"]
        listed = [*order, *(name for name in attributes if name not in order)]
        lines[at] = "#EXT-X-MEDIA:" + ",".join(f"{name}={attributes[name]}" for name in listed if name in attributes)
    return "\n".join(lines) + "\n"


def mpd_with_audio_labels(mpd: str, layout: PresentationLayout) -> str:
    """The MPD with each audio rendition's AdaptationSet labelled with its name and language, and the first one's
    marked the main one (the DASH side of HLS's DEFAULT=YES). The muxer writes `lang` only."""
    ET.register_namespace("", _MPD_NS)
    root = ET.fromstring(mpd)
    renditions = {str(layout.first_audio_stream + i): r for i, r in enumerate(layout.audio)}
    for adaptation_set in root.iter(f"{{{_MPD_NS}}}AdaptationSet"):
        representation = adaptation_set.find(f"{{{_MPD_NS}}}Representation")
        if representation is None or adaptation_set.find(f"{{{_MPD_NS}}}Label") is not None:
            continue
        rendition = renditions.get(representation.get("id", ""))
        if rendition is None:
            continue
        adaptation_set.set("lang", rendition.language)
        label = ET.Element(f"{{{_MPD_NS}}}Label")
        label.text = rendition.name
        added = [label, *([ET.Element(f"{{{_MPD_NS}}}Role", dict(_MAIN_ROLE))] if rendition is layout.audio[0] else [])]
        for element in added:
            element.tail = adaptation_set.text  # the indentation the muxer gave the Representation
        # Just before the Representation: the schema puts Label, then Role, after any protection or properties.
        at = list(adaptation_set).index(representation)
        adaptation_set[at:at] = added
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def iframe_playlist(playlist: str, keyframes: dict[str, tuple[int, int]]) -> str:
    """The I-frame playlist of an ended media playlist: each segment's keyframe by its byte range, so players
    can scrub and fast-forward through keyframes only."""
    parsed = m3u8.loads(playlist)
    lines = ["#EXTM3U", "#EXT-X-VERSION:6", f"#EXT-X-TARGETDURATION:{parsed.target_duration}"]
    lines += ["#EXT-X-PLAYLIST-TYPE:VOD", "#EXT-X-I-FRAMES-ONLY"]
    if parsed.segment_map:
        lines.append(f'#EXT-X-MAP:URI="{parsed.segment_map[0].uri}"')
    for segment in parsed.segments:
        offset, length = keyframes[segment.uri]
        lines += [f"#EXTINF:{segment.duration:.6f},", f"#EXT-X-BYTERANGE:{length}@{offset}", segment.uri]
    return "\n".join([*lines, _ENDLIST]) + "\n"


def master_with_iframes(master: str, iframes: dict[str, tuple[str, int]]) -> str:
    """The master playlist naming each variant's I-frame playlist: variant URI -> (its URI, its bit rate)."""
    parsed = m3u8.loads(master)
    lines = [master.rstrip("\n")]
    for variant in parsed.playlists:
        if variant.uri not in iframes:
            continue
        uri, bandwidth = iframes[variant.uri]
        info = variant.stream_info
        width, height = info.resolution
        video_codec = next(codec for codec in (info.codecs or "").split(",") if codec.startswith("avc"))
        lines.append(
            f'#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH={bandwidth},RESOLUTION={width}x{height},CODECS="{video_codec}",'
            f'URI="{uri}"'
        )
    return "\n".join(lines) + "\n"


def segment_count(playlist: str) -> int:
    return len(m3u8.loads(playlist).segments)


def stream_files(playlist: str) -> list[str]:
    """The init segment and media segments a media playlist lists, in playing order."""
    parsed = m3u8.loads(playlist)
    init = [parsed.segment_map[0].uri] if parsed.segment_map else []
    return [*init, *(segment.uri for segment in parsed.segments)]


@dataclass(frozen=True)
class PresentationSnapshot:
    """What of a presentation is whole on disk at one moment: segments first, then manifests that list no
    other segment than those."""

    output_dir: Path
    segments: list[str]
    # (manifest, its bytes as published), in the order they may be published.
    manifests: list[tuple[ManifestFile, bytes]] = field(default_factory=list)
    # Every stream has a segment: a player can start.
    playable: bool = False
    # The encode has ended: the manifests are the on-demand ones.
    final: bool = False
    rungs: list[Rung] = field(default_factory=list)
    has_audio: bool = False
    codec_rungs: list[Rung] = field(default_factory=list)

    @property
    def renditions(self) -> list[Rung]:
        """Every video rendition, H.264 first: what the job reports."""
        return [*self.rungs, *self.codec_rungs]


class PresentationSink(ABC):
    """Where a transcode hands its presentation while it grows, to be published before the job completes."""

    @abstractmethod
    async def publish(self, snapshot: PresentationSnapshot) -> None:
        """Publishes what `snapshot` adds; raising stops the transcode."""

    @abstractmethod
    async def keep(self, path: Path, relative: str) -> None:
        """Stores a finished file of the output set (`relative` in it) ahead of the rest, while the transcode goes
        on; raising stops the transcode."""
