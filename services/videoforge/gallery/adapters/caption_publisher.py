"""Captions into the object store: packaged by Shaka Packager under the video's folder, listed in its index."""

from __future__ import annotations

import asyncio
import logging
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from videoforge.gallery.domain.captions import MAX_CAPTION_BYTES, Caption, CaptionPublisher, PackagedFiles
from videoforge.media_model import is_key_under
from videoforge.packager.captions import ShakaCaptionPackager
from videoforge.published_captions import (
    SOURCE_TRACKS_INDEX,
    PublishedCaption,
    SourceTextTrack,
    caption_prefix,
    captions_index_key,
    index_document,
    read_source_tracks,
)
from videoforge.storage.guard import GuardedMedia
from videoforge.storage.port import BlobNotFound, BlobStore, BlobTooLarge

log = logging.getLogger(__name__)

_MPD_NS = "urn:mpeg:dash:schema:mpd:2011"
MAX_INDEX_BYTES = 64 * 1024


class PackagedCaptionPublisher(CaptionPublisher):
    def __init__(self, blobs: BlobStore, media: GuardedMedia, packager: ShakaCaptionPackager) -> None:
        self._blobs, self._media, self._packager = blobs, media, packager

    async def publish(self, caption: Caption, webvtt: str) -> PackagedFiles:
        folder = f"captions/{caption.id}/"
        with tempfile.TemporaryDirectory(prefix="caption-") as work:
            source = Path(work) / "caption.vtt"
            await asyncio.to_thread(source.write_text, webvtt, encoding="utf-8")
            out_dir = Path(work) / "out"
            packaged = await self._packager.package(source, out_dir, language=caption.language)
            mpd = await asyncio.to_thread(packaged.dash_manifest.read_text)
            adaptation_set = _text_adaptation_set(mpd, folder)
            # The WebVTT as stored, for downloads and players that take a whole file.
            await asyncio.to_thread(source.replace, out_dir / "caption.vtt")
            await self._blobs.upload_dir(out_dir, caption_prefix(caption.video_id, caption.id))
        return PackagedFiles(hls_playlist=folder + packaged.hls_playlist, dash_adaptation_set=adaptation_set)

    async def write_index(self, video_id: str, captions: list[tuple[Caption, PackagedFiles]]) -> None:
        document = index_document(
            [
                PublishedCaption(c.id, c.language, c.label, files.hls_playlist, files.dash_adaptation_set)
                for c, files in captions
            ]
        )
        with tempfile.TemporaryDirectory(prefix="captions-") as work:
            path = Path(work) / "index.json"
            await asyncio.to_thread(path.write_bytes, document)
            await self._blobs.upload_file(path, captions_index_key(video_id), "application/json")

    async def remove(self, video_id: str, caption_id: str) -> None:
        await self._media.delete_prefix(caption_prefix(video_id, caption_id))

    async def source_tracks(self, output_folder: str) -> list[tuple[SourceTextTrack, bytes]]:
        try:
            index = await self._blobs.read_bytes(output_folder + SOURCE_TRACKS_INDEX, max_bytes=MAX_INDEX_BYTES)
        except BlobNotFound:
            return []
        found = []
        for track in read_source_tracks(index):
            key = output_folder + track.file
            if not is_key_under(key, output_folder):
                continue
            try:
                found.append((track, await self._blobs.read_bytes(key, max_bytes=MAX_CAPTION_BYTES)))
            except (BlobNotFound, BlobTooLarge) as error:
                log.warning("source text track %s left out: %s", key, error)
        return found


def _text_adaptation_set(mpd: str, folder: str) -> str:
    """The packager's text AdaptationSet, its segment paths made relative to the video's folder."""
    ET.register_namespace("", _MPD_NS)
    root = ET.fromstring(mpd)
    adaptation_set = root.find(f"{{{_MPD_NS}}}Period/{{{_MPD_NS}}}AdaptationSet")
    if adaptation_set is None:
        raise RuntimeError("the packager wrote no text AdaptationSet")
    for template in adaptation_set.iter(f"{{{_MPD_NS}}}SegmentTemplate"):
        for attribute in ("media", "initialization"):
            if value := template.get(attribute):
                template.set(attribute, folder + value)
    return ET.tostring(adaptation_set, encoding="unicode")
