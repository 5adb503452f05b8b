"""The job service's internal API as workers and other services call it."""

from __future__ import annotations

import grpc

from videoforge.job.v1 import job_pb2, job_pb2_grpc
from videoforge.kit.grpc_client_errors import translate_rpc_error


class JobInternalClient:
    def __init__(self, channel: grpc.aio.Channel, *, timeout: float) -> None:
        self.stub = job_pb2_grpc.JobInternalServiceStub(channel)
        self._timeout = timeout

    async def published_output(self, video_id: str) -> job_pb2.PublishedOutput:
        with translate_rpc_error():
            return await self.stub.GetPublishedOutput(
                job_pb2.GetPublishedOutputRequest(video_id=video_id), timeout=self._timeout
            )
