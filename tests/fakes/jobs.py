"""An in-memory job repository for unit tests of the job use cases: the same fencing, events and queueing
rules as the PostgreSQL one, on a clock the test moves."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes.queue import InMemoryJobQueue
from videoforge.content_protection import ContentKey
from videoforge.job.domain.jobs import (
    COMPLETED,
    DOWNLOADING,
    FAILED,
    PENDING,
    WORKING_STATES,
    Asset,
    Job,
    JobEvent,
    Publication,
)
from videoforge.job.domain.ports import ContentKeys, JobRepository
from videoforge.media_model import MediaSummary, attempt_prefix


class InMemoryJobRepository(JobRepository):
    def __init__(self, queue: InMemoryJobQueue) -> None:
        self.queue = queue
        self.jobs: dict[str, Job] = {}
        self.assets: dict[str, list[Asset]] = {}
        self.publications: dict[str, str] = {}  # video id -> job id
        self.event_log: list[JobEvent] = []
        self.versions: dict[str, int] = {}
        self.now = datetime(2026, 1, 1, tzinfo=UTC)
        self._last_event_id = 0

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    # The port

    async def create(self, job: Job) -> Job:
        existing = next(
            (j for j in self.jobs.values() if j.video_id == job.video_id and j.request_id == job.request_id), None
        )
        if existing is not None:
            return copy.deepcopy(existing)
        self.jobs[job.id] = copy.deepcopy(job)
        self._emit(job)
        self.queue.enqueue_in_memory(job.id, job.queue_payload())
        return job

    async def get(self, job_id: str) -> Job | None:
        job = self.jobs.get(job_id)
        return copy.deepcopy(job) if job else None

    async def list(
        self, *, owner_id: str = "", state: str = "", video_id: str = "", offset: int, limit: int
    ) -> tuple[list[Job], int]:
        found = [
            j
            for j in sorted(self.jobs.values(), key=lambda j: j.create_time, reverse=True)
            if (not owner_id or j.owner_id == owner_id)
            and (not state or j.state == state)
            and (not video_id or j.video_id == video_id)
        ]
        return copy.deepcopy(found[offset : offset + limit]), len(found)

    async def start_attempt(self, job_id: str, delivery_token: str, lease_seconds: float) -> Job | None:
        job = self.jobs.get(job_id)
        if job is None or job.is_final or job.delivery_token == delivery_token:
            return None
        if job.state != PENDING and job.lease_expires_at is not None and job.lease_expires_at > self.now:
            return None
        values = {
            "attempt": job.attempt + 1,
            "delivery_token": delivery_token,
            "state": DOWNLOADING,
            "progress": 0,
            "start_time": self.now,
            "lease_expires_at": self.now + timedelta(seconds=lease_seconds),
        }
        return self._change(job, values)

    async def report(
        self, job_id: str, attempt: int, values: dict[str, Any], *, lease_seconds: float = 0
    ) -> Job | None:
        job = self.jobs.get(job_id)
        if job is None or job.attempt != attempt or job.is_final:
            return None
        if lease_seconds:
            values = {**values, "lease_expires_at": self.now + timedelta(seconds=lease_seconds)}
        return self._change(job, values)

    async def complete(
        self, job_id: str, attempt: int, values: dict[str, Any], produced: Sequence[Asset]
    ) -> Job | None:
        job = self.jobs.get(job_id)
        if job is None or job.attempt != attempt or job.is_final:
            return None
        changed = self._apply(job, {**values, "end_time": self.now})
        self.assets[job_id] = list(produced)
        self.publications[changed.video_id] = job_id
        self._emit(changed)
        return copy.deepcopy(changed)

    async def finish_unless_final(self, job_id: str, values: dict[str, Any], *, run: int | None = None) -> Job | None:
        job = self.jobs.get(job_id)
        if job is None or job.is_final or (run is not None and job.run != run):
            return None
        return self._change(job, values)

    async def assets_of(self, job_id: str) -> list[Asset]:
        return list(self.assets.get(job_id, []))

    async def published(self, video_id: str) -> tuple[Job, list[Asset]] | None:
        job_id = self.publications.get(video_id)
        if job_id is None:
            return None
        return copy.deepcopy(self.jobs[job_id]), list(self.assets.get(job_id, []))

    async def record_live(
        self, job_id: str, attempt: int, values: dict[str, Any], manifests: Sequence[Asset], *, lease_seconds: float
    ) -> Job | None:
        job = await self.report(job_id, attempt, values, lease_seconds=lease_seconds)
        if job is not None:
            self.assets[job_id] = list(manifests)
        return job

    async def live(self, video_id: str) -> tuple[Job, list[Asset]] | None:
        running = [job for job in self.jobs.values() if job.video_id == video_id and job.is_working]
        for job in sorted(running, key=lambda job: job.create_time, reverse=True):
            prefix = attempt_prefix(job.video_id, job.id, job.attempt)
            manifests = [a for a in self.assets.get(job.id, []) if a.key.startswith(prefix)]
            if manifests:
                return copy.deepcopy(job), manifests
        return None

    async def state_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for job in self.jobs.values():
            counts[job.state] = counts.get(job.state, 0) + 1
        return counts

    async def average_processing_seconds(self) -> float:
        return 0.0

    async def stored_bytes(self) -> dict[str, int]:
        outputs = sum(asset.size_bytes for assets in self.assets.values() for asset in assets)
        sources = {job.input_source: job.media.size_bytes for job in self.jobs.values()}
        return {"outputs": outputs, "sources": sum(sources.values())}

    async def restart_failed(self) -> list[Job]:
        failed = [j for j in self.jobs.values() if j.state == FAILED]
        values = {"state": PENDING, "progress": 0, "error": None, "end_time": None, "lease_expires_at": None}
        return [self._requeue(job, {**values, "run": job.run + 1}) for job in failed]

    async def rerun_unless_final(self, job_id: str, run: int) -> Job | None:
        job = self.jobs.get(job_id)
        if job is None or job.is_final or job.run != run:
            return None
        return self._requeue(job, {"state": PENDING, "progress": 0, "run": run + 1, "lease_expires_at": None})

    async def requeue_lapsed(self, grace_seconds: float) -> list[Job]:
        cutoff = self.now - timedelta(seconds=grace_seconds)
        lapsed = [
            j
            for j in self.jobs.values()
            if j.state in (PENDING, *WORKING_STATES) and j.lease_expires_at is not None and j.lease_expires_at < cutoff
        ]
        return [self._requeue(job, {"state": PENDING, "progress": 0, "lease_expires_at": None}) for job in lapsed]

    async def finished_between(self, start: datetime, end: datetime) -> list[Job]:
        return [copy.deepcopy(j) for j in self.jobs.values() if j.end_time is not None and start <= j.end_time < end]

    async def old_finished(self, days: int) -> list[Job]:
        cutoff = self.now - timedelta(days=days)
        published = set(self.publications.values())
        return [
            copy.deepcopy(j)
            for j in self.jobs.values()
            if j.is_final and (j.end_time or j.update_time) < cutoff and j.id not in published
        ]

    async def for_video(self, video_id: str) -> list[Job]:
        return await self.for_videos([video_id])

    async def for_videos(self, video_ids: Sequence[str]) -> list[Job]:
        return [copy.deepcopy(j) for j in self.jobs.values() if j.video_id in video_ids]

    async def delete_jobs(self, job_ids: Sequence[str]) -> None:
        for job_id in job_ids:
            job = self.jobs.pop(job_id, None)
            self.assets.pop(job_id, None)
            if job is not None and self.publications.get(job.video_id) == job_id:
                del self.publications[job.video_id]

    async def referenced_prefixes(self, video_id: str) -> list[str]:
        return [
            j.output_prefix
            for j in self.jobs.values()
            if j.video_id == video_id and j.state == COMPLETED and j.output_prefix
        ]

    async def events(self, limit: int) -> list[JobEvent]:
        return list(self.event_log[:limit])

    async def acknowledge_events(self, event_ids: Sequence[int]) -> None:
        acknowledged = set(event_ids)
        self.event_log = [e for e in self.event_log if e.event_id not in acknowledged]

    # Internals

    def _apply(self, job: Job, values: dict[str, Any]) -> Job:
        changed = replace(job, **values, update_time=self.now)
        self.jobs[job.id] = changed
        return changed

    def _change(self, job: Job, values: dict[str, Any]) -> Job:
        changed = self._apply(job, values)
        if changed.state != job.state or "media" in values:
            self._emit(changed)
        return copy.deepcopy(changed)

    def _requeue(self, job: Job, values: dict[str, Any]) -> Job:
        changed = self._apply(job, values)
        self._emit(changed)
        self.queue.enqueue_in_memory(changed.id, changed.queue_payload())
        return copy.deepcopy(changed)

    def _emit(self, job: Job) -> None:
        self.versions[job.video_id] = self.versions.get(job.video_id, 0) + 1
        playing = self.publications.get(job.video_id)
        publication = None
        if playing is not None:
            kinds = {a.kind: a.key for a in self.assets.get(playing, [])}
            publication = Publication(
                job_id=playing,
                poster_key=kinds.get("POSTER", ""),
                preview_key=kinds.get("PREVIEW", ""),
                duration_seconds=self.jobs[playing].duration_seconds,
                loudness=self.jobs[playing].loudness,
            )
        self._last_event_id += 1
        self.event_log.append(
            JobEvent(
                event_id=self._last_event_id,
                video_id=job.video_id,
                version=self.versions[job.video_id],
                job_id=job.id,
                state=str(job.state),
                progress=job.progress,
                error_message=job.error.message if job.error else "",
                publication=publication,
                media=job.media if job.media != MediaSummary() else None,
            )
        )


class InMemoryContentKeys(ContentKeys):
    def __init__(self) -> None:
        self.keys: dict[str, ContentKey] = {}

    async def key_for(self, video_id: str) -> ContentKey:
        return self.keys.setdefault(video_id, ContentKey.generate())

    async def forget(self, video_id: str) -> None:
        self.keys.pop(video_id, None)
