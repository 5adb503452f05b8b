"""GalleryService and GalleryInternalService over gRPC."""

from __future__ import annotations

from google.protobuf import empty_pb2
from grpc.aio import ServicerContext

from videoforge.gallery.domain.videos import JobTicket, Video
from videoforge.gallery.service_layer.gallery import Gallery, Paging
from videoforge.gallery.v1 import gallery_pb2 as pb
from videoforge.gallery.v1 import gallery_pb2_grpc
from videoforge.job.v1 import job_pb2
from videoforge.kit.cdn import MediaSigner
from videoforge.kit.paging import PageInfo
from videoforge.kit.principal import current_principal
from videoforge.kit.proto_time import timestamp
from videoforge.loudness_proto import loudness_proto
from videoforge.media_model import EncodingOptions
from videoforge.transcoder.entrypoints.media_proto import summary_proto

_STATES = {
    "uploaded": pb.Video.STATE_UPLOADED,
    "processing": pb.Video.STATE_PROCESSING,
    "ready": pb.Video.STATE_READY,
    "failed": pb.Video.STATE_FAILED,
}


def encoding_options(
    request: pb.ConfirmUploadRequest | pb.ImportVideoRequest | pb.CreateVideoJobRequest,
) -> EncodingOptions:
    """The codecs and protection a request asks for, checked (INVALID_ARGUMENT naming the field otherwise)."""
    return EncodingOptions.parse(request.codecs, request.protection)


async def confirm_upload(gallery: Gallery, request: pb.ConfirmUploadRequest) -> Video:
    """ConfirmUpload's use case, for the gallery's own and the original API's shapes alike."""
    return await gallery.confirm_upload(
        request.s3_key,
        request.title,
        request.description,
        request.visibility,
        list(request.formats),
        encoding_options(request),
    )


async def import_video(gallery: Gallery, request: pb.ImportVideoRequest) -> tuple[Video, JobTicket]:
    """ImportVideo's use case, for the gallery's own and the original API's shapes alike."""
    return await gallery.import_video(
        request.url,
        request.title,
        request.description,
        request.visibility,
        list(request.formats),
        encoding_options(request),
        request_id=request.request_id,
    )


class VideoPresenter:
    """Video → proto, signing image URLs; the source key is shown to its owner only."""

    def __init__(self, signer: MediaSigner | None, url_seconds: int) -> None:
        self._signer, self._seconds = signer, url_seconds

    def video(self, video: Video) -> pb.Video:
        principal = current_principal()
        is_owner = principal is not None and principal.may_manage(video.owner_id)
        message = pb.Video(
            name=f"videos/{video.id}",
            id=video.id,
            owner_id=video.owner_id,
            title=video.title,
            description=video.description,
            visibility=video.visibility,
            state=_STATES[video.state],
            status=video.state,
            media=summary_proto(video.media),
            view_count=video.view_count,
            latest_job=pb.JobSnapshot(**video.latest_job.__dict__),
            source_key=video.source_key if is_owner else "",
            create_time=timestamp(video.create_time),
            update_time=timestamp(video.update_time),
        )
        if self._signer is not None and video.state == "ready" and video.playing is not None:
            if poster := video.playing.poster_key:
                message.thumbnail_url = self._signer.sign_key(poster, self._seconds)
            if preview := video.playing.preview_key:
                message.preview_url = self._signer.sign_key(preview, self._seconds)
        if video.playing is not None and video.playing.loudness is not None:
            message.loudness.CopyFrom(loudness_proto(video.playing.loudness))
        return message

    def page(self, videos: list[Video], info: PageInfo) -> pb.ListVideosResponse:
        return pb.ListVideosResponse(
            videos=[self.video(v) for v in videos],
            next_page_token=info.next_page_token,
            total_size=info.total,
            pagination=pb.Pagination(
                page=info.page,
                limit=info.limit,
                total=info.total,
                total_pages=info.total_pages,
                total_capped=info.total_capped,
            ),
        )


def paging_of(request: pb.ListVideosRequest | pb.ListMyVideosRequest) -> Paging:
    return Paging(
        page_size=request.page_size,
        page_token=request.page_token,
        page=request.page,
        limit=request.limit,
        filter=request.filter,
        order_by=request.order_by,
        search=request.search,
    )


def changes_of(request: pb.UpdateVideoRequest) -> dict[str, str]:
    return {
        "title": request.video.title,
        "description": request.video.description,
        "visibility": request.video.visibility,
    }


