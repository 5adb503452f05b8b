"""What the gallery's use cases need from the outside world."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from videoforge.gallery.domain.videos import JobSnapshot, JobTicket, JobUpdate, Video
from videoforge.media_model import DEFAULT_ENCODING, EncodingOptions, MediaSummary


@dataclass(frozen=True)
class Upload:
    key: str
    owner_id: str
    filename: str
    content_type: str
    size: int
    multipart_upload_id: str
    video_id: str | None
    create_time: datetime


@dataclass(frozen=True)
class VideoQuery:
    """A page of videos. `viewer_id` sees their own unlisted/private videos too when `include_own` is set."""

    viewer_id: str | None
    offset: int
    limit: int
    search: str = ""
    state: str = ""
    owner_id: str = ""
    only_owner: bool = False
    order_by: str = "create_time desc"
    # Matches are counted exactly up to here, and the count stops just past it.
    count_cap: int = 10_000


class VideoRepository(ABC):
    @abstractmethod
    async def add_upload(self, upload: Upload) -> None: ...

    @abstractmethod
    async def get_upload(self, key: str) -> Upload | None: ...

    @abstractmethod
    async def add_video_for_upload(self, video: Video, upload_key: str) -> Video:
        """Creates the video once per upload; a repeated confirm returns the first video."""

    @abstractmethod
    async def get(self, video_id: str) -> Video | None: ...

    @abstractmethod
    async def by_source_key(self, source_key: str) -> Video | None: ...

    @abstractmethod
    async def add_views(self, views: dict[str, int]) -> None:
        """Adds each video's views to its total, exactly once; raises only when they were not added."""

    @abstractmethod
    async def update(self, video_id: str, fields: dict[str, Any]) -> Video | None: ...

    @abstractmethod
    async def delete(self, video_id: str) -> None: ...

    @abstractmethod
    async def list(self, query: VideoQuery) -> tuple[list[Video], int]: ...

    @abstractmethod
    async def note_new_job(self, video_id: str, job: JobSnapshot) -> None:
        """Shows a job just created as the video's latest, unless its own events got there first."""

    @abstractmethod
    async def apply_job_update(self, update: JobUpdate) -> bool:
        """Applies the update if it is newer than what the video shows; False for a repeat, an older one or a
        video that is gone."""

    @abstractmethod
    async def unconfirmed_uploads(self, before: datetime) -> list[Upload]:
        """Uploads started before `before` that never became a video."""

    @abstractmethod
    async def known_upload_keys(self) -> set[str]:
        """The keys of every upload on record, confirmed or not."""

    @abstractmethod
    async def delete_upload(self, key: str) -> None: ...

    @abstractmethod
    async def storage_used(self, owner_id: str) -> int:
        """Bytes of the owner's uploads: stored sizes of confirmed ones, declared sizes of pending ones."""

    @abstractmethod
    async def referenced_sources(self, prefix: str) -> list[str]:
        """Source keys of existing videos under `prefix`: what must not be deleted."""


class MediaProber(ABC):
    @abstractmethod
    async def probe(self, source_key: str) -> MediaSummary:
        """Raises InvalidArgument for what is not a playable video."""


class JobScheduler(ABC):
    @abstractmethod
    async def start_job(
        self,
        video: Video,
        formats: list[str],
        request_id: str,
        options: EncodingOptions = DEFAULT_ENCODING,
        *,
        reuse_covering: bool = False,
    ) -> JobTicket:
        """Creates a transcode from what the gallery knows of the video; a repeated request id answers the job
        the first request created. With `reuse_covering`, so does a running or completed job of the video that
        makes every requested format with the same options."""

    @abstractmethod
    async def purge_video_jobs(self, video_id: str) -> int:
        """Cancels the video's jobs and deletes their outputs; returns freed bytes."""


class JobEventFeed(ABC):
    """The job service's events, oldest first; each stays until acknowledged."""

    @abstractmethod
    async def next_batch(self, limit: int) -> list[JobUpdate]: ...

    @abstractmethod
    async def acknowledge(self, event_ids: list[int]) -> None: ...
