"""TranscoderService over gRPC: probing uploaded objects and planning ladders."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from grpc.aio import ServicerContext

from videoforge.kit.errors import Unavailable, require
from videoforge.storage.port import BlobNotFound, BlobStore
from videoforge.transcoder.adapters.ffmpeg import FfmpegEncoder
from videoforge.transcoder.domain.errors import UnsupportedMedia
from videoforge.transcoder.domain.ladder import plan_ladder
from videoforge.transcoder.domain.media import SNIFF_BYTES, MediaLimits, validate
from videoforge.transcoder.entrypoints.media_proto import media_from_proto, media_proto, rendition_proto
from videoforge.transcoder.v1 import transcoder_pb2 as pb
from videoforge.transcoder.v1 import transcoder_pb2_grpc


@dataclass(frozen=True)
class ProbeBounds:
    """Probes read the object where it lies (ranged reads over a short-lived URL), so they take no scratch
    space; these bound how many run at once and how long one may take."""

    concurrency: int = 4
    queue_seconds: float = 1.0  # a probe that waits longer for a slot is answered UNAVAILABLE
    timeout_seconds: float = 8.0  # the confirm that asked must answer within the edge's 15 s

    @property
    def url_seconds(self) -> int:
        return int(self.timeout_seconds) + 30  # outlives the probe, and little more


class TranscoderServicer(transcoder_pb2_grpc.TranscoderServiceServicer):
    def __init__(
        self, blobs: BlobStore, encoder: FfmpegEncoder, limits: MediaLimits, bounds: ProbeBounds | None = None
    ) -> None:
        self._blobs, self._encoder, self._limits = blobs, encoder, limits
        self._bounds = bounds or ProbeBounds()
        self._slots = asyncio.Semaphore(self._bounds.concurrency)

    async def ProbeMedia(self, request: pb.ProbeMediaRequest, context: ServicerContext) -> pb.MediaInfo:
        key = require(request.source_key, "source_key")
        async with self._probe_slot():
            try:
                # Sniffed from a ranged read of the first bytes: playlists and text never reach a demuxer.
                head = await self._blobs.read_prefix(key, SNIFF_BYTES)
                url = await self._blobs.presign_internal_get(key, expires=self._bounds.url_seconds)
                info = await self._encoder.probe_url(url, head, timeout=self._bounds.timeout_seconds)
            except BlobNotFound as exc:
                raise UnsupportedMedia("Nothing was uploaded under that key") from exc
        validate(info, self._limits)
        return media_proto(info)

    @contextlib.asynccontextmanager
    async def _probe_slot(self) -> AsyncIterator[None]:
        try:
            await asyncio.wait_for(self._slots.acquire(), self._bounds.queue_seconds)
        except TimeoutError as exc:
            raise Unavailable("Many files are being checked right now; confirm again in a moment.", "BUSY") from exc
        try:
            yield
        finally:
            self._slots.release()

    async def PlanLadder(self, request: pb.PlanLadderRequest, context: ServicerContext) -> pb.PlanLadderResponse:
        info = media_from_proto(request.media)
        rungs = plan_ladder(info, list(request.formats) or None)
        return pb.PlanLadderResponse(renditions=[rendition_proto(r, info.has_audio) for r in rungs])
