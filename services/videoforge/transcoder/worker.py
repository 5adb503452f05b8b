"""A transcoder worker: claims jobs, holds their lease while it works, and reports over gRPC.

A job stops within about a second of being cancelled (the next progress report says so), and at once
when the lease is lost (another worker may hold the job now): the FFmpeg process group is killed either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import grpc
from google.rpc import code_pb2, status_pb2

from videoforge.job.domain.jobs import attempt_prefix
from videoforge.job.v1 import job_pb2, job_pb2_grpc
from videoforge.kit.errors import InvalidArgument
from videoforge.packager.shaka import ShakaPackager
from videoforge.queue.port import ClaimedJob, JobQueue
from videoforge.storage.port import BlobStore
from videoforge.storage.s3 import guess_content_type
from videoforge.transcoder.adapters.ffmpeg import FfmpegEncoder
from videoforge.transcoder.domain.media import MediaLimits
from videoforge.transcoder.entrypoints.media_proto import rendition_proto
from videoforge.transcoder.pipeline import TranscodeResult, transcode

log = logging.getLogger(__name__)

REPORT_SECONDS = 1.0
COMPLETION_RETRY_SECONDS = (1.0, 2.0, 4.0, 8.0)
IDLE_POLL_SECONDS = 1.0
State = job_pb2.Job.State


class StopWork(Exception):
    """The job must stop: cancelled by its owner, or this worker lost its lease."""


@dataclass
class WorkerConfig:
    worker_id: str
    scratch: Path
    lease_seconds: float
    max_attempts: int
    limits: MediaLimits
    rpc_timeout: float


class TranscodeWorker:
    def __init__(
        self,
        queue: JobQueue,
        jobs: job_pb2_grpc.JobInternalServiceStub,
        blobs: BlobStore,
        encoder: FfmpegEncoder,
        packager: ShakaPackager,
        config: WorkerConfig,
    ) -> None:
        self._queue, self._jobs, self._blobs = queue, jobs, blobs
        self._encoder, self._packager, self._config = encoder, packager, config

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                claim = await self._queue.claim(self._config.worker_id, self._config.lease_seconds)
            except Exception:
                log.warning("could not reach the queue; retrying", exc_info=True)
                claim = None
            if claim is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), IDLE_POLL_SECONDS)
                continue
            await self.handle(claim)

    async def handle(self, claim: ClaimedJob) -> None:
        log.info("claimed job %s attempt %d", claim.job_id, claim.attempt)
        try:
            job = await self._jobs.StartAttempt(
                job_pb2.StartAttemptRequest(
                    job_id=claim.job_id, attempt=claim.attempt, worker_id=self._config.worker_id
                ),
                timeout=self._config.rpc_timeout,
            )
        except grpc.aio.AioRpcError as error:
            if error.code() in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.NOT_FOUND):
                # Cancelled, finished or deleted while queued: nothing to do, drop the message.
                await self._queue.complete(claim)
            elif error.code() != grpc.StatusCode.ABORTED:
                await self._queue.fail(claim, error=error.details() or str(error.code()), retryable=True)
            return
        work_dir = self._config.scratch / f"{claim.job_id}-{claim.attempt}"
        try:
            await self._run_attempt(claim, job, work_dir)
        finally:
            await asyncio.to_thread(shutil.rmtree, work_dir, True)

    async def _run_attempt(self, claim: ClaimedJob, job: job_pb2.Job, work_dir: Path) -> None:
        progress = _ProgressState()
        work = asyncio.create_task(self._work(claim, job, work_dir, progress))
        heartbeat = asyncio.create_task(self._heartbeat(claim, progress, work))
        try:
            result = await work
        except asyncio.CancelledError:
            if not heartbeat.done():
                raise
            log.info("job %s attempt %d stopped: %s", claim.job_id, claim.attempt, progress.stop_reason)
            return
        except InvalidArgument as error:
            await self._fail(claim, code_pb2.INVALID_ARGUMENT, error.message, retryable=False)
            return
        except Exception as error:
            log.warning("job %s attempt %d failed", claim.job_id, claim.attempt, exc_info=True)
            await self._fail(claim, code_pb2.UNAVAILABLE, _transient_message(error), retryable=True)
            return
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        await self._complete(claim, job, result)

    async def _work(
        self, claim: ClaimedJob, job: job_pb2.Job, work_dir: Path, progress: _ProgressState
    ) -> tuple[TranscodeResult, str]:
        source = work_dir / "source"
        await asyncio.to_thread(work_dir.mkdir, parents=True, exist_ok=True)
        await self._blobs.download_file(job.input_source, source)
        progress.update(State.STATE_PROCESSING, 0.05)
        result = await transcode(
            source,
            work_dir,
            formats=list(job.output_formats),
            limits=self._config.limits,
            encoder=self._encoder,
            packager=self._packager,
            on_progress=lambda done: progress.update(State.STATE_PROCESSING, done),
        )
        progress.update(State.STATE_UPLOADING, 0.96)
        prefix = attempt_prefix(job.video_id, job.id, claim.attempt)
        await self._blobs.upload_dir(result.output_dir, prefix)
        return result, prefix

    async def _heartbeat(self, claim: ClaimedJob, progress: _ProgressState, work: asyncio.Task[object]) -> None:
        """Renews the lease and reports progress; cancels the work when it must stop."""
        renew_every = self._config.lease_seconds / 3
        since_renew = 0.0
        while not work.done():
            await asyncio.sleep(REPORT_SECONDS)
            since_renew += REPORT_SECONDS
            try:
                if since_renew >= renew_every:
                    since_renew = 0.0
                    if not await self._queue.renew(claim, self._config.lease_seconds):
                        raise StopWork("the lease was lost; another worker may hold the job")
                reply = await self._jobs.ReportProgress(
                    job_pb2.ReportProgressRequest(
                        job_id=claim.job_id, attempt=claim.attempt, state=progress.state, progress=progress.percent
                    ),
                    timeout=self._config.rpc_timeout,
                )
                if reply.cancel_requested:
                    raise StopWork("the job was cancelled")
            except StopWork as stop:
                progress.stop_reason = str(stop)
                work.cancel()
                return
            except grpc.aio.AioRpcError as error:
                if error.code() in (grpc.StatusCode.ABORTED, grpc.StatusCode.FAILED_PRECONDITION):
                    progress.stop_reason = error.details() or "the job moved on"
                    work.cancel()
                    return
                log.warning("progress report failed: %s", error.code())
            except Exception:
                # A database or queue that is restarting: keep working; the lease outlives a short outage.
                log.warning("lease renewal failed; retrying", exc_info=True)

    async def _complete(self, claim: ClaimedJob, job: job_pb2.Job, outcome: tuple[TranscodeResult, str]) -> None:
        result, prefix = outcome
        assets = []
        for file in result.files:
            if not file.kind:
                continue
            path = result.output_dir / file.relative
            assets.append(
                job_pb2.Asset(
                    kind=job_pb2.Asset.Kind.Value(f"KIND_{file.kind}"),
                    quality=file.quality,
                    key=prefix + file.relative,
                    content_type=guess_content_type(path),
                    size_bytes=path.stat().st_size,
                )
            )
        request = job_pb2.CompleteAttemptRequest(
            job_id=claim.job_id,
            attempt=claim.attempt,
            output_prefix=prefix,
            assets=assets,
            renditions=[rendition_proto(r, result.info.has_audio) for r in result.rungs],
        )
        try:
            await self._report_completion(request)
        except grpc.aio.AioRpcError as error:
            if error.code() in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.ABORTED):
                # Refused (cancelled or superseded): this attempt's objects must not linger.
                await self._blobs.delete_prefix(prefix)
                await self._queue.complete(claim)
                return
            await self._fail(claim, code_pb2.UNAVAILABLE, "Could not record the finished transcode.", retryable=True)
            return
        await self._queue.complete(claim)
        log.info("job %s attempt %d completed", claim.job_id, claim.attempt)

    async def _report_completion(self, request: job_pb2.CompleteAttemptRequest) -> None:
        """The outputs are uploaded: worth a few tries through a short outage before the work is redone."""
        for delay in COMPLETION_RETRY_SECONDS:
            try:
                await self._jobs.CompleteAttempt(request, timeout=self._config.rpc_timeout)
                return
            except grpc.aio.AioRpcError as error:
                if error.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN):
                    raise
                log.warning("completion report failed (%s); retrying in %.0f s", error.code(), delay)
                await asyncio.sleep(delay)
        await self._jobs.CompleteAttempt(request, timeout=self._config.rpc_timeout)

    async def _fail(self, claim: ClaimedJob, code: int, message: str, *, retryable: bool) -> None:
        will_retry = retryable and claim.attempt < self._config.max_attempts
        request = job_pb2.FailAttemptRequest(
            job_id=claim.job_id,
            attempt=claim.attempt,
            error=status_pb2.Status(code=code, message=message),
            will_retry=will_retry,
        )
        with contextlib.suppress(grpc.aio.AioRpcError):
            await self._jobs.FailAttempt(request, timeout=self._config.rpc_timeout)
        await self._queue.fail(claim, error=message, retryable=retryable)


async def drain(runner: asyncio.Task[None], seconds: float) -> bool:
    """Lets the worker's loop finish the job in hand within `seconds`, else cancels it; True if it finished."""
    if seconds > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(runner), seconds)
    finished = runner.done()
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)
    return finished


class _ProgressState:
    def __init__(self) -> None:
        self.state = State.STATE_DOWNLOADING
        self.fraction = 0.0
        self.stop_reason = ""

    def update(self, state: int, fraction: float) -> None:
        self.state, self.fraction = state, max(self.fraction, min(fraction, 0.99))

    @property
    def percent(self) -> int:
        return int(self.fraction * 100)


def _transient_message(error: Exception) -> str:
    return f"The transcode hit a temporary problem ({type(error).__name__}); it will be retried."
