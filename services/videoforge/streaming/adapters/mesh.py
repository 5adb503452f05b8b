"""Playback's view of the gallery (who may watch) and the job service (what plays), over their internal APIs."""

from __future__ import annotations

from videoforge.content_protection import ContentKey
from videoforge.gallery.client import GalleryClient
from videoforge.job.client import JobInternalClient
from videoforge.job.v1 import job_pb2
from videoforge.streaming.domain.ports import (
    OutputAsset,
    PlayableOutput,
    PublishedOutputs,
    VideoCatalog,
    VisibleVideo,
)
from videoforge.transcoder.entrypoints.media_proto import rendition_from_proto


class GalleryVideoCatalog(VideoCatalog):
    def __init__(self, gallery: GalleryClient) -> None:
        self._gallery = gallery

    async def visible_video(self, video_id: str, authorization: str) -> VisibleVideo:
        video = await self._gallery.lookup(video_id=video_id, authorization=authorization)
        return VisibleVideo(
            id=video.id,
            status=video.status,
            source_key=video.source_key,
            published_job_id=video.published_job_id,
            visibility=video.visibility,
        )


class JobPublishedOutputs(PublishedOutputs):
    def __init__(self, jobs: JobInternalClient) -> None:
        self._jobs = jobs

    async def published(self, video_id: str) -> PlayableOutput:
        output = await self._jobs.published_output(video_id)
        return PlayableOutput(
            job_id=output.job_id,
            assets=[
                OutputAsset(job_pb2.Asset.Kind.Name(a.kind).removeprefix("KIND_"), a.key, a.quality)
                for a in output.assets
            ],
            renditions=[rendition_from_proto(r) for r in output.renditions],
            duration_seconds=output.duration_seconds,
            live=output.live,
            protection=output.protection,
            content_key=_content_key(output.content_key) if output.HasField("content_key") else None,
        )


def _content_key(message: job_pb2.ContentKey) -> ContentKey:
    return ContentKey(message.key_id, message.key)
