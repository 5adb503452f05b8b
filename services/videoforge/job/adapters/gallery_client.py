"""The job service's view of videos, through the gallery's internal API."""

from __future__ import annotations

from google.protobuf.json_format import MessageToDict

from videoforge.gallery.client import GalleryClient
from videoforge.gallery.v1 import gallery_pb2
from videoforge.job.domain.ports import VideoDirectory, VideoRef, VideoUpdate


class GrpcVideoDirectory(VideoDirectory):
    def __init__(self, gallery: GalleryClient) -> None:
        self._gallery = gallery

    async def lookup(self, *, video_id: str = "", source_key: str = "", authorization: str) -> VideoRef:
        video = await self._gallery.lookup(video_id=video_id, source_key=source_key, authorization=authorization)
        media = MessageToDict(video.media, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)
        return VideoRef(id=video.id, owner_id=video.owner_id, source_key=video.source_key, media=media)

    async def record(self, update: VideoUpdate) -> None:
        await self._gallery.record_job_state(
            gallery_pb2.RecordJobStateRequest(
                video_id=update.video_id,
                job=gallery_pb2.JobSnapshot(
                    job_id=update.job_id,
                    state=update.state,
                    progress=update.progress,
                    error_message=update.error_message,
                ),
                published=update.published,
                poster_key=update.poster_key,
                preview_key=update.preview_key,
                duration_seconds=update.duration_seconds,
            )
        )
