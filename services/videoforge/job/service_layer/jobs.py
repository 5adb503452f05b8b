"""Job use cases for users, administrators, transcoder workers and the gallery.

Every report a worker sends may arrive twice (a lost reply is retried): a repeat of a report that already
took effect answers OK with the job as it stands. Attempts only move forward: each delivery that starts a job
gets attempt n+1 and its own output prefix. Media is deleted only through the guard, which refuses whatever a
video plays from or a completed job produced.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from videoforge.content_protection import ContentKey
from videoforge.job.domain.jobs import (
    CANCELLED,
    COMPLETED,
    FAILED,
    PENDING,
    STATES,
    WORKING_STATES,
    Asset,
    Job,
    JobError,
    JobEvent,
    checked_loudness,
    covering_job,
    ensure_visible,
    job_not_found,
)
from videoforge.job.domain.ports import ContentKeys, JobRepository
from videoforge.job.service_layer.job_watch import JobChanges, WatchLimits
from videoforge.kit.cdn import MediaSigner
from videoforge.kit.errors import Aborted, FailedPrecondition, InvalidArgument, NotFound, require
from videoforge.kit.ids import new_id
from videoforge.kit.paging import PageInfo, page_info, page_request, parse_filter
from videoforge.kit.principal import require_admin, require_user
from videoforge.media_model import (
    VIDEOS_ROOT,
    EncodingOptions,
    MediaSummary,
    Rendition,
    attempt_prefix,
    is_key_under,
    job_outputs_prefix,
    output_folder,
    parse_formats,
    video_of_key,
    video_outputs_prefix,
)
from videoforge.queue.port import LEASES_EXHAUSTED, JobQueue
from videoforge.storage.guard import GuardedMedia
from videoforge.storage.port import BlobStore

log = logging.getLogger(__name__)

MAX_EVENTS_PER_CALL = 500
MAX_EVENT_WAIT_SECONDS = 20.0
# A finished job's attempts are swept again while it is between these ages (the sweep runs every few seconds).
RESWEEP_AFTER, RESWEEP_UNTIL = timedelta(seconds=30), timedelta(seconds=45)
# Runs a job gets when every delivery of a run lost its worker, before it counts as failed.
LAPSED_RUNS = 1
# A century: any job is younger, and the cutoff date stays far from the calendar's end.
MAX_CLEANUP_DAYS = 36_500


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


@dataclass(frozen=True)
class OutputsReport:
    orphaned_prefixes: list[str]
    orphaned_bytes: int
    applied: bool


@dataclass(frozen=True)
class NewJob:
    """Everything a job needs, from the gallery that owns the video: the job service never asks back."""

    video_id: str
    owner_id: str
    input_source: str
    media: MediaSummary
    output_formats: list[str]
    request_id: str
    # Answer with a running or completed job of the video that makes every requested format, if there is one.
    reuse_covering: bool = False
    # An imported video's URL, fetched by the worker while `input_source` is not stored yet.
    source_url: str = ""
    # Raw, as the caller sent them: checked by create_job.
    codecs: list[str] = field(default_factory=list)
    protection: str = ""


class Jobs:
    def __init__(
        self,
        repository: JobRepository,
        queue: JobQueue,
        blobs: BlobStore,
        signer: MediaSigner | None,
        *,
        url_seconds: int,
        lease_seconds: float,
        retry_seconds: float = 330.0,
        watch_limits: WatchLimits | None = None,
        content_keys: ContentKeys | None = None,
    ) -> None:
        self._repo, self._queue, self._blobs = repository, queue, blobs
        # None: no key-sealing secret is set, so no job may ask for protection.
        self._content_keys = content_keys
        self._media = GuardedMedia(blobs, self._references)
        self._signer, self._url_seconds = signer, url_seconds
        # A job waiting for a retry must be started again within `retry_seconds` (the queue's longest backoff
        # plus a lease), or the sweep queues it again: its message may have been dropped as a duplicate.
        self._lease_seconds, self._retry_seconds = lease_seconds, retry_seconds
        self.changes = JobChanges(self._repo.get, watch_limits)

    # The gallery

    async def create_job(self, new: NewJob) -> Job:
        video_id = require(new.video_id, "video_id")
        request_id = require(new.request_id, "request_id")
        if len(request_id) > 64:
            raise InvalidArgument.for_field("request_id", "must be at most 64 characters", "BAD_REQUEST_ID")
        formats = parse_formats(new.output_formats)
        options = EncodingOptions.parse(new.codecs, new.protection)
        if new.reuse_covering and (covering := covering_job(await self._repo.for_video(video_id), formats, options)):
            return covering
        if options.protection:
            await self._key_store().key_for(video_id)  # made with the job, so its worker and players find it
        now = datetime.now(UTC)
        job = Job(
            id=new_id(),
            video_id=video_id,
            owner_id=require(new.owner_id, "owner_id"),
            input_source=require(new.input_source, "input_source"),
            output_formats=formats,
            state=PENDING,
            progress=0,
            attempt=0,
            create_time=now,
            update_time=now,
            media=new.media,
            request_id=request_id,
            source_url=new.source_url,
            codecs=list(options.codecs),
            protection=options.protection,
        )
        return await self._repo.create(job)

    async def job_events(self, limit: int, wait_seconds: float = 0) -> list[JobEvent]:
        """The oldest unacknowledged events; with none, waits up to `wait_seconds` for a change of any job."""
        limit = max(1, min(limit or 100, MAX_EVENTS_PER_CALL))
        found = await self._repo.events(limit)
        if found or wait_seconds <= 0:
            return found
        await self.changes.wait_any(min(wait_seconds, MAX_EVENT_WAIT_SECONDS))
        return await self._repo.events(limit)

    async def acknowledge_events(self, event_ids: list[int]) -> None:
        if event_ids:
            await self._repo.acknowledge_events(event_ids)

    # Users

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
        """The job, then each change of it, until it ends, is deleted, or the stream's lifetime is up (clients
        then resume). Every watcher of a job shares one read per change."""
        principal, job_id = require_user(), _bare(name)
        async with self.changes.stream_slot(principal.user_id), self.changes.follow(job_id) as feed:
            seen = feed.generation
            if feed.job is None:
                read = await self._repo.get(job_id)
                if feed.generation == seen:
                    feed.publish(read)
            job = ensure_visible(feed.job, job_id, principal)
            seen = feed.generation
            yield job
            clock = asyncio.get_running_loop()
            deadline = clock.time() + self.changes.limits.stream_seconds()
            while not job.is_final:
                remaining = deadline - clock.time()
                if remaining <= 0 or not await feed.changed_since(seen, remaining) or feed.job is None:
                    return
                seen, latest = feed.generation, feed.job
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
        # The worker learns of it from its next progress report (within about a second) and stops FFmpeg; it
        # discards what it uploaded, and whatever came before goes now.
        await self._queue.cancel(job.id)
        self.changes.notify(job.id)
        await self._sweep_attempts(cancelled)
        return cancelled

    async def list_assets(self, name: str) -> list[Asset]:
        return await self._shown_assets(await self.get_job(name))

    async def asset_download(self, job_name: str, asset_id: str) -> Download:
        job = await self.get_job(job_name)
        asset = next((a for a in await self._shown_assets(job) if a.id == asset_id), None)
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
        """Each failed job runs again as a new run: attempt numbers keep growing, so outputs get new prefixes."""
        require_admin()
        restarted = await self._repo.restart_failed()
        if restarted:
            # An old dead letter must not fail the job again.
            await self._queue.discard_dead_letters([job.id for job in restarted])
        for job in restarted:
            self.changes.notify(job.id)
        return [job.id for job in restarted]

    async def cleanup_old(self, days: int) -> tuple[int, int]:
        require_admin()
        if not 1 <= days <= MAX_CLEANUP_DAYS:
            raise InvalidArgument.for_field("days", f"must be from 1 to {MAX_CLEANUP_DAYS}", "BAD_DAYS")
        old = await self._repo.old_finished(days)
        if not old:
            return 0, 0
        # Rows first: the guard then sees the outputs as unreferenced. A crash in between leaves orphans for
        # `admin reconcile`, never a job pointing at deleted media.
        await self._repo.delete_jobs([j.id for j in old])
        freed = 0
        for job in old:
            freed += await self._media.delete_prefix(job_outputs_prefix(job.video_id, job.id))
        return len(old), freed

    async def reconcile_outputs(self, apply: bool) -> OutputsReport:
        """Output folders nothing references: attempts of missing or finished jobs other than a completed
        output, and superseded attempts. An unfinished job's current attempt is left alone, whatever its state.
        Objects are listed before jobs are read, so a job that moved on meanwhile is seen as it is now."""
        require_admin()
        folders: dict[str, int] = defaultdict(int)
        for info in await self._blobs.list(VIDEOS_ROOT):
            folders[output_folder(info.key)] += info.size
        jobs = {job.id: job for job in await self._repo.for_videos(sorted({video_of_key(f) for f in folders}))}
        videos_with_jobs = {job.video_id for job in jobs.values()}
        orphaned = sorted(f for f in folders if not _referenced(f, jobs, videos_with_jobs))
        if apply:
            for folder in orphaned:
                await self._media.delete_prefix(folder)
        return OutputsReport(orphaned, sum(folders[f] for f in orphaned), apply)

    # Workers

    async def start_attempt(self, job_id: str, delivery_token: str) -> Job:
        job_id, delivery_token = require(job_id, "job_id"), require(delivery_token, "delivery_token")
        started = await self._repo.start_attempt(job_id, delivery_token, self._lease_seconds)
        if started is not None:
            self.changes.notify(job_id)
            return started
        job = await self._repo.get(job_id)
        if job is None:
            raise job_not_found(job_id)
        if job.delivery_token == delivery_token and not job.is_final:
            return job  # a repeat of the start that took effect: the reply was lost
        if job.is_final:
            raise FailedPrecondition(f"The job is {job.state.lower()}.", "JOB_FINISHED")
        raise Aborted(f"Attempt {job.attempt} of the job is running; this delivery is a duplicate.", "JOB_HELD")

    async def report_progress(self, job_id: str, attempt: int, state: str, progress: int) -> bool:
        """Returns True when the job was cancelled and the worker must stop."""
        if state not in WORKING_STATES:
            raise InvalidArgument.for_field("state", f"must be one of {', '.join(WORKING_STATES)}", "BAD_STATE")
        values = {"state": state, "progress": max(0, min(progress, 99))}
        job = await self._repo.report(job_id, attempt, values, lease_seconds=self._lease_seconds)
        if job is not None:
            self.changes.notify(job.id)
            return False
        current = await self._settled(job_id, attempt)
        # Gone or cancelled: stop. Completed by this very attempt: a late progress report, nothing to do.
        return current is None or current.state == CANCELLED

    async def record_source(self, job_id: str, attempt: int, media: MediaSummary) -> Job:
        """An imported source was fetched, checked and stored: the job, and through its event the video, show
        what the probe found. A repeat answers the job as it stands."""
        job_id = require(job_id, "job_id")
        if media.duration_seconds <= 0 or media.width <= 0 or media.height <= 0:
            raise InvalidArgument.for_field("media", "needs a duration and a size", "BAD_MEDIA")
        job = await self._repo.report(job_id, attempt, {"media": media}, lease_seconds=self._lease_seconds)
        if job is not None:
            self.changes.notify(job.id)
            return job
        settled = await self._settled(job_id, attempt)
        if settled is None:
            raise job_not_found(job_id)
        raise FailedPrecondition(f"The job is already {settled.state.lower()}.", "JOB_FINISHED")

    async def record_live_output(
        self, job_id: str, attempt: int, output_prefix: str, manifests: list[Asset], renditions: list[Rendition]
    ) -> Job:
        """A running attempt's output can be watched while it grows: the video plays from it until a completed
        output is published. A repeat answers the job as it stands."""
        job = await self._repo.get(require(job_id, "job_id"))
        if job is None:
            raise job_not_found(job_id)
        if output_prefix != attempt_prefix(job.video_id, job.id, attempt):
            raise InvalidArgument.for_field("output_prefix", "is not this attempt's prefix", "BAD_PREFIX")
        kinds = {a.kind for a in manifests}
        if any(not a.key.startswith(output_prefix) for a in manifests) or not {"HLS_MASTER", "DASH_MANIFEST"} <= kinds:
            raise InvalidArgument.for_field(
                "assets", "needs the HLS master and the MPD, under the output prefix", "BAD_ASSET"
            )
        manifests = [replace(a, video_id=job.video_id, job_id=job.id, id=a.id or new_id()) for a in manifests]
        recorded = await self._repo.record_live(
            job.id, attempt, {"renditions": renditions}, manifests, lease_seconds=self._lease_seconds
        )
        if recorded is not None:
            self.changes.notify(recorded.id)
            return recorded
        settled = await self._settled(job.id, attempt)
        if settled is None:
            raise job_not_found(job_id)
        raise FailedPrecondition(f"The job is already {settled.state.lower()}.", "JOB_FINISHED")

    async def complete_attempt(
        self,
        job_id: str,
        attempt: int,
        output_prefix: str,
        produced: list[Asset],
        renditions: list[Rendition],
        *,
        loudness: Mapping[str, float] | None = None,
    ) -> Job:
        """`loudness`: what the worker measured of the default audio track (figures by name), None without."""
        current = await self._repo.get(job_id)
        if current is None:
            raise job_not_found(job_id)
        if output_prefix != attempt_prefix(current.video_id, job_id, attempt):
            raise InvalidArgument.for_field("output_prefix", "is not this attempt's prefix", "BAD_PREFIX")
        if current.state == COMPLETED and current.attempt == attempt and current.output_prefix == output_prefix:
            return current  # the repeat of a completion that took effect
        if any(not is_key_under(a.key, output_prefix) for a in produced):
            raise InvalidArgument.for_field("assets", "every asset must lie under the output prefix", "BAD_ASSET")
        produced = [replace(a, video_id=current.video_id, job_id=job_id, id=a.id or new_id()) for a in produced]
        values = {"state": COMPLETED, "progress": 100, "output_prefix": output_prefix, "renditions": renditions}
        values["loudness"] = checked_loudness(loudness)
        job = await self._repo.complete(job_id, attempt, values, produced)
        if job is None:
            settled = await self._settled(job_id, attempt)
            if settled is not None and settled.state == COMPLETED and settled.output_prefix == output_prefix:
                return settled  # a concurrent repeat got there first
            raise FailedPrecondition("The job was cancelled; its outputs are not kept.", "JOB_CANCELLED")
        self.changes.notify(job.id)
        await self._sweep_attempts(job)
        return job

    async def fail_attempt(self, job_id: str, attempt: int, error: JobError, will_retry: bool) -> Job:
        values: dict[str, Any] = (
            {"state": PENDING, "progress": 0}
            if will_retry
            else {"state": FAILED, "error": error, "end_time": datetime.now(UTC)}
        )
        job = await self._repo.report(job_id, attempt, values, lease_seconds=self._retry_seconds if will_retry else 0)
        if job is not None:
            self.changes.notify(job.id)
            if job.is_final:
                await self._sweep_attempts(job)
            return job
        settled = await self._settled(job_id, attempt)
        if settled is None:
            raise job_not_found(job_id)
        if settled.state == (PENDING if will_retry else FAILED):
            return settled  # the repeat of a failure that took effect
        raise FailedPrecondition(f"The job is already {settled.state.lower()}.", "JOB_FINISHED")

    async def discard_attempt(self, job_id: str, attempt: int, video_id: str) -> int:
        """Deletes a stopped attempt's uploads; the guard keeps anything a video or completed job uses."""
        job_id, video_id = require(job_id, "job_id"), require(video_id, "video_id")
        job = await self._repo.get(job_id)
        if job is not None and job.video_id != video_id:
            raise InvalidArgument.for_field("video_id", "is not the job's video", "BAD_VIDEO")
        if job is not None and job.attempt == attempt and job.is_working:
            raise FailedPrecondition("The attempt is still running.", "ATTEMPT_RUNNING")
        return await self._media.delete_prefix(attempt_prefix(video_id, job_id, attempt))

    async def fail_dead_letters(self) -> int:
        """Jobs whose every delivery was lost (workers died) end FAILED instead of staying in flight; those whose
        workers kept dying get one more run first, since a crash of the machines is likelier than of the file."""
        failed = 0
        letters = await self._queue.dead_letters()
        for letter in letters:
            run = int(letter.payload.get("run", 0))
            if letter.error == LEASES_EXHAUSTED and run < LAPSED_RUNS:
                rerun = await self._repo.rerun_unless_final(letter.job_id, run)
                if rerun is not None:
                    log.info("job %s lost every worker that held it; run %d starts", rerun.id, rerun.run)
                    self.changes.notify(rerun.id)
                    continue
            error = JobError("UNAVAILABLE", f"The transcode was given up: {letter.error}", "DEAD_LETTER")
            # Only the run the letter belongs to: a restarted job is a new run.
            job = await self._repo.finish_unless_final(
                letter.job_id, {"state": FAILED, "error": error, "end_time": datetime.now(UTC)}, run=run
            )
            if job is not None:
                failed += 1
                self.changes.notify(job.id)
                await self._sweep_attempts(job)
        if letters:
            # Handled: the job's own state now tells the story, so the sweep never reads them again.
            await self._queue.discard_dead_letters(sorted({letter.job_id for letter in letters}))
        return failed

    async def requeue_lapsed(self) -> int:
        """Jobs whose worker stopped reporting (and whose message may be gone) are queued again."""
        requeued = await self._repo.requeue_lapsed(grace_seconds=self._lease_seconds)
        for job in requeued:
            log.info("job %s attempt %d lost its worker; queued again", job.id, job.attempt)
            self.changes.notify(job.id)
        return len(requeued)

    async def sweep_recently_finished(self) -> int:
        """Sweeps once more the attempts of jobs that finished a little while ago: a worker that was fenced off
        while its upload was still in flight may have written after the sweep at the finish."""
        now = datetime.now(UTC)
        finished = await self._repo.finished_between(now - RESWEEP_UNTIL, now - RESWEEP_AFTER)
        for job in finished:
            await self._sweep_attempts(job)
        return len(finished)

    async def published_output(self, video_id: str) -> tuple[Job, list[Asset]]:
        published = await self._repo.published(video_id)
        if published is None:
            raise NotFound("The video has no playable output yet.", "NOT_READY")
        return published

    async def playable_output(self, video_id: str) -> tuple[Job, list[Asset], bool]:
        """What the video plays from: its published output, else the output of a running job while it grows
        (True then). A re-transcode of a video that plays keeps the published one until it completes."""
        published = await self._repo.published(video_id)
        if published is not None:
            return *published, False
        live = await self._repo.live(video_id)
        if live is None:
            raise NotFound("The video has no playable output yet.", "NOT_READY")
        job, manifests = live
        # Shown with the folder it grows in, which becomes its output once it completes.
        return replace(job, output_prefix=attempt_prefix(job.video_id, job.id, job.attempt)), manifests, True

    async def content_key(self, job: Job) -> ContentKey | None:
        """The key the job's output is encrypted with; None for a job whose output plays in the clear."""
        return await self._key_store().key_for(job.video_id) if job.protection else None

    def _key_store(self) -> ContentKeys:
        if self._content_keys is None:
            raise FailedPrecondition(
                "Content protection is not set up here (CONTENT_KEY_SECRET_FILE is not set).", "PROTECTION_UNAVAILABLE"
            )
        return self._content_keys

    async def purge_video(self, video_id: str) -> int:
        video_id = require(video_id, "video_id")
        jobs = await self._repo.for_video(video_id)
        for job in jobs:
            if not job.is_final:
                await self._repo.finish_unless_final(job.id, {"state": CANCELLED, "end_time": datetime.now(UTC)})
                await self._queue.cancel(job.id)
                self.changes.notify(job.id)
        # Rows first, so nothing references the outputs when the guard checks; a worker still uploading is
        # told to stop by its next report and discards its attempt.
        await self._repo.delete_jobs([job.id for job in jobs])
        freed = await self._media.delete_prefix(video_outputs_prefix(video_id))
        if self._content_keys is not None:
            await self._content_keys.forget(video_id)
        return freed

    # Internals

    async def _shown_assets(self, job: Job) -> list[Asset]:
        """A job's assets: a completed job's output; a running job's growing manifests, of its current attempt
        only; none for a job that stopped (what a stopped attempt grew is swept, not shown)."""
        produced = await self._repo.assets_of(job.id)
        if job.state == COMPLETED:
            return produced
        current = attempt_prefix(job.video_id, job.id, job.attempt)
        return [a for a in produced if job.is_working and a.key.startswith(current)]

    async def _settled(self, job_id: str, attempt: int) -> Job | None:
        """Why a fenced report did not apply: None when the job is gone; ABORTED when a newer attempt holds it."""
        job = await self._repo.get(job_id)
        if job is not None and job.attempt != attempt:
            raise Aborted(f"Attempt {attempt} is stale; attempt {job.attempt} holds the job.", "STALE_ATTEMPT")
        return job

    async def _sweep_attempts(self, job: Job) -> None:
        """A finished job keeps only its completed output: the folders of every other attempt (a worker that died
        mid-upload, a superseded or refused attempt) go. Best effort: `admin reconcile` finds what a failure here
        leaves."""
        try:
            stored = await self._blobs.list(job_outputs_prefix(job.video_id, job.id))
            for folder in sorted({output_folder(info.key) for info in stored} - {job.output_prefix}):
                await self._media.delete_prefix(folder)
        except Exception:
            log.warning("could not sweep the attempts of finished job %s", job.id, exc_info=True)

    async def _references(self, prefix: str) -> list[str]:
        video_id = video_of_key(prefix)
        if not video_id:
            return [prefix]  # not a video's outputs: refuse
        return await self._repo.referenced_prefixes(video_id)


def _referenced(folder: str, jobs: dict[str, Job], videos_with_jobs: set[str]) -> bool:
    parts = folder.split("/")  # videos/{video}/jobs/{job}/attempt-{n}/ or videos/{video}/
    if len(parts) < 6:
        return video_of_key(folder) in videos_with_jobs
    job = jobs.get(parts[3])
    if job is None:
        return False
    return folder == job.output_prefix or (
        not job.is_final and folder == attempt_prefix(job.video_id, job.id, job.attempt)
    )


def _bare(name: str) -> str:
    """Accepts `jobs/{id}` or a bare id."""
    return require(name, "name").removeprefix("jobs/")


__all__ = ["Download", "JobStats", "Jobs", "NewJob", "OutputsReport"]
