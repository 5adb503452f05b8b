"""One transcode, start to finish on local disk: probe → ladder encoded into CMAF segments (handed to a sink
as they complete) → images and downloads."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

from videoforge.content_protection import ContentKey
from videoforge.kit.subprocesses import ProcessError
from videoforge.kit.task_groups import failing_as_the_first
from videoforge.media_model import DEFAULT_ENCODING, EncodingOptions
from videoforge.transcoder.adapters.ffmpeg import EncodedLadder, FfmpegEncoder
from videoforge.transcoder.adapters.text_tracks import TextTrackExtractor
from videoforge.transcoder.domain.audio_renditions import plan_audio
from videoforge.transcoder.domain.ladder import Rung, codec_rungs, plan_ladder
from videoforge.transcoder.domain.media import MediaInfo, MediaLimits, validate
from videoforge.transcoder.domain.per_title import PerTitlePlanner
from videoforge.transcoder.domain.ports import ChunkedEncoding, OutputFile, Transcoder, TranscodeResult
from videoforge.transcoder.domain.presentation import PresentationLayout, PresentationSink, PresentationSnapshot
from videoforge.transcoder.live_presentation import encode_presentation, join_stream
from videoforge.transcoder.loudness_normalization import LoudnessNormalization
from videoforge.transcoder.observed_stages import observed_stage, record_encode_speed

log = logging.getLogger(__name__)

# Share of the progress bar each step takes; encoding dominates the time.
ENCODE_SHARE = (0.05, 0.85)
PACKAGE_DONE, EXTRAS_DONE = 0.90, 0.95


class MediaPipeline(Transcoder):
    """FFmpeg on local disk, within the media limits."""

    def __init__(
        self,
        encoder: FfmpegEncoder,
        limits: MediaLimits,
        *,
        per_title: PerTitlePlanner | None = None,
        text_tracks: TextTrackExtractor | None = None,
        surround_audio: bool = False,
        loudness: LoudnessNormalization | None = None,
    ) -> None:
        self._encoder, self._limits = encoder, limits
        self._per_title, self._text_tracks = per_title, text_tracks
        self._surround_audio = surround_audio
        self._loudness = loudness

    async def transcode(
        self,
        source: Path,
        work_dir: Path,
        *,
        formats: list[str],
        on_progress: Callable[[float], None],
        sink: PresentationSink | None = None,
        options: EncodingOptions = DEFAULT_ENCODING,
        chunks: ChunkedEncoding | None = None,
    ) -> TranscodeResult:
        return await transcode(
            source,
            work_dir,
            formats=formats,
            limits=self._limits,
            encoder=self._encoder,
            on_progress=on_progress,
            per_title=self._per_title,
            sink=sink,
            text_tracks=self._text_tracks,
            options=options,
            surround_audio=self._surround_audio,
            chunks=chunks,
            loudness=self._loudness,
        )


async def transcode(
    source: Path,
    work_dir: Path,
    *,
    formats: list[str],
    limits: MediaLimits,
    per_title: PerTitlePlanner | None = None,
    encoder: FfmpegEncoder,
    on_progress: Callable[[float], None],
    sink: PresentationSink | None = None,
    text_tracks: TextTrackExtractor | None = None,
    options: EncodingOptions = DEFAULT_ENCODING,
    surround_audio: bool = False,
    chunks: ChunkedEncoding | None = None,
    loudness: LoudnessNormalization | None = None,
) -> TranscodeResult:
    """`surround_audio`: a 5.1 rendition of each surround track besides its stereo one. `chunks`: how a long
    source is encoded in chunks across workers (its presentation then published only once finished)."""
    # Probe before decode: what is not a video, or is past the limits, never reaches the encoder.
    with observed_stage("probe"):
        info = await encoder.probe(source)
    validate(info, limits)
    rungs = plan_ladder(info, formats or None)
    audio = plan_audio(info.audio_tracks, surround=surround_audio)
    async with asyncio.TaskGroup() as reads:
        # Both read the source before the encode can start, side by side: the audio's loudness (a few percent of
        # the source's duration, audio only) and the per-title analysis.
        measuring = (
            None
            if loudness is None
            else reads.create_task(
                loudness.measure_before(source, audio, duration=info.duration_seconds, scratch=work_dir)
            )
        )
        if per_title is not None:
            rungs = await per_title.plan(source, info, rungs, work_dir / "analysis")
    measured = measuring.result() if measuring else None
    if loudness is not None:
        audio = loudness.apply(audio, measured)
    start, end = ENCODE_SHARE
    layout = PresentationLayout.for_ladder(rungs, audio, codec_rungs(rungs, options.codecs))
    output = work_dir / "output"
    with observed_stage("encode"):
        encode_started = time.perf_counter()

        def encode_progress(done: float) -> None:
            on_progress(start + (end - start) * done)

        # Chunks are encoded retimed at a constant rate and without tone mapping: such sources are encoded whole.
        whole = info.variable_frame_rate or info.hdr_transfer is not None
        if chunks is not None and not whole and chunks.applies(info, layout, options):
            presentation = await chunks.encode(
                source, info, rungs, layout, output, on_progress=encode_progress, sink=sink
            )
        else:
            presentation = await encode_presentation(
                encoder,
                source,
                rungs,
                layout,
                output,
                duration=info.duration_seconds,
                on_progress=encode_progress,
                sink=sink,
                options=options,
                tone_map=info.tone_map,
            )
        record_encode_speed(info.duration_seconds, time.perf_counter() - encode_started)
    with observed_stage("package"):
        ladder = await asyncio.to_thread(_joined_ladder, presentation, layout, work_dir / "joined")
        if options.content_key is not None and options.protection == "clearkey":
            ladder = await _lowest_in_the_clear(encoder, ladder, options.content_key, work_dir / "clear")
    on_progress(PACKAGE_DONE)
    # Side by side: the images and downloads, the source's text tracks, and the published audio's loudness.
    with observed_stage("extras"):
        async with failing_as_the_first() as extras:
            # A protected video has no MP4 downloads: a file in the clear would play past its keys.
            making = extras.create_task(
                _extras(encoder, ladder, info, output, downloads=not options.protection, sink=sink)
            )
            if text_tracks is not None:
                extras.create_task(_extract_text_tracks(text_tracks, source, output))
            # A protected rendition's audio is encrypted: no figure for what it sounds like.
            published_audio = None if options.protection else ladder.audio
            measuring_output = (
                None
                if loudness is None
                else extras.create_task(
                    loudness.figures(
                        source, measured, audio, published_audio, duration=info.duration_seconds, scratch=work_dir
                    )
                )
            )
    files = making.result()
    figures = measuring_output.result() if measuring_output else None
    on_progress(EXTRAS_DONE)
    return TranscodeResult(
        info, rungs, output, _presentation_files(presentation) + files, list(layout.codec_rungs), loudness=figures
    )


async def _extras(
    encoder: FfmpegEncoder,
    ladder: EncodedLadder,
    info: MediaInfo,
    output: Path,
    *,
    downloads: bool = True,
    sink: PresentationSink | None = None,
) -> list[OutputFile]:
    """The poster, preview, storyboard and MP4 downloads, made from the encoded renditions."""
    lowest_rung, lowest = ladder.lowest
    duration = info.duration_seconds
    for folder in ("images", "storyboard", "downloads"):
        (output / folder).mkdir(exist_ok=True)
    renditions = ladder.renditions if downloads else []

    async def download(rung: Rung, video: Path) -> Path:
        # Remuxed, not re-encoded: the download is the rendition's own stream with +faststart.
        mp4 = await encoder.make_mp4_download(video, ladder.audio, output / "downloads" / f"{rung.name}.mp4")
        if sink is not None:
            # The bulk of what is left to store: each goes up while the images are still being made.
            await sink.keep(mp4, _rel(mp4, output))
        return mp4

    # Side by side: each is a short, mostly single-threaded run over a small rendition, or a copy.
    poster, preview, storyboard, *mp4s = await asyncio.gather(
        encoder.make_poster(lowest, output / "images" / "poster.jpg", duration=duration),
        encoder.make_preview_gif(lowest, output / "images" / "preview.gif", duration=duration),
        encoder.make_storyboard(
            lowest, lowest_rung, output / "storyboard", duration=duration, frame_rate=info.frame_rate_fraction
        ),
        *(download(rung, video) for rung, video in renditions),
    )
    files = [
        OutputFile(_rel(poster, output), "POSTER"),
        OutputFile(_rel(preview, output), "PREVIEW"),
        OutputFile(_rel(storyboard.index, output), "STORYBOARD_INDEX"),
        *(OutputFile(_rel(sheet, output), "STORYBOARD") for sheet in storyboard.sheets),
    ]
    files += [OutputFile(_rel(mp4, output), "MP4", rung.name) for (rung, _), mp4 in zip(renditions, mp4s, strict=True)]
    return files


async def _extract_text_tracks(extractor: TextTrackExtractor, source: Path, output: Path) -> None:
    """The source's text tracks as WebVTT, for the gallery to add as captions; a track that cannot be read costs
    its caption, never the transcode."""
    try:
        await extractor.extract(source, output)
    except (ProcessError, ValueError) as error:  # ValueError: a report ffprobe cut short
        log.warning("could not extract the source's text tracks: %s", error)


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _joined_ladder(presentation: PresentationSnapshot, layout: PresentationLayout, folder: Path) -> EncodedLadder:
    """Each rendition as one file, for the steps that read a whole one."""
    renditions = [
        (rung, join_stream(presentation, layout, i, folder / f"video-{rung.name}.mp4"))
        for i, rung in enumerate(presentation.rungs)
    ]
    audio = None
    if layout.has_audio:
        # Downloads carry the default audio rendition: the first track in stereo.
        audio = join_stream(presentation, layout, layout.first_audio_stream, folder / "audio.mp4")
    return EncodedLadder(renditions=renditions, audio=audio)


async def _lowest_in_the_clear(
    encoder: FfmpegEncoder, ladder: EncodedLadder, key: ContentKey, folder: Path
) -> EncodedLadder:
    """The lowest rendition of a CENC-encrypted ladder decrypted, for the images made from it (kept here only)."""
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    rung, video = ladder.lowest
    return EncodedLadder(renditions=[(rung, await encoder.decrypt_copy(video, key, folder / video.name))], audio=None)


def _presentation_files(presentation: PresentationSnapshot) -> list[OutputFile]:
    """Segments, then manifests: uploaded in this order, no manifest names a file not there yet."""
    manifests = [OutputFile(file.relative, file.kind, file.quality) for file, _ in presentation.manifests]
    return [*(OutputFile(segment) for segment in presentation.segments), *manifests]
