"""Fakes for a transcoder worker: a pipeline that writes a small output set, and a reporter that calls the
job use cases in process and can lose replies after they took effect."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

from videoforge.job.domain.jobs import Asset, JobError
from videoforge.job.service_layer.jobs import Jobs
from videoforge.kit.errors import Unavailable
from videoforge.media_model import DEFAULT_ENCODING, EncodingOptions, Rendition
from videoforge.transcoder.domain.ladder import Rung
from videoforge.transcoder.domain.loudness import LoudnessFigures
from videoforge.transcoder.domain.media import MediaInfo
from videoforge.transcoder.domain.ports import (
    Attempt,
    ChunkedEncoding,
    JobReporter,
    OutputFile,
    ProducedAsset,
    Transcoder,
    TranscodeResult,
)
from videoforge.transcoder.domain.presentation import ManifestFile, PresentationSink, PresentationSnapshot
from videoforge.transcoder.entrypoints.media_proto import media_proto, summary_from_proto

RUNG = Rung(name="360p", width=640, height=360, video_kbps=800, maxrate_kbps=856, bufsize_kbps=1200, gop_frames=60)
INFO = MediaInfo(
    container="mov,mp4",
    duration_seconds=2.0,
    width=640,
    height=360,
    frame_rate_fraction=Fraction(30),
    video_codec="h264",
)


class FakeTranscoder(Transcoder):
    """Writes a master playlist, an MPD, a segment and a poster, hands a sink the manifests and the segment as a
    playable presentation while it grows; `before_finish` runs just before it returns."""

    def __init__(self, before_finish: Callable[[], Awaitable[object]] | None = None) -> None:
        self.before_finish = before_finish
        self.runs = 0
        self.options = DEFAULT_ENCODING
        self.loudness: LoudnessFigures | None = None  # what the result says was measured of the audio

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
        self.runs += 1
        self.options = options
        output = work_dir / "output"
        (output / "images").mkdir(parents=True, exist_ok=True)
        (output / "master.m3u8").write_text("#EXTM3U\n")
        (output / "manifest.mpd").write_text("<MPD/>")
        (output / "360p_1.m4s").write_bytes(b"segment")
        (output / "images" / "poster.jpg").write_bytes(b"jpeg")
        on_progress(0.5)
        manifests = [
            (ManifestFile("master.m3u8", "HLS_MASTER"), b"#EXTM3U\n"),
            (ManifestFile("manifest.mpd", "DASH_MANIFEST"), b"<MPD/>"),
        ]
        if sink is not None:
            await sink.publish(PresentationSnapshot(output, ["360p_1.m4s"], manifests, playable=True, rungs=[RUNG]))
        if self.before_finish is not None:
            await self.before_finish()
        files = [
            OutputFile("master.m3u8", "HLS_MASTER"),
            OutputFile("manifest.mpd", "DASH_MANIFEST"),
            OutputFile("360p_1.m4s"),
            OutputFile("images/poster.jpg", "POSTER"),
        ]
        return TranscodeResult(INFO, [RUNG], output, files, loudness=self.loudness)


@dataclass
class LocalJobReporter(JobReporter):
    """The job use cases, called in process. `lose_reply_of` names calls whose next reply is lost after the call
    took effect, as when the job service commits and the connection drops."""

    jobs: Jobs
    lose_reply_of: set[str] = field(default_factory=set)
    calls: list[str] = field(default_factory=list)

    def _reply(self, name: str) -> None:
        self.calls.append(name)
        if name in self.lose_reply_of:
            self.lose_reply_of.discard(name)
            raise Unavailable("the reply was lost", "LOST_REPLY")

    async def start(self, job_id: str, delivery_token: str, worker_id: str) -> Attempt:
        job = await self.jobs.start_attempt(job_id, delivery_token)
        options = replace(job.options, content_key=await self.jobs.content_key(job))
        self._reply("start")
        return Attempt(
            job.id, job.video_id, job.attempt, job.input_source, list(job.output_formats), job.source_url, options
        )

    async def progress(self, attempt: Attempt, state: str, percent: int) -> bool:
        cancelled = await self.jobs.report_progress(attempt.job_id, attempt.number, state, percent)
        self._reply("progress")
        return cancelled

    async def record_source(self, attempt: Attempt, media: MediaInfo) -> None:
        # Converted as the gRPC reporter and servicer convert it.
        summary = summary_from_proto(media_proto(media))
        await self.jobs.record_source(attempt.job_id, attempt.number, summary)
        self._reply("record_source")

    async def record_live_output(
        self, attempt: Attempt, output_prefix: str, assets: list[ProducedAsset], renditions: list[Rung], has_audio: bool
    ) -> None:
        manifests = [Asset("", "", "", a.kind, a.quality, a.key, a.content_type, a.size_bytes) for a in assets]
        rungs = [Rendition("360p")]
        await self.jobs.record_live_output(attempt.job_id, attempt.number, output_prefix, manifests, rungs)
        self._reply("record_live_output")

    async def complete(
        self,
        attempt: Attempt,
        output_prefix: str,
        assets: list[ProducedAsset],
        renditions: list[Rung],
        has_audio: bool,
        loudness: LoudnessFigures | None = None,
    ) -> None:
        produced = [Asset("", "", "", a.kind, a.quality, a.key, a.content_type, a.size_bytes) for a in assets]
        figures = loudness.as_fields() if loudness is not None else None
        await self.jobs.complete_attempt(
            attempt.job_id, attempt.number, output_prefix, produced, [Rendition("360p")], loudness=figures
        )
        self._reply("complete")

    async def fail(self, attempt: Attempt, code: str, message: str, *, will_retry: bool) -> None:
        await self.jobs.fail_attempt(attempt.job_id, attempt.number, JobError(code, message), will_retry)
        self._reply("fail")

    async def discard(self, attempt: Attempt) -> None:
        await self.jobs.discard_attempt(attempt.job_id, attempt.number, attempt.video_id)
        self._reply("discard")
