"""The captions a video plays with, as the gallery publishes them and the streaming service reads them, and the
text tracks a transcode finds in a source, as the worker leaves them for the gallery.

The gallery packages each caption under `videos/{video}/captions/{caption}/` and, on every change, rewrites one
index object beside them; the streaming service reads that index when it signs a master playlist or an MPD and
adds the captions there. A video's ladder and its captions change independently: neither waits for the other.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from videoforge.media_model import video_prefix

# The HLS group every caption rendition joins, and every variant names.
SUBTITLES_GROUP = "subtitles"
# In a job's output folder: each text track of the source as WebVTT (`{n}.vtt`), and what the source's tags said.
SOURCE_TRACKS_FOLDER = "source-captions/"
SOURCE_TRACKS_INDEX = f"{SOURCE_TRACKS_FOLDER}tracks.json"


def captions_prefix(video_id: str) -> str:
    return f"{video_prefix(video_id)}captions/"


def caption_prefix(video_id: str, caption_id: str) -> str:
    return f"{captions_prefix(video_id)}{caption_id}/"


def captions_index_key(video_id: str) -> str:
    return f"{captions_prefix(video_id)}index.json"


@dataclass(frozen=True)
class PublishedCaption:
    """One packaged caption. Paths are relative to the video's folder (`captions/{caption}/...`)."""

    id: str
    language: str
    label: str
    # The segmented WebVTT media playlist.
    hls_playlist: str
    # The packager's text AdaptationSet element (XML), its segment paths relative to the video's folder.
    dash_adaptation_set: str


def index_document(captions: list[PublishedCaption]) -> bytes:
    return json.dumps({"captions": [asdict(c) for c in captions]}, separators=(",", ":")).encode()


def read_index(document: bytes) -> list[PublishedCaption]:
    """The captions an index lists; an entry missing a field (a newer or damaged index) is skipped."""
    entries = json.loads(document).get("captions", [])
    names = PublishedCaption.__dataclass_fields__.keys()
    return [
        PublishedCaption(**{name: str(entry[name]) for name in names})
        for entry in entries
        if isinstance(entry, dict) and all(name in entry for name in names)
    ]


@dataclass(frozen=True)
class SourceTextTrack:
    """A text track of the source: its WebVTT file (relative to the output folder) and the stream's tags."""

    file: str
    # The stream's `language` tag as the container wrote it (ISO 639-2, `eng`), or empty.
    language: str = ""
    # The stream's `title` tag, or empty.
    title: str = ""


def source_tracks_document(tracks: list[SourceTextTrack]) -> bytes:
    return json.dumps({"tracks": [asdict(t) for t in tracks]}, separators=(",", ":")).encode()


def read_source_tracks(document: bytes) -> list[SourceTextTrack]:
    entries = json.loads(document).get("tracks", [])
    return [
        SourceTextTrack(str(e["file"]), str(e.get("language", "")), str(e.get("title", "")))
        for e in entries
        if isinstance(e, dict) and isinstance(e.get("file"), str)
    ]
