"""JobService, JobAdminService and JobInternalService over gRPC."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from google.rpc import status_pb2
from grpc.aio import ServicerContext

from videoforge.content_protection import ContentKey
from videoforge.job.domain.insights import ActivityRecords
from videoforge.job.domain.jobs import COMPLETED, FAILED, PENDING, WORKING_STATES, Asset, Job, JobError, JobEvent
from videoforge.job.entrypoints.api_shapes import gigabytes
from videoforge.job.service_layer.insights import recent_activity
from videoforge.job.service_layer.jobs import Jobs, NewJob
from videoforge.job.v1 import job_pb2 as pb
from videoforge.job.v1 import job_pb2_grpc
from videoforge.kit.address_policy import redact
from videoforge.kit.errors import InvalidArgument
from videoforge.kit.grpc_errors import code_name, code_number
from videoforge.kit.paging import PageInfo
from videoforge.kit.proto_time import timestamp
from videoforge.loudness_proto import loudness_fields, loudness_proto
from videoforge.transcoder.entrypoints.media_proto import (
    rendition_from_proto,
    renditions_proto,
    summary_from_proto,
    summary_proto,
)


def job_proto(job: Job, *, full_source_url: bool = False, content_key: ContentKey | None = None) -> pb.Job:
    """The job as callers see it; `full_source_url` and `content_key` only for the worker that fetches it (a URL
    may carry a token in its query or credentials) and encrypts its output."""
    message = pb.Job(
        name=f"jobs/{job.id}",
        id=job.id,
        video_id=job.video_id,
        owner_id=job.owner_id,
        input_source=job.input_source,
        output_formats=job.output_formats,
        state=pb.Job.State.Value(f"STATE_{job.state}"),
        status=job.state,
        progress=job.progress,
        attempt=job.attempt,
        create_time=timestamp(job.create_time),
        update_time=timestamp(job.update_time),
        start_time=timestamp(job.start_time),
        end_time=timestamp(job.end_time),
        renditions=renditions_proto(job.renditions),
        source_url=job.source_url if full_source_url else redact(job.source_url) if job.source_url else "",
        codecs=job.codecs,
        protection=job.protection,
        content_key=content_key_proto(content_key),
        loudness=loudness_proto(job.loudness),
    )
    if job.error:
        message.error.CopyFrom(status_pb2.Status(code=code_number(job.error.code), message=job.error.message))
    return message


def content_key_proto(key: ContentKey | None) -> pb.ContentKey | None:
    return pb.ContentKey(key_id=key.key_id, key=key.key) if key is not None else None


def asset_proto(asset: Asset) -> pb.Asset:
    return pb.Asset(
        id=asset.id,
        job_id=asset.job_id,
        kind=pb.Asset.Kind.Value(f"KIND_{asset.kind}"),
        quality=asset.quality,
        key=asset.key,
        content_type=asset.content_type,
        size_bytes=asset.size_bytes,
    )


def asset_from_proto(message: pb.Asset) -> Asset:
    kind = pb.Asset.Kind.Name(message.kind).removeprefix("KIND_")
    if kind == "UNSPECIFIED" or not message.key:
        raise InvalidArgument.for_field("assets", "every asset needs a kind and a key", "BAD_ASSET")
    return Asset(
        id=message.id,
        job_id=message.job_id,
        video_id="",
        kind=kind,
        quality=message.quality,
        key=message.key,
        content_type=message.content_type,
        size_bytes=message.size_bytes,
    )


async def find_jobs(
    jobs: Jobs, request: pb.ListJobsRequest | pb.ListAllJobsRequest, *, all_users: bool
) -> tuple[list[Job], PageInfo]:
    return await jobs.list_jobs(
        page_size=request.page_size,
        page_token=request.page_token,
        page=request.page,
        limit=request.limit,
        filter_text=request.filter,
        all_users=all_users,
    )


async def _list_jobs(
    jobs: Jobs, request: pb.ListJobsRequest | pb.ListAllJobsRequest, *, all_users: bool
) -> pb.ListJobsResponse:
    found, info = await find_jobs(jobs, request, all_users=all_users)
    return pb.ListJobsResponse(
        jobs=[job_proto(j) for j in found], next_page_token=info.next_page_token, total_size=info.total
    )


class JobServicer(job_pb2_grpc.JobServiceServicer):
    def __init__(self, jobs: Jobs) -> None:
        self._jobs = jobs

    async def ListJobs(self, request: pb.ListJobsRequest, context: ServicerContext) -> pb.ListJobsResponse:
        return await _list_jobs(self._jobs, request, all_users=False)

    async def GetJob(self, request: pb.GetJobRequest, context: ServicerContext) -> pb.Job:
        return job_proto(await self._jobs.get_job(request.name))

    async def WatchJob(self, request: pb.WatchJobRequest, context: ServicerContext) -> AsyncIterator[pb.Job]:
        # Closed with this stream, however it ends, so the caller's watch slot is given back at once.
        async with contextlib.aclosing(self._jobs.watch_job(request.name)) as changes:
            async for job in changes:
                yield job_proto(job)

    async def CancelJob(self, request: pb.CancelJobRequest, context: ServicerContext) -> pb.Job:
        return job_proto(await self._jobs.cancel_job(request.name))

    async def ListJobAssets(
        self, request: pb.ListJobAssetsRequest, context: ServicerContext
    ) -> pb.ListJobAssetsResponse:
        return pb.ListJobAssetsResponse(assets=[asset_proto(a) for a in await self._jobs.list_assets(request.name)])

    async def GetAssetDownload(self, request: pb.GetAssetDownloadRequest, context: ServicerContext) -> pb.AssetDownload:
        download = await self._jobs.asset_download(request.job, request.asset)
        return pb.AssetDownload(url=download.url, expires_in=download.expires_in, filename=download.filename)


class JobAdminServicer(job_pb2_grpc.JobAdminServiceServicer):
    def __init__(self, jobs: Jobs, activity: ActivityRecords) -> None:
        self._jobs, self._activity = jobs, activity

    async def GetJobInsights(self, request: pb.GetJobInsightsRequest, context: ServicerContext) -> pb.JobInsights:
        activity = await recent_activity(self._activity, request.hours)
        return pb.JobInsights(
            jobs_per_hour=[
                pb.HourOfJobs(start_time=timestamp(h.start), jobs_by_state=h.jobs_by_state)
                for h in activity.jobs_per_hour
            ],
            stage_seconds=[
                pb.HourOfStages(start_time=timestamp(h.start), average_seconds=h.average_seconds, jobs=h.jobs)
                for h in activity.stage_seconds
            ],
            queue_depth=[
                pb.QueueSample(time=timestamp(q.time), depth=q.depth, oldest_wait_seconds=q.oldest_wait_seconds)
                for q in activity.queue_depth
            ],
        )

    async def ListAllJobs(self, request: pb.ListAllJobsRequest, context: ServicerContext) -> pb.ListJobsResponse:
        return await _list_jobs(self._jobs, request, all_users=True)

    async def GetJobStats(self, request: pb.GetJobStatsRequest, context: ServicerContext) -> pb.JobStats:
        stats = await self._jobs.stats()
        return pb.JobStats(
            jobs_by_state=stats.by_state,
            total_jobs=stats.total,
            average_processing_seconds=stats.average_processing_seconds,
            storage_bytes=stats.storage_bytes,
            queue_depth=stats.queue_depth,
            pending=stats.by_state[PENDING],
            processing=sum(stats.by_state[state] for state in WORKING_STATES),
            completed=stats.by_state[COMPLETED],
            failed=stats.by_state[FAILED],
            avg_processing_time=stats.average_processing_seconds,
            total_storage_used=gigabytes(stats.storage_bytes),
        )

    async def RestartFailedJobs(
        self, request: pb.RestartFailedJobsRequest, context: ServicerContext
    ) -> pb.RestartFailedJobsResponse:
        restarted = await self._jobs.restart_failed()
        return pb.RestartFailedJobsResponse(job_ids=restarted, message=f"{len(restarted)} failed jobs restarted")

    async def CleanupOldJobs(
        self, request: pb.CleanupOldJobsRequest, context: ServicerContext
    ) -> pb.CleanupOldJobsResponse:
        deleted, freed = await self._jobs.cleanup_old(request.days)
        return pb.CleanupOldJobsResponse(
            deleted_jobs=deleted,
            freed_bytes=freed,
            message=f"{deleted} old jobs deleted",
            freed_space=gigabytes(freed),
        )

    async def ReconcileOutputs(
        self, request: pb.ReconcileOutputsRequest, context: ServicerContext
    ) -> pb.ReconcileOutputsResponse:
        report = await self._jobs.reconcile_outputs(request.apply)
        return pb.ReconcileOutputsResponse(
            orphaned_prefixes=report.orphaned_prefixes, orphaned_bytes=report.orphaned_bytes, applied=report.applied
        )


class JobInternalServicer(job_pb2_grpc.JobInternalServiceServicer):
    def __init__(self, jobs: Jobs) -> None:
        self._jobs = jobs

    async def CreateJob(self, request: pb.CreateJobRequest, context: ServicerContext) -> pb.Job:
        new = NewJob(
            video_id=request.video_id,
            owner_id=request.owner_id,
            input_source=request.input_source,
            media=summary_from_proto(request.media),
            output_formats=list(request.output_formats),
            request_id=request.request_id,
            reuse_covering=request.reuse_covering_job,
            source_url=request.source_url,
            codecs=list(request.codecs),
            protection=request.protection,
        )
        return job_proto(await self._jobs.create_job(new))

    async def StartAttempt(self, request: pb.StartAttemptRequest, context: ServicerContext) -> pb.Job:
        job = await self._jobs.start_attempt(request.job_id, request.delivery_token)
        return job_proto(job, full_source_url=True, content_key=await self._jobs.content_key(job))

    async def ReportProgress(
        self, request: pb.ReportProgressRequest, context: ServicerContext
    ) -> pb.ReportProgressResponse:
        state = pb.Job.State.Name(request.state).removeprefix("STATE_")
        cancelled = await self._jobs.report_progress(request.job_id, request.attempt, state, request.progress)
        return pb.ReportProgressResponse(cancel_requested=cancelled)

    async def RecordSource(self, request: pb.RecordSourceRequest, context: ServicerContext) -> pb.Job:
        job = await self._jobs.record_source(request.job_id, request.attempt, summary_from_proto(request.media))
        return job_proto(job)

    async def RecordLiveOutput(self, request: pb.RecordLiveOutputRequest, context: ServicerContext) -> pb.Job:
        manifests = [asset_from_proto(a) for a in request.assets]
        renditions = [rendition_from_proto(r) for r in request.renditions]
        job = await self._jobs.record_live_output(
            request.job_id, request.attempt, request.output_prefix, manifests, renditions
        )
        return job_proto(job)

    async def CompleteAttempt(self, request: pb.CompleteAttemptRequest, context: ServicerContext) -> pb.Job:
        produced = [asset_from_proto(a) for a in request.assets]
        renditions = [rendition_from_proto(r) for r in request.renditions]
        loudness = loudness_fields(request.loudness) if request.HasField("loudness") else None
        job = await self._jobs.complete_attempt(
            request.job_id,
            request.attempt,
            request.output_prefix,
            produced,
            renditions,
            loudness=loudness,
        )
        return job_proto(job)

    async def FailAttempt(self, request: pb.FailAttemptRequest, context: ServicerContext) -> pb.Job:
        error = JobError(code=code_name(request.error.code), message=request.error.message or "The transcode failed.")
        return job_proto(await self._jobs.fail_attempt(request.job_id, request.attempt, error, request.will_retry))

    async def DiscardAttempt(
        self, request: pb.DiscardAttemptRequest, context: ServicerContext
    ) -> pb.DiscardAttemptResponse:
        freed = await self._jobs.discard_attempt(request.job_id, request.attempt, request.video_id)
        return pb.DiscardAttemptResponse(freed_bytes=freed)

    async def GetPublishedOutput(
        self, request: pb.GetPublishedOutputRequest, context: ServicerContext
    ) -> pb.PublishedOutput:
        job, produced, live = await self._jobs.playable_output(request.video_id)
        return pb.PublishedOutput(
            video_id=job.video_id,
            job_id=job.id,
            output_prefix=job.output_prefix,
            assets=[asset_proto(a) for a in produced],
            renditions=renditions_proto(job.renditions),
            duration_seconds=job.duration_seconds,
            live=live,
            protection=job.protection,
            content_key=content_key_proto(await self._jobs.content_key(job)),
        )

    async def PurgeVideoJobs(
        self, request: pb.PurgeVideoJobsRequest, context: ServicerContext
    ) -> pb.PurgeVideoJobsResponse:
        return pb.PurgeVideoJobsResponse(freed_bytes=await self._jobs.purge_video(request.video_id))

    async def ListJobEvents(
        self, request: pb.ListJobEventsRequest, context: ServicerContext
    ) -> pb.ListJobEventsResponse:
        found = await self._jobs.job_events(request.page_size, request.wait_seconds)
        return pb.ListJobEventsResponse(events=[event_proto(e) for e in found])

    async def AcknowledgeJobEvents(
        self, request: pb.AcknowledgeJobEventsRequest, context: ServicerContext
    ) -> pb.AcknowledgeJobEventsResponse:
        await self._jobs.acknowledge_events(list(request.event_ids))
        return pb.AcknowledgeJobEventsResponse()


def event_proto(event: JobEvent) -> pb.JobEvent:
    message = pb.JobEvent(
        event_id=event.event_id,
        video_id=event.video_id,
        version=event.version,
        job_id=event.job_id,
        state=event.state,
        progress=event.progress,
        error_message=event.error_message,
    )
    if event.publication is not None:
        published = event.publication
        message.publication.CopyFrom(
            pb.Publication(
                job_id=published.job_id,
                poster_key=published.poster_key,
                preview_key=published.preview_key,
                duration_seconds=published.duration_seconds,
                loudness=loudness_proto(published.loudness),
            )
        )
    if event.media is not None:
        message.media.CopyFrom(summary_proto(event.media))
    return message
