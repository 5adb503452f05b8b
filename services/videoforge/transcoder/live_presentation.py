"""The encode as it runs: its presentation read off the disk while FFmpeg writes it, and handed to a sink so
its segments can be published as each one completes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path

import m3u8

from videoforge.media_model import DEFAULT_ENCODING, EncodingOptions
from videoforge.transcoder.adapters.ffmpeg import FfmpegEncoder
from videoforge.transcoder.domain.keyframes import SEGMENT_HEAD_BYTES, keyframe_range
from videoforge.transcoder.domain.ladder import Rung
from videoforge.transcoder.domain.presentation import (
    ManifestFile,
    PresentationLayout,
    PresentationSink,
    PresentationSnapshot,
    iframe_playlist,
    marked_playlist,
    master_with_audio_names,
    master_with_iframes,
    mpd_with_audio_labels,
    segment_count,
    stream_files,
)
from videoforge.transcoder.domain.tone_mapping import ToneMap

# How often the growing output is looked at: a fraction of a segment's length. Until it can be watched, a fraction of
# the half-second opening segment's, so that it is published as soon as it can be; then less often, as each look
# reads every manifest again, and a long video's playlists grow long.
OPENING_POLL_SECONDS = 0.1
POLL_SECONDS = 0.25


async def encode_presentation(
    encoder: FfmpegEncoder,
    source: Path,
    rungs: list[Rung],
    layout: PresentationLayout,
    out_dir: Path,
    *,
    duration: float,
    on_progress: Callable[[float], None],
    sink: PresentationSink | None,
    options: EncodingOptions = DEFAULT_ENCODING,
    tone_map: ToneMap | None = None,
) -> PresentationSnapshot:
    """Encodes the presentation into out_dir; while it runs, `sink` gets each new state of it, and the final
    one once the encode ended. Returns that final state. `tone_map`: as the encoder's."""
    encoding = asyncio.create_task(
        encoder.encode_presentation(
            source,
            rungs,
            layout,
            out_dir,
            duration=duration,
            on_progress=on_progress,
            options=options,
            tone_map=tone_map,
        )
    )
    try:
        published: PresentationSnapshot | None = None
        while sink is not None and not encoding.done():
            watchable = published is not None and published.playable
            await asyncio.wait({encoding}, timeout=POLL_SECONDS if watchable else OPENING_POLL_SECONDS)
            if encoding.done():
                break
            snapshot = await asyncio.to_thread(read_snapshot, layout, out_dir, rungs, final=False)
            if published is None or _grew(published, snapshot):
                await sink.publish(snapshot)
                published = snapshot
        await encoding
    finally:
        if not encoding.done():
            encoding.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await encoding
    return await finished_presentation(layout, out_dir, rungs, sink)


async def finished_presentation(
    layout: PresentationLayout, out_dir: Path, rungs: list[Rung], sink: PresentationSink | None
) -> PresentationSnapshot:
    """The presentation the muxer ended in out_dir, its manifests completed on disk as published, handed to
    `sink`."""
    final = await asyncio.to_thread(read_snapshot, layout, out_dir, rungs, final=True)
    # What stays on disk is what is published: the playlists with their type said.
    for manifest, data in final.manifests:
        await asyncio.to_thread((out_dir / manifest.relative).write_bytes, data)
    if sink is not None:
        await sink.publish(final)
    return final


def _grew(before: PresentationSnapshot, after: PresentationSnapshot) -> bool:
    return (after.segments, after.manifests) != (before.segments, before.manifests)


def read_snapshot(layout: PresentationLayout, out_dir: Path, rungs: list[Rung], *, final: bool) -> PresentationSnapshot:
    """The manifests first, then the whole segments: every segment a manifest read here lists was renamed into
    place before that manifest was written, so it is among the segments listed after."""
    manifests = []
    for manifest in layout.manifests():
        try:
            data = (out_dir / manifest.relative).read_bytes()
        except FileNotFoundError:
            manifests = []  # not all written yet: nothing to describe the segments with
            break
        manifests.append((manifest, _as_published(layout, manifest, data)))
    segments = sorted(
        segment
        for folder in layout.segment_folders()
        for segment in layout.whole_segments(folder, _names(out_dir / folder))
    )
    media = {layout.media_playlist(stream) for stream in range(layout.stream_count)}
    playlists = [data.decode() for manifest, data in manifests if manifest.relative in media]
    playable = len(playlists) == layout.stream_count and all(segment_count(text) > 0 for text in playlists)
    if final and playable:
        manifests = _with_iframe_playlists(manifests, layout, out_dir)
    return PresentationSnapshot(
        output_dir=out_dir,
        segments=segments,
        manifests=manifests,
        playable=playable,
        final=final,
        rungs=rungs,
        has_audio=layout.has_audio,
        codec_rungs=list(layout.codec_rungs),
    )


def _as_published(layout: PresentationLayout, manifest: ManifestFile, data: bytes) -> bytes:
    """A manifest as the muxer wrote it, completed with what it leaves out: the playlists' type, the audio
    renditions' names and languages."""
    if manifest.relative == layout.master_playlist:
        return master_with_audio_names(data.decode(), layout).encode()
    if manifest.relative == layout.dash_manifest:
        return mpd_with_audio_labels(data.decode(), layout).encode()
    return marked_playlist(data.decode()).encode()


def _with_iframe_playlists(
    manifests: list[tuple[ManifestFile, bytes]], layout: PresentationLayout, out_dir: Path
) -> list[tuple[ManifestFile, bytes]]:
    """The ended presentation's manifests with an I-frame playlist per rung, named by the master (the muxer
    writes none): trick play for players that use it."""
    texts = {manifest.relative: data.decode() for manifest, data in manifests}
    added: list[tuple[ManifestFile, bytes]] = []
    named: dict[str, tuple[str, int]] = {}
    for stream in range(len(layout.rung_names)):
        playlist = texts[layout.media_playlist(stream)]
        segments = m3u8.loads(playlist).segments
        keyframes = {s.uri: keyframe_range(_head(out_dir / s.uri)) for s in segments}
        seconds = sum(s.duration for s in segments)
        bandwidth = round(sum(length for _, length in keyframes.values()) * 8 / seconds) if seconds else 0
        name = layout.iframe_playlist(stream)
        added.append((ManifestFile(name), iframe_playlist(playlist, keyframes).encode()))
        named[layout.media_playlist(stream)] = (name, bandwidth)
    master = master_with_iframes(texts[layout.master_playlist], named).encode()
    listed = [(m, master if m.relative == layout.master_playlist else data) for m, data in manifests]
    at = next(i for i, (m, _) in enumerate(listed) if m.relative == layout.master_playlist)
    return [*listed[:at], *added, *listed[at:]]


def _names(folder: Path) -> list[str]:
    try:
        return [path.name for path in folder.iterdir()]
    except FileNotFoundError:
        return []  # not made yet: the encode is only starting


def _head(segment: Path) -> bytes:
    with segment.open("rb") as file:
        return file.read(SEGMENT_HEAD_BYTES)


def join_stream(snapshot: PresentationSnapshot, layout: PresentationLayout, stream: int, out: Path) -> Path:
    """One stream as a single fragmented MP4 (its init segment, then its segments in order), for the steps that
    read a whole rendition: posters, previews, storyboards, downloads."""
    text = next(data for manifest, data in snapshot.manifests if manifest.relative == layout.media_playlist(stream))
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as joined:
        for relative in stream_files(text.decode()):
            joined.write((snapshot.output_dir / relative).read_bytes())
    return out
