"""JobApiService over gRPC: the original API's job routes, answered by the same use cases as JobService's."""

from __future__ import annotations

from grpc.aio import ServicerContext

from videoforge.job.entrypoints.api_shapes import api_asset, api_job
from videoforge.job.entrypoints.grpc_servicer import asset_proto, find_jobs, job_proto
from videoforge.job.service_layer.jobs import Jobs
from videoforge.job.v1 import job_api_pb2 as api
from videoforge.job.v1 import job_api_pb2_grpc
from videoforge.job.v1 import job_pb2 as pb


class JobApiServicer(job_api_pb2_grpc.JobApiServiceServicer):
    def __init__(self, jobs: Jobs) -> None:
        self._jobs = jobs

    async def GetJob(self, request: pb.GetJobRequest, context: ServicerContext) -> api.GetJobResponse:
        job = await self._jobs.get_job(request.name)
        return api.GetJobResponse(job=api_job(job_proto(job), job.media))

    async def ListJobAssets(
        self, request: pb.ListJobAssetsRequest, context: ServicerContext
    ) -> api.ListApiAssetsResponse:
        assets = await self._jobs.list_assets(request.name)
        return api.ListApiAssetsResponse(assets=[api_asset(asset_proto(a)) for a in assets])

    async def ListAllJobs(self, request: pb.ListAllJobsRequest, context: ServicerContext) -> api.ListAllJobsResponse:
        found, info = await find_jobs(self._jobs, request, all_users=True)
        return api.ListAllJobsResponse(
            jobs=[api_job(job_proto(j), j.media) for j in found],
            pagination=api.Pagination(page=info.page, limit=info.limit, total=info.total, total_pages=info.total_pages),
            next_page_token=info.next_page_token,
        )