class GalleryServicer(gallery_pb2_grpc.GalleryServiceServicer):
    def __init__(self, gallery: Gallery, presenter: VideoPresenter) -> None:
        self._gallery, self._present = gallery, presenter

    async def CreateUploadUrl(
        self, request: pb.CreateUploadUrlRequest, context: ServicerContext
    ) -> pb.CreateUploadUrlResponse:
        grant = await self._gallery.create_upload_url(
            request.filename, request.content_type, request.size, multipart=request.multipart
        )
        reply = pb.CreateUploadUrlResponse(
            upload_url=grant.upload_url, s3_key=grant.key, expires_in=grant.expires_in, headers=grant.headers
        )
        if grant.upload_id:
            reply.multipart.CopyFrom(
                pb.MultipartUpload(
                    upload_id=grant.upload_id,
                    part_size=grant.part_size,
                    parts=[pb.UploadPart(part_number=i, upload_url=u) for i, u in enumerate(grant.part_urls, 1)],
                )
            )
        return reply

    async def CompleteUpload(
        self, request: pb.CompleteUploadRequest, context: ServicerContext
    ) -> pb.CompleteUploadResponse:
        parts = [(p.part_number, p.etag) for p in request.parts]
        return pb.CompleteUploadResponse(
            s3_key=await self._gallery.complete_upload(request.s3_key, request.upload_id, parts)
        )

    async def AbortUpload(self, request: pb.AbortUploadRequest, context: ServicerContext) -> empty_pb2.Empty:
        await self._gallery.abort_upload(request.s3_key, request.upload_id)
        return empty_pb2.Empty()

    async def ConfirmUpload(self, request: pb.ConfirmUploadRequest, context: ServicerContext) -> pb.Video:
        video = await confirm_upload(self._gallery, request)
        return self._present.video(video)

    async def ImportVideo(self, request: pb.ImportVideoRequest, context: ServicerContext) -> pb.Video:
        video, _ = await import_video(self._gallery, request)
        return self._present.video(video)

    async def CreateVideoJob(self, request: pb.CreateVideoJobRequest, context: ServicerContext) -> job_pb2.Job:
        _, ticket = await self._gallery.create_video_job(
            request.video_id,
            request.input_source,
            list(request.output_formats),
            encoding_options(request),
            request_id=request.request_id,
        )
        return ticket.answer

    async def ReconcileUploads(
        self, request: pb.ReconcileUploadsRequest, context: ServicerContext
    ) -> pb.ReconcileUploadsResponse:
        report = await self._gallery.reconcile_uploads(request.apply)
        return pb.ReconcileUploadsResponse(
            never_confirmed=report.never_confirmed,
            orphaned_objects=report.orphaned_objects,
            incomplete_multipart=report.incomplete_multipart,
            freed_bytes=report.freed_bytes,
            applied=report.applied,
        )

    async def ListVideos(self, request: pb.ListVideosRequest, context: ServicerContext) -> pb.ListVideosResponse:
        return self._present.page(*await self._gallery.list_videos(current_principal(), paging_of(request)))

    async def ListMyVideos(self, request: pb.ListMyVideosRequest, context: ServicerContext) -> pb.ListVideosResponse:
        return self._present.page(*await self._gallery.list_my_videos(paging_of(request)))

    async def GetVideo(self, request: pb.GetVideoRequest, context: ServicerContext) -> pb.Video:
        return self._present.video(await self._gallery.get_video(current_principal(), request.name))

    async def UpdateVideo(self, request: pb.UpdateVideoRequest, context: ServicerContext) -> pb.Video:
        video = await self._gallery.update_video(
            request.video.name, changes_of(request), list(request.update_mask.paths)
        )
        return self._present.video(video)

    async def DeleteVideo(self, request: pb.DeleteVideoRequest, context: ServicerContext) -> empty_pb2.Empty:
        await self._gallery.delete_video(request.name)
        return empty_pb2.Empty()


class GalleryInternalServicer(gallery_pb2_grpc.GalleryInternalServiceServicer):
    def __init__(self, gallery: Gallery, presenter: VideoPresenter) -> None:
        self._gallery, self._present = gallery, presenter

    async def LookupVideo(self, request: pb.LookupVideoRequest, context: ServicerContext) -> pb.Video:
        video = await self._gallery.lookup_video(current_principal(), request.name, request.source_key)
        message = self._present.video(video)
        # Playback streams a never-transcoded video from its source, whoever may watch it.
        message.source_key = video.source_key
        message.published_job_id = video.published_job_id
        return message
