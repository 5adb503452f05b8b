"""GalleryApiService over gRPC: the original API's gallery routes, answered by the same use cases as
GalleryService's and presented by the same VideoPresenter, then put in the document's shapes."""

from __future__ import annotations

from grpc.aio import ServicerContext

from videoforge.gallery.entrypoints.grpc_servicer import (
    VideoPresenter,
    changes_of,
    confirm_upload,
    encoding_options,
    import_video,
    paging_of,
)
from videoforge.gallery.service_layer.gallery import Gallery
from videoforge.gallery.v1 import gallery_api_pb2 as api
from videoforge.gallery.v1 import gallery_api_pb2_grpc
from videoforge.gallery.v1 import gallery_pb2 as pb
from videoforge.job.entrypoints.api_shapes import api_job, resolution
from videoforge.kit.principal import current_principal

JOB_CREATED = "Job created successfully"
JOB_REUSED = "A job of this video already covers these formats"
VIDEO_DELETED = "Video deleted successfully"


def api_status(video: pb.Video) -> str:
    """The document's status words: a video whose job waits in the queue is still just `uploaded`."""
    if video.status == "processing" and video.latest_job.state == "PENDING":
        return "uploaded"
    return video.status


def api_video(video: pb.Video) -> api.ApiVideo:
    media = video.media
    return api.ApiVideo(
        id=video.id,
        user_id=video.owner_id,
        title=video.title,
        description=video.description,
        visibility=video.visibility,
        status=api_status(video),
        duration=media.duration_seconds,
        resolution=resolution(media.width, media.height),
        views=video.view_count,
        thumbnail_url=video.thumbnail_url,
        created_at=video.create_time,
        video_codec=media.video_codec,
        audio_codec=media.audio_codec,
        file_size=media.size_bytes,
        s3_key=video.source_key,
        preview_url=video.preview_url,
        latest_job=video.latest_job,
        updated_at=video.update_time,
        loudness=video.loudness if video.HasField("loudness") else None,
    )


class GalleryApiServicer(gallery_api_pb2_grpc.GalleryApiServiceServicer):
    def __init__(self, gallery: Gallery, presenter: VideoPresenter) -> None:
        self._gallery, self._present = gallery, presenter

    async def ConfirmUpload(self, request: pb.ConfirmUploadRequest, context: ServicerContext) -> api.ApiVideo:
        video = await confirm_upload(self._gallery, request)
        return api_video(self._present.video(video))

    async def ImportVideo(self, request: pb.ImportVideoRequest, context: ServicerContext) -> api.ApiVideo:
        video, _ = await import_video(self._gallery, request)
        return api_video(self._present.video(video))

    async def CreateVideoJob(
        self, request: pb.CreateVideoJobRequest, context: ServicerContext
    ) -> api.CreateVideoJobResponse:
        # The document's clients ask for a transcode after confirming, which already started one.
        video, ticket = await self._gallery.create_video_job(
            request.video_id,
            request.input_source,
            list(request.output_formats),
            encoding_options(request),
            reuse_covering=True,
            request_id=request.request_id,
        )
        return api.CreateVideoJobResponse(
            job=api_job(ticket.answer, video.media), message=JOB_REUSED if ticket.reused else JOB_CREATED
        )

    async def ListVideos(self, request: pb.ListVideosRequest, context: ServicerContext) -> api.ListApiVideosResponse:
        page = self._present.page(*await self._gallery.list_videos(current_principal(), paging_of(request)))
        return api.ListApiVideosResponse(
            videos=[api_video(v) for v in page.videos],
            pagination=page.pagination,
            next_page_token=page.next_page_token,
        )

    async def GetVideo(self, request: pb.GetVideoRequest, context: ServicerContext) -> api.ApiVideo:
        return api_video(self._present.video(await self._gallery.get_video(current_principal(), request.name)))

    async def UpdateVideo(self, request: pb.UpdateVideoRequest, context: ServicerContext) -> api.ApiVideo:
        video = await self._gallery.update_video(
            request.video.name, changes_of(request), list(request.update_mask.paths)
        )
        return api_video(self._present.video(video))

    async def DeleteVideo(self, request: pb.DeleteVideoRequest, context: ServicerContext) -> api.DeleteVideoResponse:
        await self._gallery.delete_video(request.name)
        return api.DeleteVideoResponse(message=VIDEO_DELETED)
