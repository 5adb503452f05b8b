"""TranscoderService over gRPC: probing uploaded objects and planning ladders."""

from __future__ import annotations

import tempfile
from pathlib import Path

from grpc.aio import ServicerContext

from videoforge.kit.errors import require
from videoforge.storage.port import BlobNotFound, BlobStore
from videoforge.transcoder.adapters.ffmpeg import FfmpegEncoder
from videoforge.transcoder.domain.errors import UnsupportedMedia
from videoforge.transcoder.domain.ladder import plan_ladder
from videoforge.transcoder.domain.media import SNIFF_BYTES, MediaLimits, sniff_refusal, validate
from videoforge.transcoder.entrypoints.media_proto import media_from_proto, media_proto, rendition_proto
from videoforge.transcoder.v1 import transcoder_pb2 as pb
from videoforge.transcoder.v1 import transcoder_pb2_grpc


class TranscoderServicer(transcoder_pb2_grpc.TranscoderServiceServicer):
    def __init__(self, blobs: BlobStore, encoder: FfmpegEncoder, limits: MediaLimits, scratch: Path) -> None:
        self._blobs, self._encoder, self._limits, self._scratch = blobs, encoder, limits, scratch

    async def ProbeMedia(self, request: pb.ProbeMediaRequest, context: ServicerContext) -> pb.MediaInfo:
        key = require(request.source_key, "source_key")
        try:
            # Refuse by content before fetching the rest: playlists and text never reach a demuxer.
            if reason := sniff_refusal(await self._blobs.read_prefix(key, SNIFF_BYTES)):
                raise UnsupportedMedia(reason)
            self._scratch.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=self._scratch) as folder:
                source = Path(folder) / "source"
                await self._blobs.download_file(key, source)
                info = await self._encoder.probe(source)
        except BlobNotFound as exc:
            raise UnsupportedMedia("Nothing was uploaded under that key") from exc
        validate(info, self._limits)
        return media_proto(info)

    async def PlanLadder(self, request: pb.PlanLadderRequest, context: ServicerContext) -> pb.PlanLadderResponse:
        info = media_from_proto(request.media)
        rungs = plan_ladder(info, list(request.formats) or None)
        return pb.PlanLadderResponse(renditions=[rendition_proto(r, info.has_audio) for r in rungs])
