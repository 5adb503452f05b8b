"""StreamingService over gRPC."""

from __future__ import annotations

from google.api import httpbody_pb2
from grpc.aio import ServicerContext

from videoforge.streaming.service_layer.playback import Playback
from videoforge.streaming.v1 import streaming_pb2 as pb
from videoforge.streaming.v1 import streaming_pb2_grpc
from videoforge.transcoder.entrypoints.media_proto import renditions_proto


class StreamingServicer(streaming_pb2_grpc.StreamingServiceServicer):
    def __init__(self, playback: Playback) -> None:
        self._playback = playback

    async def ListQualities(
        self, request: pb.ListQualitiesRequest, context: ServicerContext
    ) -> pb.ListQualitiesResponse:
        return pb.ListQualitiesResponse(qualities=renditions_proto(await self._playback.qualities(request.video_id)))

    async def GetStream(self, request: pb.GetStreamRequest, context: ServicerContext) -> pb.Stream:
        urls = await self._playback.stream(request.video_id, request.quality)
        return pb.Stream(
            quality=urls.rendition.name,
            url=urls.url,
            mp4_url=urls.mp4_url,
            expires_in=self._playback.seconds,
            rendition=renditions_proto([urls.rendition])[0],
        )

    async def GetPlayback(self, request: pb.GetPlaybackRequest, context: ServicerContext) -> pb.Playback:
        urls = await self._playback.playback(request.video_id)
        return pb.Playback(
            hls_url=urls.hls_url,
            dash_url=urls.dash_url,
            thumbnail_url=urls.thumbnail_url,
            preview_url=urls.preview_url,
            storyboard_url=urls.storyboard_url,
            expires_in=self._playback.seconds,
            qualities=renditions_proto(urls.qualities),
            duration_seconds=urls.duration_seconds,
            live=urls.live,
        )

    async def GetVideoStream(self, request: pb.GetVideoStreamRequest, context: ServicerContext) -> pb.VideoStream:
        stream = await self._playback.video_stream(request.video_id)
        return pb.VideoStream(stream_url=stream.url, expires_in=self._playback.seconds, kind=stream.kind)

    async def GetThumbnail(self, request: pb.GetThumbnailRequest, context: ServicerContext) -> pb.Thumbnail:
        url = await self._playback.thumbnail(request.video_id)
        return pb.Thumbnail(url=url, expires_in=self._playback.seconds)

    async def GetManifest(self, request: pb.GetManifestRequest, context: ServicerContext) -> httpbody_pb2.HttpBody:
        kind, body = await self._playback.manifest(request.video_id, request.path, request.token)
        return httpbody_pb2.HttpBody(content_type=kind, data=body)

    async def GetContentKey(self, request: pb.GetContentKeyRequest, context: ServicerContext) -> httpbody_pb2.HttpBody:
        key = await self._playback.content_key(request.video_id, request.token)
        return httpbody_pb2.HttpBody(content_type="application/octet-stream", data=key)

    async def GetClearKeyLicense(
        self, request: pb.GetClearKeyLicenseRequest, context: ServicerContext
    ) -> pb.ClearKeyLicense:
        keys = await self._playback.clearkey_license(
            request.video_id, request.token, list(request.license_request.kids)
        )
        return pb.ClearKeyLicense(
            keys=[pb.JsonWebKey(kty=key.kty, kid=key.kid, k=key.k) for key in keys], type="temporary"
        )
