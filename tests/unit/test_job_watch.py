"""Watching jobs on fakes: every watcher of a job shares one read per change, streams are capped per user and
end on their own after their lifetime."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.fakes.blobs import InMemoryBlobStore
from tests.fakes.jobs import InMemoryJobRepository
from tests.fakes.queue import InMemoryJobQueue
from videoforge.job.domain.jobs import Job
from videoforge.job.service_layer.job_watch import WatchLimits
from videoforge.job.service_layer.jobs import Jobs, NewJob
from videoforge.kit.errors import ResourceExhausted
from videoforge.kit.principal import Principal, reset_principal, set_principal
from videoforge.media_model import MediaSummary


class CountingRepository(InMemoryJobRepository):
    def __init__(self, queue: InMemoryJobQueue) -> None:
        super().__init__(queue)
        self.reads = 0

    async def get(self, job_id: str) -> Job | None:
        self.reads += 1
        return await super().get(job_id)


@pytest.fixture(autouse=True)
def signed_in() -> Iterator[None]:
    token = set_principal(Principal(user_id="u1", email="u1@example.com", role="user"))
    yield
    reset_principal(token)


def world(limits: WatchLimits) -> tuple[Jobs, CountingRepository]:
    queue = InMemoryJobQueue()
    repo = CountingRepository(queue)
    jobs = Jobs(repo, queue, InMemoryBlobStore(), None, url_seconds=60, lease_seconds=30, watch_limits=limits)
    return jobs, repo


async def new_job(jobs: Jobs) -> str:
    new = NewJob("v1", "u1", "uploads/u1/a/source", MediaSummary(duration_seconds=2.0), ["360p"], "r1")
    return (await jobs.create_job(new)).id


async def first_of(updates: AsyncIterator[Job]) -> Job:
    return await anext(updates)


async def test_a_hundred_watchers_of_a_job_cost_one_read_per_change() -> None:
    jobs, repo = world(WatchLimits(streams_per_user=200))
    job_id = await new_job(jobs)
    watches = [jobs.watch_job(job_id) for _ in range(100)]
    await asyncio.gather(*(first_of(w) for w in watches))
    reads_before = repo.reads

    await jobs.start_attempt(job_id, "delivery-1")
    started = await asyncio.wait_for(asyncio.gather(*(first_of(w) for w in watches)), 5)

    assert {job.state for job in started} == {"DOWNLOADING"}
    # The attempt's own reads plus one for every watcher together.
    assert repo.reads - reads_before <= 3
    for watch in watches:
        await watch.aclose()


async def test_a_user_past_the_cap_is_refused_until_a_watch_closes() -> None:
    jobs, _ = world(WatchLimits(streams_per_user=2))
    job_id = await new_job(jobs)
    first, second = jobs.watch_job(job_id), jobs.watch_job(job_id)
    await first_of(first), await first_of(second)

    with pytest.raises(ResourceExhausted, match="At most 2"):
        await first_of(jobs.watch_job(job_id))
    await first.aclose()
    assert (await first_of(jobs.watch_job(job_id))).id == job_id
    await second.aclose()


async def test_a_watch_ends_by_itself_after_its_lifetime() -> None:
    jobs, _ = world(WatchLimits(max_stream_seconds=0.2))
    job_id = await new_job(jobs)
    seen = await asyncio.wait_for(_all(jobs.watch_job(job_id)), 5)
    assert [job.state for job in seen] == ["PENDING"]


async def _all(updates: AsyncIterator[Job]) -> list[Job]:
    return [job async for job in updates]
