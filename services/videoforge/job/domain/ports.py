"""What the job use cases need from the outside world: storage for jobs, their events and their outputs."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from videoforge.content_protection import ContentKey
from videoforge.job.domain.jobs import Asset, Job, JobEvent


class JobRepository(ABC):
    """Jobs, their assets and each video's published output. Every change of a job's state writes a
    JobEvent in the same transaction, and queue messages are enqueued in the transaction that needs them."""

    @abstractmethod
    async def create(self, job: Job) -> Job:
        """Stores the job and queues it; a job with the same video and request id already stored is returned."""

    @abstractmethod
    async def get(self, job_id: str) -> Job | None: ...

    @abstractmethod
    async def list(
        self, *, owner_id: str = "", state: str = "", video_id: str = "", offset: int, limit: int
    ) -> tuple[list[Job], int]: ...

    @abstractmethod
    async def start_attempt(self, job_id: str, delivery_token: str, lease_seconds: float) -> Job | None:
        """Attempt n+1 for this delivery, unless the job is final, this delivery already started it, or
        another delivery's attempt still holds its lease; None when refused."""

    @abstractmethod
    async def report(
        self, job_id: str, attempt: int, values: dict[str, Any], *, lease_seconds: float = 0
    ) -> Job | None:
        """The fence: applies only to the current attempt of an unfinished job, renewing its lease when
        `lease_seconds` is given; None when it did not apply."""

    @abstractmethod
    async def complete(
        self, job_id: str, attempt: int, values: dict[str, Any], produced: Sequence[Asset]
    ) -> Job | None:
        """Marks the attempt COMPLETED, records its assets and publishes it, atomically; None when fenced off."""

    @abstractmethod
    async def finish_unless_final(self, job_id: str, values: dict[str, Any], *, run: int | None = None) -> Job | None:
        """Ends an unfinished job (of run `run`, when given); None when it had already ended."""

    @abstractmethod
    async def assets_of(self, job_id: str) -> list[Asset]: ...

    @abstractmethod
    async def published(self, video_id: str) -> tuple[Job, list[Asset]] | None:
        """The job a video plays from, and its assets."""

    @abstractmethod
    async def record_live(
        self, job_id: str, attempt: int, values: dict[str, Any], manifests: Sequence[Asset], *, lease_seconds: float
    ) -> Job | None:
        """Fenced like `report`: applies `values` and makes `manifests` the job's assets, atomically."""

    @abstractmethod
    async def live(self, video_id: str) -> tuple[Job, list[Asset]] | None:
        """The video's newest running job whose current attempt recorded a growing output, and its manifests."""

    @abstractmethod
    async def state_counts(self) -> dict[str, int]: ...

    @abstractmethod
    async def average_processing_seconds(self) -> float: ...

    @abstractmethod
    async def stored_bytes(self) -> dict[str, int]:
        """Bytes in the object store by kind, from the jobs' records: `outputs` (every asset of a job still kept)
        and `sources` (each transcoded source once, at its probed size)."""

    @abstractmethod
    async def restart_failed(self) -> list[Job]:
        """Every FAILED job back to PENDING in a new run with a fresh queue message, in one transaction."""

    @abstractmethod
    async def rerun_unless_final(self, job_id: str, run: int) -> Job | None:
        """Run `run` of an unfinished job gives way to run+1, PENDING with a fresh queue message; None when the
        job finished or is already past that run."""

    @abstractmethod
    async def requeue_lapsed(self, grace_seconds: float) -> list[Job]:
        """Jobs whose deadline (a working attempt's lease, or a retry's latest start) passed more than
        `grace_seconds` ago go back to PENDING with a queue message: nothing stays stuck when a worker died
        and its message was lost."""

    @abstractmethod
    async def finished_between(self, start: datetime, end: datetime) -> list[Job]:
        """Jobs that ended within [start, end)."""

    @abstractmethod
    async def old_finished(self, days: int) -> list[Job]:
        """Finished jobs older than `days` that no video plays from."""

    @abstractmethod
    async def for_video(self, video_id: str) -> list[Job]: ...

    @abstractmethod
    async def for_videos(self, video_ids: Sequence[str]) -> list[Job]: ...

    @abstractmethod
    async def delete_jobs(self, job_ids: Sequence[str]) -> None: ...

    @abstractmethod
    async def referenced_prefixes(self, video_id: str) -> list[str]:
        """Output prefixes that must not be deleted: the video's published output and its completed jobs'."""

    @abstractmethod
    async def events(self, limit: int) -> list[JobEvent]:
        """The oldest unacknowledged events, in the order they were written."""

    @abstractmethod
    async def acknowledge_events(self, event_ids: Sequence[int]) -> None: ...


class ContentKeys(ABC):
    """One content key per protected video, kept sealed."""

    @abstractmethod
    async def key_for(self, video_id: str) -> ContentKey:
        """The video's key, made on first asking: every job of a video encrypts with the same one."""

    @abstractmethod
    async def forget(self, video_id: str) -> None:
        """Drops the video's key, when its outputs are gone."""
