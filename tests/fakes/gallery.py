"""In-memory fakes of the gallery's ports: its video repository, and a job scheduler and event feed that talk
to the job use cases in process."""

from __future__ import annotations

import copy
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any

from videoforge.gallery.domain.ports import JobEventFeed, JobScheduler, Upload, VideoQuery, VideoRepository
from videoforge.gallery.domain.videos import JobSnapshot, JobTicket, JobUpdate, PlayingOutput, Video, state_for
from videoforge.job.service_layer.jobs import Jobs, NewJob
from videoforge.media_model import DEFAULT_ENCODING, EncodingOptions


class InMemoryVideoRepository(VideoRepository):
    def __init__(self) -> None:
        self.videos: dict[str, Video] = {}
        self.uploads: dict[str, Upload] = {}

    async def add_upload(self, upload: Upload) -> None:
        self.uploads.setdefault(upload.key, upload)

    async def get_upload(self, key: str) -> Upload | None:
        return self.uploads.get(key)

    async def add_video_for_upload(self, video: Video, upload_key: str) -> Video:
        upload = self.uploads[upload_key]
        if upload.video_id:
            return copy.deepcopy(self.videos[upload.video_id])
        self.uploads[upload_key] = replace(upload, video_id=video.id, size=video.media.size_bytes or upload.size)
        self.videos[video.id] = copy.deepcopy(video)
        return video

    async def get(self, video_id: str) -> Video | None:
        return copy.deepcopy(self.videos.get(video_id))

    async def by_source_key(self, source_key: str) -> Video | None:
        return copy.deepcopy(next((v for v in self.videos.values() if v.source_key == source_key), None))

    async def add_views(self, views: dict[str, int]) -> None:
        for video_id, added in views.items():
            if video_id in self.videos:
                self.videos[video_id].view_count += added

    async def update(self, video_id: str, fields: dict[str, Any]) -> Video | None:
        if video_id not in self.videos:
            return None
        self.videos[video_id] = replace(self.videos[video_id], **fields)
        return copy.deepcopy(self.videos[video_id])

    async def delete(self, video_id: str) -> None:
        self.videos.pop(video_id, None)
        self.uploads = {k: u for k, u in self.uploads.items() if u.video_id != video_id}

    async def list(self, query: VideoQuery) -> tuple[list[Video], int]:
        found = [v for v in self.videos.values() if v.visibility == "public" or v.owner_id == query.viewer_id]
        return copy.deepcopy(found[query.offset : query.offset + query.limit]), len(found)

    async def note_new_job(self, video_id: str, job: JobSnapshot) -> None:
        video = self.videos.get(video_id)
        if video is None or video.latest_job.job_id == job.job_id:
            return
        video.latest_job = job
        if not video.published_job_id:
            video.state = state_for(job.state, None)

    async def apply_job_update(self, update: JobUpdate) -> bool:
        video = self.videos.get(update.video_id)
        if video is None or video.job_version >= update.version:
            return False
        playing = update.playing
        video.latest_job = update.job
        video.state = state_for(update.job.state, playing)
        video.published_job_id = playing.job_id if playing else ""
        video.job_version = update.version
        video.playing = playing
        if update.media is not None:
            video.media = update.media
            self.uploads = {
                key: replace(u, size=update.media.size_bytes) if u.video_id == video.id else u
                for key, u in self.uploads.items()
            }
        return True

    async def unconfirmed_uploads(self, before: datetime) -> list[Upload]:
        return [u for u in self.uploads.values() if u.video_id is None and u.create_time < before]

    async def known_upload_keys(self) -> set[str]:
        return set(self.uploads)

    async def delete_upload(self, key: str) -> None:
        if key in self.uploads and self.uploads[key].video_id is None:
            del self.uploads[key]

    async def storage_used(self, owner_id: str) -> int:
        return sum(u.size for u in self.uploads.values() if u.owner_id == owner_id)

    async def referenced_sources(self, prefix: str) -> list[str]:
        return [v.source_key for v in self.videos.values() if v.source_key.startswith(prefix)]


class LocalJobScheduler(JobScheduler):
    def __init__(self, jobs: Jobs) -> None:
        self.jobs = jobs

    async def start_job(
        self,
        video: Video,
        formats: list[str],
        request_id: str,
        options: EncodingOptions = DEFAULT_ENCODING,
        *,
        reuse_covering: bool = False,
    ) -> JobTicket:
        new = NewJob(
            video.id,
            video.owner_id,
            video.source_key,
            video.media,
            formats,
            request_id,
            reuse_covering,
            source_url=video.source_url,
            codecs=list(options.codecs),
            protection=options.protection,
        )
        job = await self.jobs.create_job(new)
        return JobTicket(JobSnapshot(job.id, str(job.state), job.progress), answer=job)

    async def purge_video_jobs(self, video_id: str) -> int:
        return await self.jobs.purge_video(video_id)


class LocalJobEventFeed(JobEventFeed):
    def __init__(self, jobs: Jobs) -> None:
        self.jobs = jobs

    async def next_batch(self, limit: int) -> list[JobUpdate]:
        return [
            JobUpdate(
                event_id=e.event_id,
                video_id=e.video_id,
                version=e.version,
                job=JobSnapshot(e.job_id, e.state, e.progress, e.error_message),
                playing=PlayingOutput(**asdict(e.publication)) if e.publication else None,
                media=e.media,
            )
            for e in await self.jobs.job_events(limit)
        ]

    async def acknowledge(self, event_ids: list[int]) -> None:
        await self.jobs.acknowledge_events(event_ids)
