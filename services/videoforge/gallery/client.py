"""The gallery's internal API as other services call it."""

from __future__ import annotations

import grpc

from videoforge.gallery.v1 import gallery_pb2, gallery_pb2_grpc
from videoforge.kit.grpc_client_errors import translate_rpc_error


class GalleryClient:
    def __init__(self, channel: grpc.aio.Channel, *, timeout: float) -> None:
        self._stub = gallery_pb2_grpc.GalleryInternalServiceStub(channel)
        self._timeout = timeout

    async def lookup(self, *, video_id: str = "", source_key: str = "", authorization: str) -> gallery_pb2.Video:
        """The video as the caller may see it; NOT_FOUND (as a domain error) otherwise."""
        metadata = [("authorization", f"Bearer {authorization}")] if authorization else []
        with translate_rpc_error():
            return await self._stub.LookupVideo(
                gallery_pb2.LookupVideoRequest(name=video_id, source_key=source_key),
                timeout=self._timeout,
                metadata=metadata,
            )

    async def record_job_state(self, request: gallery_pb2.RecordJobStateRequest) -> None:
        with translate_rpc_error():
            await self._stub.RecordJobState(request, timeout=self._timeout)
