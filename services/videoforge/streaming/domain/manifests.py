"""Rewrites stored manifests so that every child URI carries the playback grant.

Playlists go back through the manifest endpoint (which rewrites them in turn); media segments go to the
CDN with the signed query, so a player needs nothing but the first URL.
"""

from __future__ import annotations

import posixpath
import xml.etree.ElementTree as ET
from collections.abc import Callable

import m3u8

# (path of a child, relative to the output set) -> absolute URL a player can fetch.
UriSigner = Callable[[str], str]

_MPD_NS = "urn:mpeg:dash:schema:mpd:2011"


def _child_path(manifest_path: str, uri: str) -> str:
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(manifest_path), uri))
    if joined.startswith("../") or joined.startswith("/") or "://" in uri:
        raise ValueError(f"manifest child {uri!r} leaves the output set")
    return joined


def rewrite_hls(text: str, manifest_path: str, sign: UriSigner) -> str:
    playlist = m3u8.loads(text)

    def rewrite(item: object) -> None:
        uri = getattr(item, "uri", None)
        if uri:
            item.uri = sign(_child_path(manifest_path, uri))  # type: ignore[attr-defined]

    init_sections = [s.init_section for s in playlist.segments if s.init_section is not None]
    # Each segment carries its own copy of EXT-X-MAP, and dumps() writes those, not playlist.segment_map.
    for group in (playlist.playlists, playlist.iframe_playlists, playlist.media, playlist.segments, init_sections):
        for item in group:
            rewrite(item)
    return str(playlist.dumps())


def rewrite_dash(text: str, manifest_path: str, sign: UriSigner) -> str:
    ET.register_namespace("", _MPD_NS)
    root = ET.fromstring(text)
    for template in root.iter(f"{{{_MPD_NS}}}SegmentTemplate"):
        for attribute in ("media", "initialization"):
            if value := template.get(attribute):
                # $Number$ and friends survive: signing appends a query after the templated path.
                template.set(attribute, sign(_child_path(manifest_path, value)))
    for element in root.iter():
        if element.tag in (f"{{{_MPD_NS}}}SegmentURL", f"{{{_MPD_NS}}}Initialization"):
            for attribute in ("media", "sourceURL"):
                if value := element.get(attribute):
                    element.set(attribute, sign(_child_path(manifest_path, value)))
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def is_manifest(path: str) -> bool:
    return path.endswith((".m3u8", ".mpd"))


def content_type(path: str) -> str:
    return "application/vnd.apple.mpegurl" if path.endswith(".m3u8") else "application/dash+xml"
