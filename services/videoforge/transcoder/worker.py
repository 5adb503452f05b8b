"""A transcoder worker: claims jobs, holds their lease while it works, and reports over gRPC.

A job stops within about a second of being cancelled (the next progress report says so), and at once
when the lease is lost (another worker may hold the job now): the FFmpeg process group is killed either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from videoforge.kit.errors import Aborted, FailedPrecondition, InvalidArgument, NotFound, Unavailable
from videoforge.media_model import attempt_prefix
from videoforge.queue.port import ClaimedJob, JobQueue
from videoforge.storage.port import BlobNotFound, BlobStore, BlobStoreError
from videoforge.storage.s3 import guess_content_type
from videoforge.transcoder.chunked import ChunkedAttempt, Chunking, ChunkRunner
from videoforge.transcoder.domain.chunks import CHUNK_KIND
from videoforge.transcoder.domain.errors import SourceUnavailable
from videoforge.transcoder.domain.ports import (
    Attempt,
    JobReporter,
    ProducedAsset,
    SourceImporter,
    Transcoder,
    TranscodeResult,
)
from videoforge.transcoder.domain.presentation import PresentationSnapshot
from videoforge.transcoder.encrypted_upload import encrypting_upload
from videoforge.transcoder.observed_stages import delivery_span, observed_stage
from videoforge.transcoder.presentation_upload import PresentationUpload

log = logging.getLogger(__name__)
T = TypeVar("T")

REPORT_SECONDS = 1.0
# Waits between tries of a report while the job service is unreachable (a restart takes seconds, a crash-looping
# one up to half a minute): the delivery is kept meanwhile, so an outage does not use up the job's attempts.
REPORT_RETRY_SECONDS = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
IDLE_POLL_SECONDS = 1.0
# The job service's answer: this delivery must not run (finished, cancelled, gone, or held by another).
REFUSALS = (FailedPrecondition, NotFound, Aborted)


class StopWork(Exception):
    """The job must stop: cancelled by its owner, or this worker lost its lease."""


@dataclass
class WorkerConfig:
    worker_id: str
    scratch: Path
    lease_seconds: float
    max_attempts: int


def delivery_token(claim: ClaimedJob) -> str:
    """The same for every call about one delivery, different for each redelivery."""
    return hashlib.sha256(f"{claim.job_id}|{claim.receipt}|{claim.attempt}".encode()).hexdigest()[:32]


class TranscodeWorker:
    def __init__(
        self,
        queue: JobQueue,
        jobs: JobReporter,
        blobs: BlobStore,
        transcoder: Transcoder,
        config: WorkerConfig,
        *,
        importer: SourceImporter | None = None,
        chunking: Chunking | None = None,
    ) -> None:
        self._queue, self._jobs, self._blobs = queue, jobs, blobs
        self._transcoder, self._config, self._importer = transcoder, config, importer
        self._chunking = chunking
        self._chunks = (
            ChunkRunner(
                chunking.encoder,
                queue,
                blobs,
                worker_id=config.worker_id,
                scratch=config.scratch,
                lease_seconds=config.lease_seconds,
            )
            if chunking is not None
            else None
        )

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                claim = await self._queue.claim(self._config.worker_id, self._config.lease_seconds)
            except Exception:
                log.warning("could not reach the queue; retrying", exc_info=True)
                claim = None
            if claim is None:
                await self._idle(stop)
                continue
            await self.handle(claim)

    async def _idle(self, stop: asyncio.Event) -> None:
        """Until a job may have come (the queue says so, or IDLE_POLL_SECONDS passed) or the worker is stopped."""
        waits = [asyncio.create_task(stop.wait()), asyncio.create_task(self._queue.wait_for_work(IDLE_POLL_SECONDS))]
        try:
            await asyncio.wait(waits, timeout=IDLE_POLL_SECONDS, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
            await asyncio.gather(*waits, return_exceptions=True)

    async def handle(self, claim: ClaimedJob) -> None:
        with delivery_span(claim):
            await self._handle(claim)

    async def _handle(self, claim: ClaimedJob) -> None:
        if claim.payload.get("kind") == CHUNK_KIND:
            await self._handle_chunk(claim)
            return
        log.info("claimed job %s (delivery %d)", claim.job_id, claim.attempt)
        try:
            attempt = await self._reporting(
                claim, lambda: self._jobs.start(claim.job_id, delivery_token(claim), self._config.worker_id)
            )
        except REFUSALS as refusal:
            # Finished, cancelled or deleted while queued, or a duplicate of a delivery that runs elsewhere:
            # nothing to do here. Should that other run die, the job service queues the job again.
            log.info("job %s not started: %s", claim.job_id, refusal.message)
            await self._queue.complete(claim)
            return
        except Exception as error:
            retried = claim.attempt < self._config.max_attempts
            await self._queue.fail(claim, error=_transient_message(error, retried=retried), retryable=True)
            return
        work_dir = self._config.scratch / f"{attempt.job_id}-{attempt.number}"
        try:
            await self._run_attempt(claim, attempt, work_dir)
        finally:
            await asyncio.to_thread(shutil.rmtree, work_dir, True)

    async def _handle_chunk(self, claim: ClaimedJob) -> None:
        """One chunk of another worker's attempt."""
        if self._chunks is None:
            await self._queue.fail(claim, error="This worker does not encode chunks.", retryable=True)
            return
        await self._chunks.handle(claim)

    async def _run_attempt(self, claim: ClaimedJob, attempt: Attempt, work_dir: Path) -> None:
        progress = _ProgressState()
        work = asyncio.create_task(self._work(attempt, work_dir, progress))
        heartbeat = asyncio.create_task(self._heartbeat(claim, attempt, progress, work))
        try:
            result = await work
        except asyncio.CancelledError:
            if not heartbeat.done():
                raise
            log.info("job %s attempt %d stopped: %s", attempt.job_id, attempt.number, progress.stop_reason)
            await self._discard(attempt)
            await self._queue.complete(claim)
            return
        except InvalidArgument as error:
            await self._fail(claim, attempt, "INVALID_ARGUMENT", error.message, retryable=False)
            return
        except Exception as error:
            log.warning("job %s attempt %d failed", attempt.job_id, attempt.number, exc_info=True)
            await self._fail(claim, attempt, "UNAVAILABLE", error, retryable=True)
            return
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        await self._complete(claim, attempt, result)

    async def _work(self, attempt: Attempt, work_dir: Path, progress: _ProgressState) -> tuple[TranscodeResult, str]:
        source = work_dir / "source"
        await asyncio.to_thread(work_dir.mkdir, parents=True, exist_ok=True)
        with observed_stage("download"):
            if attempt.source_url and await _storing(lambda: self._blobs.head(attempt.input_source)) is None:
                await self._import_source(attempt, source)
            else:
                await _storing(lambda: self._blobs.download_file(attempt.input_source, source))
        progress.update("PROCESSING", 0.05)
        prefix = attempt_prefix(attempt.video_id, attempt.job_id, attempt.number)
        live = self._live_upload(attempt, prefix, work_dir / "published")
        result = await self._transcoder.transcode(
            source,
            work_dir,
            formats=attempt.output_formats,
            on_progress=lambda done: progress.update("PROCESSING", done),
            sink=live,
            options=attempt.options,
            chunks=self._chunked(attempt),
        )
        progress.update("UPLOADING", 0.96)
        with observed_stage("upload"):
            await live.upload_rest(result.output_dir)
        return result, prefix

    def _chunked(self, attempt: Attempt) -> ChunkedAttempt | None:
        """How this attempt's source is encoded in chunks across workers if it is long enough."""
        if self._chunking is None:
            return None
        return ChunkedAttempt(self._chunking, self._queue, self._blobs, attempt)

    def _live_upload(self, attempt: Attempt, prefix: str, staging: Path) -> PresentationUpload:
        """Segments go up as each completes, into this attempt's folder only; once a player can start, the job
        service is told, and the video plays from them until a completed output is published."""

        async def upload(path: Path, relative: str) -> None:
            await _storing(lambda: self._blobs.upload_file(path, prefix + relative, guess_content_type(path)))

        stored = encrypting_upload(upload, attempt.options, staging / "encrypted")

        async def announce(snapshot: PresentationSnapshot) -> None:
            assets = [
                ProducedAsset(m.kind, m.quality, prefix + m.relative, guess_content_type(Path(m.relative)), len(data))
                for m, data in snapshot.manifests
                if m.kind
            ]
            await self._jobs.record_live_output(attempt, prefix, assets, snapshot.renditions, snapshot.has_audio)

        return PresentationUpload(stored, staging, announce)

    async def _import_source(self, attempt: Attempt, source: Path) -> None:
        """An imported video's source, not stored yet: fetched through the outbound policy, checked and probed as
        an upload is, its findings recorded, then stored, so later attempts and jobs read it like an upload's.
        Recorded before it is stored: a stored source always had its findings recorded."""
        if self._importer is None:
            raise SourceUnavailable("this worker cannot fetch URLs")
        info = await self._importer.fetch(attempt.source_url, source)
        await self._jobs.record_source(attempt, info)
        content_type = guess_content_type(source)
        await _storing(lambda: self._blobs.upload_file(source, attempt.input_source, content_type))

    async def _heartbeat(
        self, claim: ClaimedJob, attempt: Attempt, progress: _ProgressState, work: asyncio.Task[object]
    ) -> None:
        """Renews the leases and reports progress; cancels the work when it must stop."""
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
                if await self._jobs.progress(attempt, progress.state, progress.percent):
                    raise StopWork("the job was cancelled")
            except StopWork as stop:
                progress.stop_reason = str(stop)
                work.cancel()
                return
            except REFUSALS as refusal:
                progress.stop_reason = refusal.message or "the job moved on"
                work.cancel()
                return
            except Exception:
                # A database, queue or job service that is restarting: keep working; the leases outlive a short
                # outage, and a job whose lease lapsed is taken over by a newer attempt, which fences this one.
                log.warning("progress report or lease renewal failed; retrying", exc_info=True)

    async def _complete(self, claim: ClaimedJob, attempt: Attempt, outcome: tuple[TranscodeResult, str]) -> None:
        result, prefix = outcome
        assets = [
            ProducedAsset(
                kind=file.kind,
                quality=file.quality,
                key=prefix + file.relative,
                content_type=guess_content_type(result.output_dir / file.relative),
                size_bytes=(result.output_dir / file.relative).stat().st_size,
            )
            for file in result.files
            if file.kind
        ]
        try:
            await self._report_completion(claim, attempt, prefix, assets, result)
        except REFUSALS as refusal:
            # Refused (cancelled, superseded, deleted): the job service removes this attempt's objects, through
            # the guard that keeps whatever a video plays from. The worker itself never deletes media.
            log.info("job %s attempt %d not published: %s", attempt.job_id, attempt.number, refusal.message)
            await self._discard(attempt)
            await self._queue.complete(claim)
            return
        except Unavailable:
            # The answer is unknown: the completion may have taken effect. Another delivery finds out, and
            # repeats nothing that did.
            await self._queue.fail(claim, error="Could not record the finished transcode.", retryable=True)
            return
        await self._queue.complete(claim)
        log.info("job %s attempt %d completed", attempt.job_id, attempt.number)

    async def _report_completion(
        self, claim: ClaimedJob, attempt: Attempt, prefix: str, assets: list[ProducedAsset], result: TranscodeResult
    ) -> None:
        """The outputs are uploaded: worth waiting out an outage before the work is redone. Safe to repeat: a
        completion that already took effect answers OK."""
        has_audio, loudness = result.info.has_audio, result.loudness
        await self._reporting(
            claim, lambda: self._jobs.complete(attempt, prefix, assets, result.renditions, has_audio, loudness)
        )

    async def _reporting(self, claim: ClaimedJob, report: Callable[[], Awaitable[T]]) -> T:
        """Sends a report until the job service answers, holding the delivery's lease meanwhile; Unavailable
        once the waits run out."""
        for delay in REPORT_RETRY_SECONDS:
            try:
                return await report()
            except Unavailable:
                log.warning("the job service did not answer; trying again in %.0f s", delay)
                await asyncio.sleep(delay)
                with contextlib.suppress(Exception):
                    await self._queue.renew(claim, self._config.lease_seconds)
        return await report()

    async def _fail(
        self, claim: ClaimedJob, attempt: Attempt, code: str, error: Exception | str, *, retryable: bool
    ) -> None:
        will_retry = retryable and claim.attempt < self._config.max_attempts
        message = error if isinstance(error, str) else _transient_message(error, retried=will_retry)
        with contextlib.suppress(Exception):
            await self._reporting(claim, lambda: self._jobs.fail(attempt, code, message, will_retry=will_retry))
        await self._discard(attempt)
        await self._queue.fail(claim, error=message, retryable=retryable)

    async def _discard(self, attempt: Attempt) -> None:
        try:
            await self._jobs.discard(attempt)
        except Exception as error:
            # Left for `videoforge admin reconcile`, which removes what nothing references.
            log.warning("could not discard job %s attempt %d: %s", attempt.job_id, attempt.number, error)


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
        self.state = "DOWNLOADING"
        self.fraction = 0.0
        self.stop_reason = ""

    def update(self, state: str, fraction: float) -> None:
        self.state, self.fraction = state, max(self.fraction, min(fraction, 0.99))

    @property
    def percent(self) -> int:
        return int(self.fraction * 100)


async def _storing(transfer: Callable[[], Awaitable[T]]) -> T:
    """A transfer to or from the object store, tried again while the store is restarting: the delivery's lease
    is renewed by the heartbeat meanwhile, so a store outage does not use up the job's attempts. Keys are the
    same on every try, so a repeated upload only writes the same objects again."""
    for delay in REPORT_RETRY_SECONDS:
        try:
            return await transfer()
        except BlobNotFound:
            raise  # the store answered: the object is not there; waiting will not bring it
        except BlobStoreError as error:
            log.warning("the object store failed (%s); trying again in %.0f s", error, delay)
            await asyncio.sleep(delay)
    return await transfer()


def _transient_message(error: Exception, *, retried: bool) -> str:
    then = "it will be retried" if retried else "no tries are left; an administrator can restart it"
    if isinstance(error, SourceUnavailable):
        return f"{error.message}; {then}."
    return f"The transcode hit a temporary problem ({type(error).__name__}); {then}."
