"""The gallery's calls into the mesh: probing (transcoder) and jobs (job service)."""

from __future__ import annotations

from typing import Any

import grpc
from google.protobuf.json_format import MessageToDict

from videoforge.gallery.domain.ports import JobScheduler, MediaProber
from videoforge.gallery.domain.videos import JobSnapshot
from videoforge.job.v1 import job_pb2, job_pb2_grpc
from videoforge.kit.grpc_client_errors import translate_rpc_error
from videoforge.transcoder.v1 import transcoder_pb2, transcoder_pb2_grpc


class GrpcMediaProber(MediaProber):
    def __init__(self, channel: grpc.aio.Channel, *, timeout: float) -> None:
        self._stub = transcoder_pb2_grpc.TranscoderServiceStub(channel)
        # Probing downloads the object first; give it longer than an ordinary call.
        self._timeout = timeout * 12

    async def probe(self, source_key: str) -> dict[str, Any]:
        with translate_rpc_error():
            info = await self._stub.ProbeMedia(
                transcoder_pb2.ProbeMediaRequest(source_key=source_key), timeout=self._timeout
            )
        return MessageToDict(info, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)


class GrpcJobScheduler(JobScheduler):
    def __init__(self, channel: grpc.aio.Channel, *, timeout: float) -> None:
        self._public = job_pb2_grpc.JobServiceStub(channel)
        self._internal = job_pb2_grpc.JobInternalServiceStub(channel)
        self._timeout = timeout

    async def start_job(self, video_id: str, formats: list[str], authorization: str) -> JobSnapshot:
        with translate_rpc_error():
            job = await self._public.CreateJob(
                job_pb2.CreateJobRequest(video_id=video_id, output_formats=formats),
                timeout=self._timeout,
                metadata=[("authorization", f"Bearer {authorization}")],
            )
        return JobSnapshot(job_id=job.id, state=job.status, progress=job.progress)

    async def purge_video_jobs(self, video_id: str) -> int:
        with translate_rpc_error():
            reply = await self._internal.PurgeVideoJobs(
                job_pb2.PurgeVideoJobsRequest(video_id=video_id), timeout=self._timeout * 6
            )
        return reply.freed_bytes
