"""The job service's gRPC surface over a real channel, on fakes: what a worker and the gallery see on the wire.
(grpcio-testing cannot drive grpc.aio servicers, so these start the service's own server factory on a free
port, as every service does.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest

from tests.fakes.blobs import InMemoryBlobStore
from tests.fakes.jobs import InMemoryJobRepository
from tests.fakes.queue import InMemoryJobQueue
from tests.fixtures.mesh_pki import MeshPki
from videoforge.job.entrypoints.grpc_servicer import JobInternalServicer
from videoforge.job.service_layer.jobs import Jobs
from videoforge.job.v1 import job_pb2, job_pb2_grpc
from videoforge.kit.mesh_tls import GALLERY, JOB, WORKER
from videoforge.kit.server import RunningServer, ServiceBinding, create_server
from videoforge.media_model import attempt_prefix
from videoforge.transcoder.v1 import transcoder_pb2

INTERNAL = job_pb2.DESCRIPTOR.services_by_name["JobInternalService"].full_name


class Wire:
    """The service as its two callers reach it: the gallery (jobs, events) and a worker (attempts)."""

    def __init__(self, jobs: Jobs, server: RunningServer, gallery: grpc.aio.Channel, worker: grpc.aio.Channel) -> None:
        self.jobs, self.server = jobs, server
        self.gallery = job_pb2_grpc.JobInternalServiceStub(gallery)
        self.worker = job_pb2_grpc.JobInternalServiceStub(worker)

    async def create(self, request_id: str = "r1") -> job_pb2.Job:
        return await self.gallery.CreateJob(
            job_pb2.CreateJobRequest(
                video_id="v1",
                owner_id="u1",
                input_source="uploads/u1/a/source",
                media=transcoder_pb2.MediaInfo(duration_seconds=2.0, width=640, height=360, bitrate=1_200_000),
                output_formats=["low"],
                request_id=request_id,
            )
        )


@pytest.fixture
async def wire(mesh_pki: MeshPki) -> AsyncIterator[Wire]:
    queue = InMemoryJobQueue()
    jobs = Jobs(InMemoryJobRepository(queue), queue, InMemoryBlobStore(), None, url_seconds=60, lease_seconds=30)
    servicer = JobInternalServicer(jobs)
    binding = ServiceBinding(lambda s: job_pb2_grpc.add_JobInternalServiceServicer_to_server(servicer, s), [INTERNAL])
    server = await create_server("127.0.0.1:0", [binding], verifier=None, credentials=mesh_pki.credentials(JOB))
    address = f"127.0.0.1:{server.port}"
    gallery = mesh_pki.aio_channel(address, server=JOB, caller=GALLERY)
    worker = mesh_pki.aio_channel(address, server=JOB, caller=WORKER)
    try:
        yield Wire(jobs, server, gallery, worker)
    finally:
        await gallery.close()
        await worker.close()
        await server.stop(0)


async def test_create_job_answers_a_repeat_with_the_same_job(wire: Wire) -> None:
    first, again = await wire.create(), await wire.create()
    assert first.id == again.id and list(first.output_formats) == ["480p"]
    assert first.status == "PENDING" and first.attempt == 0


async def test_a_repeated_completion_answers_ok_and_a_stale_one_is_aborted(wire: Wire) -> None:
    job = await wire.create()
    started = await wire.worker.StartAttempt(job_pb2.StartAttemptRequest(job_id=job.id, delivery_token="d1"))
    prefix = attempt_prefix("v1", job.id, started.attempt)
    request = job_pb2.CompleteAttemptRequest(job_id=job.id, attempt=started.attempt, output_prefix=prefix)
    first = await wire.worker.CompleteAttempt(request)
    again = await wire.worker.CompleteAttempt(request)
    assert first.status == again.status == "COMPLETED" and first.end_time == again.end_time

    stale = job_pb2.CompleteAttemptRequest(
        job_id=job.id, attempt=started.attempt + 1, output_prefix=attempt_prefix("v1", job.id, started.attempt + 1)
    )
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await wire.worker.CompleteAttempt(stale)
    assert refused.value.code() == grpc.StatusCode.ABORTED


async def test_a_duplicate_delivery_is_aborted_and_a_finished_job_refuses_with_failed_precondition(wire: Wire) -> None:
    job = await wire.create()
    await wire.worker.StartAttempt(job_pb2.StartAttemptRequest(job_id=job.id, delivery_token="d1"))
    with pytest.raises(grpc.aio.AioRpcError) as duplicate:
        await wire.worker.StartAttempt(job_pb2.StartAttemptRequest(job_id=job.id, delivery_token="d2"))
    assert duplicate.value.code() == grpc.StatusCode.ABORTED and "duplicate" in (duplicate.value.details() or "")

    prefix = attempt_prefix("v1", job.id, 1)
    await wire.worker.CompleteAttempt(job_pb2.CompleteAttemptRequest(job_id=job.id, attempt=1, output_prefix=prefix))
    with pytest.raises(grpc.aio.AioRpcError) as finished:
        await wire.worker.StartAttempt(job_pb2.StartAttemptRequest(job_id=job.id, delivery_token="d3"))
    assert finished.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_a_completion_outside_its_attempt_prefix_is_invalid(wire: Wire) -> None:
    job = await wire.create()
    await wire.worker.StartAttempt(job_pb2.StartAttemptRequest(job_id=job.id, delivery_token="d1"))
    elsewhere = job_pb2.CompleteAttemptRequest(job_id=job.id, attempt=1, output_prefix="uploads/u1/a/")
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await wire.worker.CompleteAttempt(elsewhere)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize("name", ["../../../v2/images/poster.jpg", "images//poster.jpg", "images/poster.jpg?x=1"])
async def test_an_asset_key_that_would_leave_its_attempt_folder_is_invalid(wire: Wire, name: str) -> None:
    job = await wire.create()
    await wire.worker.StartAttempt(job_pb2.StartAttemptRequest(job_id=job.id, delivery_token="d1"))
    prefix = attempt_prefix("v1", job.id, 1)
    poster = job_pb2.Asset(kind=job_pb2.Asset.Kind.KIND_POSTER, key=prefix + name)
    request = job_pb2.CompleteAttemptRequest(job_id=job.id, attempt=1, output_prefix=prefix, assets=[poster])
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await wire.worker.CompleteAttempt(request)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_listing_events_waits_for_the_next_change_and_acknowledging_twice_is_harmless(wire: Wire) -> None:
    job = await wire.create()
    events = (await wire.gallery.ListJobEvents(job_pb2.ListJobEventsRequest())).events
    assert [(e.video_id, e.version, e.state) for e in events] == [("v1", 1, "PENDING")]
    ids = [e.event_id for e in events]
    for _ in range(2):
        await wire.gallery.AcknowledgeJobEvents(job_pb2.AcknowledgeJobEventsRequest(event_ids=ids))

    waiting = asyncio.ensure_future(wire.gallery.ListJobEvents(job_pb2.ListJobEventsRequest(wait_seconds=10)))
    await asyncio.sleep(0.2)
    assert not waiting.done(), "nothing to tell yet: the call waits"
    await wire.worker.StartAttempt(job_pb2.StartAttemptRequest(job_id=job.id, delivery_token="d1"))
    woken = (await asyncio.wait_for(waiting, 5)).events
    assert [(e.version, e.state) for e in woken] == [(2, "DOWNLOADING")]


async def test_a_stopping_service_answers_a_waiting_event_reader_at_once_and_later_ones_without_waiting(
    wire: Wire,
) -> None:
    job = await wire.create()
    events = (await wire.gallery.ListJobEvents(job_pb2.ListJobEventsRequest())).events
    await wire.gallery.AcknowledgeJobEvents(job_pb2.AcknowledgeJobEventsRequest(event_ids=[e.event_id for e in events]))
    waiting = asyncio.ensure_future(wire.gallery.ListJobEvents(job_pb2.ListJobEventsRequest(wait_seconds=10)))
    await asyncio.sleep(0.2)
    assert not waiting.done()

    wire.jobs.changes.close()

    assert list((await asyncio.wait_for(waiting, 1)).events) == []
    again = wire.gallery.ListJobEvents(job_pb2.ListJobEventsRequest(wait_seconds=10))
    assert list((await asyncio.wait_for(again, 1)).events) == []
    # Events still reach a reader that asks before the process is gone.
    await wire.worker.StartAttempt(job_pb2.StartAttemptRequest(job_id=job.id, delivery_token="d1"))
    late = (await wire.gallery.ListJobEvents(job_pb2.ListJobEventsRequest(wait_seconds=10))).events
    assert [(e.version, e.state) for e in late] == [(2, "DOWNLOADING")]
