"""The gallery's calls into the mesh: probing (transcoder) and jobs (job service). Calls go one way: the job
service never calls the gallery; its state changes come back as events the gallery reads."""

from __future__ import annotations

import grpc

from videoforge.gallery.domain.ports import JobEventFeed, JobScheduler, MediaProber
from videoforge.gallery.domain.videos import JobSnapshot, JobTicket, JobUpdate, PlayingOutput, Video
from videoforge.job.v1 import job_pb2, job_pb2_grpc
from videoforge.kit.grpc_client_errors import translate_rpc_error
from videoforge.loudness_proto import loudness_fields
from videoforge.media_model import DEFAULT_ENCODING, EncodingOptions, MediaSummary
from videoforge.transcoder.entrypoints.media_proto import summary_from_proto, summary_proto
from videoforge.transcoder.v1 import transcoder_pb2, transcoder_pb2_grpc


class GrpcMediaProber(MediaProber):
    def __init__(self, channel: grpc.aio.Channel, *, timeout: float) -> None:
        self._stub = transcoder_pb2_grpc.TranscoderServiceStub(channel)
        # Probing reads only the bytes it needs, in ranges, within the transcoder's own bound (8 s).
        self._timeout = max(timeout, 10.0)

    async def probe(self, source_key: str) -> MediaSummary:
        with translate_rpc_error():
            info = await self._stub.ProbeMedia(
                transcoder_pb2.ProbeMediaRequest(source_key=source_key), timeout=self._timeout
            )
        return summary_from_proto(info)


class GrpcJobScheduler(JobScheduler):
    def __init__(self, channel: grpc.aio.Channel, *, timeout: float) -> None:
        self._stub = job_pb2_grpc.JobInternalServiceStub(channel)
        self._timeout = timeout

    async def start_job(
        self,
        video: Video,
        formats: list[str],
        request_id: str,
        options: EncodingOptions = DEFAULT_ENCODING,
        *,
        reuse_covering: bool = False,
    ) -> JobTicket:
        request = job_pb2.CreateJobRequest(
            video_id=video.id,
            owner_id=video.owner_id,
            input_source=video.source_key,
            media=summary_proto(video.media),
            output_formats=formats,
            request_id=request_id,
            reuse_covering_job=reuse_covering,
            source_url=video.source_url,
            codecs=options.codecs,
            protection=options.protection,
        )
        with translate_rpc_error():
            job = await self._stub.CreateJob(request, timeout=self._timeout)
        return JobTicket(JobSnapshot(job_id=job.id, state=job.status, progress=job.progress), answer=job)

    async def purge_video_jobs(self, video_id: str) -> int:
        with translate_rpc_error():
            reply = await self._stub.PurgeVideoJobs(
                job_pb2.PurgeVideoJobsRequest(video_id=video_id), timeout=self._timeout * 6
            )
        return reply.freed_bytes


EVENT_WAIT_SECONDS = 2


class GrpcJobEventFeed(JobEventFeed):
    def __init__(self, channel: grpc.aio.Channel, *, timeout: float) -> None:
        self._stub = job_pb2_grpc.JobInternalServiceStub(channel)
        self._timeout = timeout

    async def next_batch(self, limit: int) -> list[JobUpdate]:
        # A long poll: the job service answers as soon as an event is written, or after the wait.
        request = job_pb2.ListJobEventsRequest(page_size=limit, wait_seconds=EVENT_WAIT_SECONDS)
        with translate_rpc_error():
            reply = await self._stub.ListJobEvents(request, timeout=EVENT_WAIT_SECONDS + self._timeout)
        return [_update(event) for event in reply.events]

    async def acknowledge(self, event_ids: list[int]) -> None:
        with translate_rpc_error():
            await self._stub.AcknowledgeJobEvents(
                job_pb2.AcknowledgeJobEventsRequest(event_ids=event_ids), timeout=self._timeout
            )


def _update(event: job_pb2.JobEvent) -> JobUpdate:
    published = event.publication if event.HasField("publication") else None
    return JobUpdate(
        event_id=event.event_id,
        video_id=event.video_id,
        version=event.version,
        job=JobSnapshot(event.job_id, event.state, event.progress, event.error_message),
        playing=PlayingOutput(
            job_id=published.job_id,
            poster_key=published.poster_key,
            preview_key=published.preview_key,
            duration_seconds=published.duration_seconds,
            loudness=loudness_fields(published.loudness) if published.HasField("loudness") else None,
        )
        if published
        else None,
        media=summary_from_proto(event.media) if event.HasField("media") else None,
    )
