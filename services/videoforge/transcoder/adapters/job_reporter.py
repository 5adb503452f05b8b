"""The job service's internal API as a transcoder worker uses it; transport failures become domain errors."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import grpc
from google.rpc import status_pb2

from videoforge.content_protection import ContentKey
from videoforge.job.v1 import job_pb2, job_pb2_grpc
from videoforge.kit.grpc_client_errors import translate_rpc_error
from videoforge.kit.grpc_errors import code_number
from videoforge.media_model import EncodingOptions
from videoforge.transcoder.domain.ladder import Rung
from videoforge.transcoder.domain.loudness import LoudnessFigures
from videoforge.transcoder.domain.media import MediaInfo
from videoforge.transcoder.domain.ports import Attempt, JobReporter, ProducedAsset
from videoforge.transcoder.entrypoints.media_proto import media_proto, rendition_proto

State = job_pb2.Job.State


class GrpcJobReporter(JobReporter):
    def __init__(self, channel: grpc.aio.Channel, *, timeout: float) -> None:
        self._stub = job_pb2_grpc.JobInternalServiceStub(channel)
        self._timeout = timeout

    async def start(self, job_id: str, delivery_token: str, worker_id: str) -> Attempt:
        request = job_pb2.StartAttemptRequest(job_id=job_id, delivery_token=delivery_token, worker_id=worker_id)
        with translate_rpc_error():
            job = await self._stub.StartAttempt(request, timeout=self._timeout)
        return Attempt(
            job_id=job.id,
            video_id=job.video_id,
            number=job.attempt,
            input_source=job.input_source,
            output_formats=list(job.output_formats),
            source_url=job.source_url,
            options=replace(EncodingOptions.parse(job.codecs, job.protection), content_key=_content_key(job)),
        )

    async def progress(self, attempt: Attempt, state: str, percent: int) -> bool:
        request = job_pb2.ReportProgressRequest(
            job_id=attempt.job_id, attempt=attempt.number, state=State.Value(f"STATE_{state}"), progress=percent
        )
        with translate_rpc_error():
            reply = await self._stub.ReportProgress(request, timeout=self._timeout)
        return reply.cancel_requested

    async def record_source(self, attempt: Attempt, media: MediaInfo) -> None:
        request = job_pb2.RecordSourceRequest(job_id=attempt.job_id, attempt=attempt.number, media=media_proto(media))
        with translate_rpc_error():
            await self._stub.RecordSource(request, timeout=self._timeout)

    async def record_live_output(
        self, attempt: Attempt, output_prefix: str, assets: list[ProducedAsset], renditions: list[Rung], has_audio: bool
    ) -> None:
        request = job_pb2.RecordLiveOutputRequest(**_output(attempt, output_prefix, assets, renditions, has_audio))
        with translate_rpc_error():
            await self._stub.RecordLiveOutput(request, timeout=self._timeout)

    async def complete(
        self,
        attempt: Attempt,
        output_prefix: str,
        assets: list[ProducedAsset],
        renditions: list[Rung],
        has_audio: bool,
        loudness: LoudnessFigures | None = None,
    ) -> None:
        request = job_pb2.CompleteAttemptRequest(
            **_output(attempt, output_prefix, assets, renditions, has_audio),
            loudness=job_pb2.Loudness(**loudness.as_fields()) if loudness is not None else None,
        )
        with translate_rpc_error():
            await self._stub.CompleteAttempt(request, timeout=self._timeout)

    async def fail(self, attempt: Attempt, code: str, message: str, *, will_retry: bool) -> None:
        request = job_pb2.FailAttemptRequest(
            job_id=attempt.job_id,
            attempt=attempt.number,
            error=status_pb2.Status(code=code_number(code), message=message),
            will_retry=will_retry,
        )
        with translate_rpc_error():
            await self._stub.FailAttempt(request, timeout=self._timeout)

    async def discard(self, attempt: Attempt) -> None:
        request = job_pb2.DiscardAttemptRequest(
            job_id=attempt.job_id, attempt=attempt.number, video_id=attempt.video_id
        )
        with translate_rpc_error():
            await self._stub.DiscardAttempt(request, timeout=self._timeout * 6)


def _output(
    attempt: Attempt, output_prefix: str, assets: list[ProducedAsset], renditions: list[Rung], has_audio: bool
) -> dict[str, Any]:
    """The fields an attempt's output is reported in, growing (RecordLiveOutput) or complete (CompleteAttempt)."""
    return {
        "job_id": attempt.job_id,
        "attempt": attempt.number,
        "output_prefix": output_prefix,
        "assets": _assets_proto(assets),
        "renditions": [rendition_proto(rung, has_audio) for rung in renditions],
    }


def _assets_proto(assets: list[ProducedAsset]) -> list[job_pb2.Asset]:
    return [
        job_pb2.Asset(
            kind=job_pb2.Asset.Kind.Value(f"KIND_{asset.kind}"),
            quality=asset.quality,
            key=asset.key,
            content_type=asset.content_type,
            size_bytes=asset.size_bytes,
        )
        for asset in assets
    ]


def _content_key(job: job_pb2.Job) -> ContentKey | None:
    """The key a protected job's output is encrypted with, which StartAttempt hands its worker."""
    return ContentKey(job.content_key.key_id, job.content_key.key) if job.HasField("content_key") else None
