"""CaptionService over gRPC: the caption library's use cases, presented as the protos define them."""

from __future__ import annotations

from google.protobuf.empty_pb2 import Empty
from grpc.aio import ServicerContext

from videoforge.gallery.domain.captions import Caption
from videoforge.gallery.service_layer.captions import CaptionLibrary
from videoforge.gallery.v1 import captions_pb2 as pb
from videoforge.gallery.v1 import captions_pb2_grpc
from videoforge.kit.proto_time import timestamp


def caption_message(caption: Caption) -> pb.Caption:
    return pb.Caption(
        name=caption.name,
        id=caption.id,
        language=caption.language,
        label=caption.label,
        origin=caption.origin,
        cue_count=caption.cue_count,
        create_time=timestamp(caption.create_time),
    )


class CaptionServicer(captions_pb2_grpc.CaptionServiceServicer):
    def __init__(self, library: CaptionLibrary) -> None:
        self._library = library

    async def CreateCaption(self, request: pb.CreateCaptionRequest, context: ServicerContext) -> pb.Caption:
        caption = await self._library.add(
            request.parent, request.language, request.label, request.format, request.content
        )
        return caption_message(caption)

    async def ListCaptions(self, request: pb.ListCaptionsRequest, context: ServicerContext) -> pb.ListCaptionsResponse:
        return pb.ListCaptionsResponse(captions=[caption_message(c) for c in await self._library.list(request.parent)])

    async def DeleteCaption(self, request: pb.DeleteCaptionRequest, context: ServicerContext) -> Empty:
        await self._library.delete(request.name)
        return Empty()
