"""Adds a video's captions to its stored HLS master playlist and DASH MPD, before they are signed.

Captions are packaged apart from the ladder (under `videos/{video}/captions/`), so one added or removed after the
transcode shows in the next signed manifest without touching the video's own files.
"""

from __future__ import annotations

import posixpath
import xml.etree.ElementTree as ET

import m3u8

from videoforge.published_captions import SUBTITLES_GROUP, PublishedCaption

_MPD_NS = "urn:mpeg:dash:schema:mpd:2011"


def is_master_playlist(text: str) -> bool:
    return "#EXT-X-STREAM-INF" in text


def hls_with_captions(text: str, manifest_path: str, captions: list[PublishedCaption]) -> str:
    """A master playlist with one SUBTITLES rendition per caption, and every variant naming their group.
    `manifest_path` and the captions' paths are relative to the video's folder."""
    if not captions or not is_master_playlist(text):
        return text
    playlist = m3u8.loads(text)
    renditions = [
        m3u8.Media(
            uri=_relative(caption.hls_playlist, manifest_path),
            type="SUBTITLES",
            group_id=SUBTITLES_GROUP,
            language=caption.language,
            name=caption.label,
            default="NO",
            # Players may pick one matching the viewer's language (shown only when forced or chosen).
            autoselect="YES",
        )
        for caption in captions
    ]
    for rendition in renditions:
        playlist.add_media(rendition)
    for variant in playlist.playlists:
        # A variant writes its SUBTITLES attribute from the renditions it is linked to.
        variant.stream_info.subtitles = SUBTITLES_GROUP
        variant.media.extend(renditions)
    return str(playlist.dumps())


def dash_with_captions(text: str, manifest_path: str, captions: list[PublishedCaption]) -> str:
    """An MPD whose first Period holds one text AdaptationSet per caption."""
    if not captions:
        return text
    ET.register_namespace("", _MPD_NS)
    root = ET.fromstring(text)
    period = root.find(f"{{{_MPD_NS}}}Period")
    if period is None:
        return text
    taken = [int(a.get("id", "0")) for a in period.iter(f"{{{_MPD_NS}}}AdaptationSet") if a.get("id", "").isdigit()]
    next_id = max(taken, default=-1) + 1
    for offset, caption in enumerate(captions):
        adaptation_set = ET.fromstring(caption.dash_adaptation_set)
        adaptation_set.set("id", str(next_id + offset))
        adaptation_set.set("lang", caption.language)
        label = ET.Element(f"{{{_MPD_NS}}}Label")
        label.text = caption.label
        adaptation_set.insert(0, label)
        for representation in adaptation_set.iter(f"{{{_MPD_NS}}}Representation"):
            representation.set("id", f"caption-{caption.id}")
        for template in adaptation_set.iter(f"{{{_MPD_NS}}}SegmentTemplate"):
            for attribute in ("media", "initialization"):
                if value := template.get(attribute):
                    template.set(attribute, _relative(value, manifest_path))
        period.append(adaptation_set)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def _relative(path: str, manifest_path: str) -> str:
    """`path` (relative to the video's folder) as a URI relative to the manifest that names it."""
    return posixpath.relpath(path, posixpath.dirname(manifest_path) or ".")
