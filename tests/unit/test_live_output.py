"""Watching while a video transcodes, through the job use cases and a real worker loop on in-memory fakes: a
running attempt's growing output plays until the job completes in that same folder; a video that already plays
keeps its published output; an attempt that stopped is never served again."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.blobs import InMemoryBlobStore
from tests.fakes.jobs import InMemoryJobRepository
from tests.fakes.queue import InMemoryJobQueue
from tests.fakes.transcoding import FakeTranscoder, LocalJobReporter
from videoforge.job.domain.jobs import Asset, JobError
from videoforge.job.service_layer.jobs import Jobs, NewJob
from videoforge.kit.errors import Aborted, InvalidArgument, NotFound
from videoforge.kit.principal import Principal, reset_principal, set_principal
from videoforge.media_model import MediaSummary, Rendition, attempt_prefix
from videoforge.transcoder.worker import TranscodeWorker, WorkerConfig

LEASE = 30.0


class World:
    def __init__(self, tmp_path: Path) -> None:
        self.queue = InMemoryJobQueue()
        self.repo = InMemoryJobRepository(self.queue)
        self.blobs = InMemoryBlobStore()
        self.jobs = Jobs(self.repo, self.queue, self.blobs, None, url_seconds=60, lease_seconds=LEASE)
        self.transcoder = FakeTranscoder()
        self.tmp_path = tmp_path
        self.blobs.put("uploads/u1/a/source", b"source bytes")

    async def new_job(self, request_id: str = "r1") -> str:
        new = NewJob("v1", "u1", "uploads/u1/a/source", MediaSummary(duration_seconds=2.0), ["360p"], request_id)
        return (await self.jobs.create_job(new)).id

    async def run_next(self) -> None:
        claim = await self.queue.claim("w1", LEASE)
        assert claim is not None
        config = WorkerConfig(worker_id="w1", scratch=self.tmp_path / "w1", lease_seconds=LEASE, max_attempts=3)
        worker = TranscodeWorker(self.queue, LocalJobReporter(self.jobs), self.blobs, self.transcoder, config)
        await worker.handle(claim)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def manifests(prefix: str) -> list[Asset]:
    return [
        Asset("", "", "", "HLS_MASTER", "", prefix + "master.m3u8", "application/vnd.apple.mpegurl", 10),
        Asset("", "", "", "DASH_MANIFEST", "", prefix + "manifest.mpd", "application/dash+xml", 10),
    ]


async def test_a_running_job_plays_its_growing_output_which_becomes_its_completed_output(world: World) -> None:
    job_id = await world.new_job()
    prefix = attempt_prefix("v1", job_id, 1)
    seen_while_running = []

    async def look() -> None:
        seen_while_running.append(await world.jobs.playable_output("v1"))

    world.transcoder.before_finish = look
    await world.run_next()

    [(job, growing, live)] = seen_while_running
    assert live and job.is_working and job.output_prefix == prefix
    assert sorted(a.kind for a in growing) == ["DASH_MANIFEST", "HLS_MASTER"]
    assert set(world.blobs.keys_under(prefix)) >= {prefix + "360p_1.m4s", prefix + "master.m3u8"}, "uploaded as it grew"
    job, completed, live = await world.jobs.playable_output("v1")
    assert not live and job.state == "COMPLETED" and job.output_prefix == prefix
    kinds = sorted(a.kind for a in completed)
    assert kinds == ["DASH_MANIFEST", "HLS_MASTER", "POSTER"], "the growing set's manifests gave way, none repeated"


async def test_a_playing_video_keeps_its_published_output_while_it_is_transcoded_again(world: World) -> None:
    first = await world.new_job()
    await world.run_next()
    second = await world.new_job("r2")
    seen_while_running = []

    async def look() -> None:
        seen_while_running.append(await world.jobs.playable_output("v1"))

    world.transcoder.before_finish = look
    await world.run_next()

    [(job, _, live)] = seen_while_running
    assert (job.id, live) == (first, False)
    assert (await world.jobs.playable_output("v1"))[0].id == second


async def test_nothing_plays_before_a_running_attempt_has_a_growing_output(world: World) -> None:
    job_id = await world.new_job()
    await world.jobs.start_attempt(job_id, "delivery-1")

    with pytest.raises(NotFound):
        await world.jobs.playable_output("v1")


async def test_a_stopped_attempts_growing_output_is_never_served_again(world: World) -> None:
    job_id = await world.new_job()
    await world.jobs.start_attempt(job_id, "delivery-1")
    first = attempt_prefix("v1", job_id, 1)
    await world.jobs.record_live_output(job_id, 1, first, manifests(first), [Rendition("360p")])
    assert (await world.jobs.playable_output("v1"))[2]

    await world.jobs.fail_attempt(job_id, 1, JobError("UNAVAILABLE", "worker died"), will_retry=True)
    with pytest.raises(NotFound):
        await world.jobs.playable_output("v1")
    await world.jobs.start_attempt(job_id, "delivery-2")
    with pytest.raises(NotFound):
        await world.jobs.playable_output("v1")
    with pytest.raises(Aborted):
        await world.jobs.record_live_output(job_id, 1, first, manifests(first), [Rendition("360p")])


async def test_a_growing_output_must_lie_in_its_attempts_folder_and_name_both_manifests(world: World) -> None:
    job_id = await world.new_job()
    await world.jobs.start_attempt(job_id, "delivery-1")
    prefix = attempt_prefix("v1", job_id, 1)

    with pytest.raises(InvalidArgument):
        await world.jobs.record_live_output(job_id, 1, "videos/v1/elsewhere/", manifests(prefix), [])
    with pytest.raises(InvalidArgument):
        await world.jobs.record_live_output(job_id, 1, prefix, manifests("videos/v1/elsewhere/"), [])
    with pytest.raises(InvalidArgument):
        await world.jobs.record_live_output(job_id, 1, prefix, manifests(prefix)[:1], [])


async def test_a_stopped_attempts_growing_manifests_are_not_listed_as_the_jobs_assets(world: World) -> None:
    job_id = await world.new_job()
    await world.jobs.start_attempt(job_id, "delivery-1")
    prefix = attempt_prefix("v1", job_id, 1)
    await world.jobs.record_live_output(job_id, 1, prefix, manifests(prefix), [Rendition("360p")])
    token = set_principal(Principal("u1"))
    try:
        assert sorted(a.kind for a in await world.jobs.list_assets(job_id)) == ["DASH_MANIFEST", "HLS_MASTER"]
        await world.jobs.fail_attempt(job_id, 1, JobError("UNAVAILABLE", "worker died"), will_retry=False)
        assert await world.jobs.list_assets(job_id) == []
    finally:
        reset_principal(token)
