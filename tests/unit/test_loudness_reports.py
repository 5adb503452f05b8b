"""A transcode's loudness figures travel with its completion: the worker reports them, the job keeps them, and
the event that tells the gallery what the video plays carries them; figures no measurement gives are refused."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.fakes.blobs import InMemoryBlobStore
from tests.fakes.jobs import InMemoryJobRepository
from tests.fakes.queue import InMemoryJobQueue
from tests.fakes.transcoding import FakeTranscoder, LocalJobReporter
from videoforge.job.service_layer.jobs import Jobs, NewJob
from videoforge.kit.errors import InvalidArgument
from videoforge.media_model import MediaSummary, attempt_prefix
from videoforge.transcoder.domain.loudness import LoudnessFigures
from videoforge.transcoder.worker import TranscodeWorker, WorkerConfig

LEASE = 30.0
FIGURES = LoudnessFigures(-30.12, -26.4, -16.02, -12.3, normalized=True)


class Service:
    """The job service's use cases on fakes, and what they keep."""

    def __init__(self) -> None:
        self.queue = InMemoryJobQueue()
        self.repo = InMemoryJobRepository(self.queue)
        self.blobs = InMemoryBlobStore()
        self.blobs.put("uploads/u1/a/source", b"source bytes")
        self.jobs = Jobs(self.repo, self.queue, self.blobs, None, url_seconds=60, lease_seconds=LEASE)

    async def new_job(self) -> str:
        new = NewJob("v1", "u1", "uploads/u1/a/source", MediaSummary(duration_seconds=2.0), ["360p"], "r1")
        return (await self.jobs.create_job(new)).id

    async def started(self) -> str:
        job_id = await self.new_job()
        await self.jobs.start_attempt(job_id, "delivery-1")
        return job_id


@pytest.fixture
def service() -> Service:
    return Service()


async def test_the_completed_job_and_its_publication_carry_the_measured_loudness(
    service: Service, tmp_path: Path
) -> None:
    job_id = await service.new_job()
    transcoder = FakeTranscoder()
    transcoder.loudness = FIGURES
    config = WorkerConfig(worker_id="w1", scratch=tmp_path, lease_seconds=LEASE, max_attempts=3)
    worker = TranscodeWorker(service.queue, LocalJobReporter(service.jobs), service.blobs, transcoder, config)
    claim = await service.queue.claim("w1", LEASE)
    assert claim is not None
    await worker.handle(claim)

    job = await service.repo.get(job_id)
    assert job is not None and job.state == "COMPLETED"
    assert job.loudness == FIGURES.as_fields()
    publication = service.repo.event_log[-1].publication
    assert publication is not None and publication.loudness == FIGURES.as_fields()


async def test_a_completion_without_audio_figures_keeps_none(service: Service) -> None:
    job_id = await service.started()

    job = await service.jobs.complete_attempt(job_id, 1, attempt_prefix("v1", job_id, 1), [], [])

    assert job.loudness is None


@pytest.mark.parametrize(
    ("name", "value"),
    [("input_integrated_lufs", math.nan), ("output_true_peak_dbtp", math.inf), ("output_integrated_lufs", 250.0)],
)
async def test_figures_no_measurement_gives_are_refused(service: Service, name: str, value: float) -> None:
    job_id = await service.started()

    with pytest.raises(InvalidArgument) as refused:
        await service.jobs.complete_attempt(
            job_id, 1, attempt_prefix("v1", job_id, 1), [], [], loudness={**FIGURES.as_fields(), name: value}
        )

    assert refused.value.reason == "BAD_LOUDNESS" and name in refused.value.message
    job = await service.repo.get(job_id)
    assert job is not None and job.state != "COMPLETED"
