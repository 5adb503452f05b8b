"""Job use cases for users, administrators and transcoder workers."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from videoforge.job.adapters.repository import PostgresJobRepository
from videoforge.job.domain.jobs import (
    CANCELLED,
    COMPLETED,
    DOWNLOADING,
    FAILED,
    PENDING,
    STATES,
    WORKING_STATES,
    Asset,
    Job,
    JobError,
    attempt_prefix,
    ensure_visible,
    job_not_found,
    job_outputs_prefix,
    video_outputs_prefix,
)
from videoforge.job.domain.ports import VideoDirectory, VideoRef, VideoUpdate
from videoforge.kit.cdn import MediaSigner
from videoforge.kit.errors import Aborted, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied, require
from videoforge.kit.ids import new_id
from videoforge.kit.paging import PageInfo, page_info, page_request, parse_filter
from videoforge.kit.principal import require_admin, require_user
from videoforge.queue.port import JobQueue
from videoforge.storage.port import BlobStore
from videoforge.transcoder.domain.ladder import parse_formats

log = logging.getLogger(__name__)

# How often a watcher re-reads the job when no in-process change woke it (another replica's change).
WATCH_POLL_SECONDS = 2.0


@dataclass(frozen=True)
class JobStats:
    by_state: dict[str, int]
    total: int
    average_processing_seconds: float
    storage_bytes: int
    queue_depth: int


@dataclass(frozen=True)
class Download:
    url: str
    expires_in: int
    filename: str


class JobChanges:
    """Wakes watchers of a job when this process changes it."""

    def __init__(self) -> None:
        self._events: dict[str, set[asyncio.Event]] = defaultdict(set)

    def notify(self, job_id: str) -> None:
        for event in self._events.get(job_id, ()):
            event.set()

    async def wait(self, job_id: str, timeout: float) -> None:
        event = asyncio.Event()
        self._events[job_id].add(event)
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            pass
        finally:
            self._events[job_id].discard(event)
            if not self._events[job_id]:
                del self._events[job_id]


class Jobs:
    def __init__(
        self,
        repository: PostgresJobRepository,
        queue: JobQueue,
        videos: VideoDirectory,
        blobs: BlobStore,
        signer: MediaSigner | None,
        *,
        url_seconds: int,
    ) -> None:
        self._repo, self._queue, self._videos, self._blobs = repository, queue, videos, blobs
        self._signer, self._url_seconds = signer, url_seconds
        self.changes = JobChanges()

    # Users

    async def create_job(self, video_id: str, input_source: str, formats: list[str]) -> Job:
        principal = require_user()
        if not video_id.strip() and not input_source.strip():
            raise InvalidArgument.for_field("video_id", "give a video id or an uploaded input_source", "MISSING_FIELD")
        normalised = parse_formats(formats)
        video = await self._videos.lookup(
            video_id=video_id.strip(), source_key=input_source.strip(), authorization=principal.token
        )
        if not principal.may_manage(video.owner_id):
            raise PermissionDenied("Only the video's owner can transcode it.", "NOT_OWNER")
        now = datetime.now(UTC)
        job = Job(
            id=new_id(),
            video_id=video.id,
            owner_id=video.owner_id,
            input_source=video.source_key,
            output_formats=normalised,
            state=PENDING,
            progress=0,
            attempt=0,
            create_time=now,
            update_time=now,
            media=video.media,
        )
        await self._repo.create(job, {"video_id": video.id})
        await self._tell_video(job)
        return job

    async def get_job(self, name: str) -> Job:
        job_id = _bare(name)
        return ensure_visible(await self._repo.get(job_id), job_id, require_user())

    async def list_jobs(
        self, *, page_size: int, page_token: str, page: int, limit: int, filter_text: str, all_users: bool
    ) -> tuple[list[Job], PageInfo]:
        principal = require_admin() if all_users else require_user()
        terms = parse_filter(filter_text, ("state", "user", "video") if all_users else ("state", "video"))
        state = terms.get("state", "").upper()
        if state and state not in STATES:
            raise InvalidArgument.for_field("filter", f"state must be one of {', '.join(STATES)}", "BAD_FILTER")
        request = page_request(page_size=page_size, page_token=page_token, page=page, limit=limit)
        owner = terms.get("user", "") if all_users else principal.user_id
        found, total = await self._repo.list(
            owner_id=owner, state=state, video_id=terms.get("video", ""), offset=request.offset, limit=request.limit
        )
        return found, page_info(request, len(found), total)

    async def watch_job(self, name: str) -> AsyncIterator[Job]:
        job = await self.get_job(name)
        yield job
        while not job.is_final:
            await self.changes.wait(job.id, WATCH_POLL_SECONDS)
            latest = await self._repo.get(job.id)
            if latest is None:
                return
            if (latest.state, latest.progress, latest.attempt) != (job.state, job.progress, job.attempt):
                yield latest
            job = latest

    async def cancel_job(self, name: str) -> Job:
        job = await self.get_job(name)
        if job.is_final:
            raise FailedPrecondition(f"The job is already {job.state.lower()}; nothing to cancel.", "JOB_FINISHED")
        cancelled = await self._repo.finish_unless_final(job.id, {"state": CANCELLED, "end_time": datetime.now(UTC)})
        if cancelled is None:
            raise FailedPrecondition("The job finished while cancelling.", "JOB_FINISHED")
        # The worker learns of it from its next progress report (within about a second) and stops FFmpeg.
        await self._queue.cancel(job.id)
        await self._changed(cancelled)
        return cancelled

    async def list_assets(self, name: str) -> list[Asset]:
        job = await self.get_job(name)
        return await self._repo.assets_of(job.id)

    async def asset_download(self, job_name: str, asset_id: str) -> Download:
        job = await self.get_job(job_name)
        asset = next((a for a in await self._repo.assets_of(job.id) if a.id == asset_id), None)
        if asset is None:
            raise NotFound(f"Job {job.id!r} has no asset {asset_id!r}.", "ASSET_NOT_FOUND")
        if self._signer is None:
            raise FailedPrecondition("Signed downloads are not configured (CDN_PRIVATE_KEY_FILE).", "NO_SIGNER")
        filename = asset.key.rsplit("/", 1)[-1]
        return Download(self._signer.sign_key(asset.key, self._url_seconds), self._url_seconds, filename)

    # Administrators

    async def stats(self) -> JobStats:
        require_admin()
        counts = await self._repo.state_counts()
        return JobStats(
            by_state={state: counts.get(state, 0) for state in STATES},
            total=sum(counts.values()),
            average_processing_seconds=await self._repo.average_processing_seconds(),
            storage_bytes=await self._blobs.total_size(""),
            queue_depth=await self._queue.depth(),
        )

    async def restart_failed(self) -> list[str]:
        require_admin()
        restarted = await self._repo.restart_failed()
        for job in restarted:
            await self._changed(job)
        return [job.id for job in restarted]

    async def cleanup_old(self, days: int) -> tuple[int, int]:
        require_admin()
        if days < 1:
            raise InvalidArgument.for_field("days", "must be at least 1", "BAD_DAYS")
        old = await self._repo.old_finished(days)
        freed = 0
        for job in old:
            freed += await self._blobs.delete_prefix(job_outputs_prefix(job.video_id, job.id))
        if old:
            await self._repo.delete_jobs([j.id for j in old])
        return len(old), freed

    # Workers

    async def start_attempt(self, job_id: str, attempt: int) -> Job:
        job = await self._repo.get(job_id)
        if job is None:
            raise job_not_found(job_id)
        if job.is_final:
            raise FailedPrecondition(f"The job is {job.state.lower()}.", "JOB_FINISHED")
        started = await self._repo.start_attempt(
            job_id,
            attempt,
            {"attempt": attempt, "state": DOWNLOADING, "progress": 0, "start_time": datetime.now(UTC)},
        )
        if started is None:
            raise Aborted(f"Attempt {attempt} is stale; a newer attempt holds the job.", "STALE_ATTEMPT")
        await self._changed(started)
        return started

    async def report_progress(self, job_id: str, attempt: int, state: str, progress: int) -> bool:
        """Returns True when the job was cancelled and the worker must stop."""
        if state not in WORKING_STATES:
            raise InvalidArgument.for_field("state", f"must be one of {', '.join(WORKING_STATES)}", "BAD_STATE")
        job = await self._repo.report(job_id, attempt, {"state": state, "progress": max(0, min(progress, 99))})
        if job is not None:
            await self._changed(job)
            return False
        return await self._refusal(job_id, attempt)

    async def complete_attempt(
        self, job_id: str, attempt: int, output_prefix: str, produced: list[Asset], renditions: list[dict[str, Any]]
    ) -> Job:
        current = await self._repo.get(job_id)
        if current is None:
            raise job_not_found(job_id)
        if not output_prefix.startswith(attempt_prefix(current.video_id, job_id, attempt)):
            raise InvalidArgument.for_field("output_prefix", "is not this attempt's prefix", "BAD_PREFIX")
        produced = [replace(a, video_id=current.video_id, job_id=job_id, id=a.id or new_id()) for a in produced]
        values = {"state": COMPLETED, "progress": 100, "output_prefix": output_prefix, "renditions": renditions}
        job = await self._repo.complete(job_id, attempt, values, produced)
        if job is None:
            await self._refusal(job_id, attempt)
            raise FailedPrecondition("The job was cancelled.", "JOB_CANCELLED")
        await self._changed(job, published=produced)
        return job

    async def fail_attempt(self, job_id: str, attempt: int, error: JobError, will_retry: bool) -> Job:
        values: dict[str, Any] = (
            {"state": PENDING, "progress": 0}
            if will_retry
            else {"state": FAILED, "error": error.__dict__, "end_time": datetime.now(UTC)}
        )
        job = await self._repo.report(job_id, attempt, values)
        if job is None:
            await self._refusal(job_id, attempt)
            raise FailedPrecondition("The job already finished.", "JOB_FINISHED")
        await self._changed(job)
        return job

    async def fail_dead_letters(self) -> int:
        """Jobs whose every delivery was lost (workers died) end FAILED instead of staying in flight."""
        failed = 0
        for letter in await self._queue.dead_letters():
            error = {
                "code": "UNAVAILABLE",
                "message": f"The transcode was given up: {letter.error}",
                "reason": "DEAD_LETTER",
            }
            job = await self._repo.finish_unless_final(
                letter.job_id, {"state": FAILED, "error": error, "end_time": datetime.now(UTC)}
            )
            if job is not None:
                failed += 1
                await self._changed(job)
        return failed

    async def resync_videos(self) -> int:
        """Retells videos the latest state of jobs whose update did not get through; returns how many."""
        told = 0
        for job in await self._repo.unsynced():
            await self._repo.set_video_synced(job.id, True)
            published = await self._repo.published(job.video_id)
            assets = published[1] if published and published[0].id == job.id else None
            await self._tell_video(job, assets)
            told += 1
        return told

    async def published_output(self, video_id: str) -> tuple[Job, list[Asset]]:
        published = await self._repo.published(video_id)
        if published is None:
            raise NotFound("The video has no playable output yet.", "NOT_READY")
        return published

    async def purge_video(self, video_id: str) -> int:
        jobs = await self._repo.for_video(video_id)
        for job in jobs:
            if not job.is_final:
                await self._repo.finish_unless_final(job.id, {"state": CANCELLED, "end_time": datetime.now(UTC)})
                await self._queue.cancel(job.id)
                self.changes.notify(job.id)
        freed = await self._blobs.delete_prefix(video_outputs_prefix(video_id))
        await self._repo.delete_jobs([job.id for job in jobs])
        return freed

    # Internals

    async def _refusal(self, job_id: str, attempt: int) -> bool:
        job = await self._repo.get(job_id)
        if job is None or job.state == CANCELLED:
            return True
        if job.attempt != attempt:
            raise Aborted(f"Attempt {attempt} is stale; attempt {job.attempt} holds the job.", "STALE_ATTEMPT")
        raise FailedPrecondition(f"The job is already {job.state.lower()}.", "JOB_FINISHED")

    async def _changed(self, job: Job, published: list[Asset] | None = None) -> None:
        self.changes.notify(job.id)
        await self._tell_video(job, published)

    async def _tell_video(self, job: Job, published: list[Asset] | None = None) -> None:
        by_kind = {a.kind: a.key for a in published or ()}
        update = VideoUpdate(
            video_id=job.video_id,
            job_id=job.id,
            state=job.state,
            progress=job.progress,
            error_message=job.error.message if job.error else "",
            published=bool(published),
            poster_key=by_kind.get("POSTER", ""),
            preview_key=by_kind.get("PREVIEW", ""),
            duration_seconds=job.duration_seconds,
        )
        try:
            await self._videos.record(update)
        except Exception:
            # The job's own state is the record: flag it, and the sweep retells the video until it hears.
            log.warning("could not update video %s for job %s", job.video_id, job.id, exc_info=True)
            await self._repo.set_video_synced(job.id, False)


def _bare(name: str) -> str:
    """Accepts `jobs/{id}` or a bare id."""
    return require(name, "name").removeprefix("jobs/")


__all__ = ["Download", "JobStats", "Jobs", "VideoRef"]
