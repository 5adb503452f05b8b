"""The job rules on real parts: the PostgreSQL job repository, both queue backends (the PostgreSQL queue, and
SQS fed by the transactional outbox), the S3 store, and a worker loop. A lost completion reply is retried
without harm, duplicate deliveries never run twice, restarts take new attempts, and every change of state writes
one ordered event for the gallery in its own transaction."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.transcoding import FakeTranscoder, LocalJobReporter
from videoforge.job.adapters.repository import PostgresJobRepository
from videoforge.job.bootstrap import MIGRATIONS
from videoforge.job.service_layer.jobs import Jobs, NewJob
from videoforge.kit.db import create_engine_for, migrate
from videoforge.kit.principal import Principal, reset_principal, set_principal
from videoforge.media_model import MediaSummary, attempt_prefix
from videoforge.queue.outbox import Outbox, OutboxRelay
from videoforge.queue.port import JobQueue
from videoforge.queue.postgres import PostgresJobQueue, TransactionalEnqueuer
from videoforge.queue.sqs import SqsJobQueue, ensure_queues
from videoforge.storage.guard import MediaInUse
from videoforge.storage.s3 import S3BlobStore
from videoforge.transcoder.worker import TranscodeWorker, WorkerConfig

LEASE = 30.0


class RealWorld:
    def __init__(
        self, jobs: Jobs, queue: JobQueue, relay: OutboxRelay | None, blobs: S3BlobStore, tmp_path: Path
    ) -> None:
        self.jobs, self.queue, self.relay, self.blobs = jobs, queue, relay, blobs
        self.reporter = LocalJobReporter(jobs)
        self.transcoder = FakeTranscoder()
        self.tmp_path = tmp_path

    async def new_job(self, request_id: str = "r1") -> str:
        new = NewJob("v1", "u1", "uploads/u1/a/source", MediaSummary(duration_seconds=2.0), ["360p"], request_id)
        return (await self.jobs.create_job(new)).id

    async def run_next(self, name: str = "w1") -> None:
        if self.relay is not None:
            await self.relay.relay_once()
        claim = None
        for _ in range(50):
            if claim := await self.queue.claim(name, LEASE):
                break
            await asyncio.sleep(0.05)
        assert claim is not None, "a message should be waiting"
        config = WorkerConfig(worker_id=name, scratch=self.tmp_path / name, lease_seconds=LEASE, max_attempts=3)
        await TranscodeWorker(self.queue, self.reporter, self.blobs, self.transcoder, config).handle(claim)

    async def keys(self, prefix: str) -> list[str]:
        return [info.key for info in await self.blobs.list(prefix)]


@pytest.fixture(params=["postgres", "sqs"])
async def world(
    request: pytest.FixtureRequest, database_url: str, blob_store: S3BlobStore, tmp_path: Path
) -> AsyncIterator[RealWorld]:
    migrate(database_url, "job", MIGRATIONS)
    migrate(database_url, "queue", PostgresJobQueue.migrations_dir)
    engine = create_engine_for(database_url)
    # Retries come back at once: the backoff is not what these tests are about.
    retry = {"max_attempts": 3, "backoff_base": 0.01, "backoff_cap": 0.02}
    relay: OutboxRelay | None = None
    queue: JobQueue
    enqueuer: TransactionalEnqueuer
    if request.param == "postgres":
        queue = enqueuer = PostgresJobQueue(engine, **retry)
    else:
        client = request.getfixturevalue("sqs_client")
        urls = ensure_queues(client, request.getfixturevalue("sqs_queue_name"), max_attempts=3)
        queue = SqsJobQueue(client, *urls, receive_wait_seconds=0, **retry)
        enqueuer, relay = Outbox(), OutboxRelay(engine, queue)
    jobs = Jobs(PostgresJobRepository(engine, enqueuer), queue, blob_store, None, url_seconds=60, lease_seconds=LEASE)
    source = tmp_path / "source"
    source.write_bytes(b"source bytes")
    await blob_store.upload_file(source, "uploads/u1/a/source", "video/mp4")
    try:
        yield RealWorld(jobs, queue, relay, blob_store, tmp_path)
    finally:
        await engine.dispose()


async def test_a_lost_completion_reply_is_retried_and_the_published_output_stays(world: RealWorld) -> None:
    job_id = await world.new_job()
    world.reporter.lose_reply_of.add("complete")

    await world.run_next()

    job, produced = await world.jobs.published_output("v1")
    assert job.id == job_id and job.state == "COMPLETED" and job.attempt == 1
    assert world.reporter.calls.count("complete") == 2
    assert await world.keys(attempt_prefix("v1", job_id, 1)), "what the video plays from was not deleted"
    assert {a.kind for a in produced} == {"HLS_MASTER", "DASH_MANIFEST", "POSTER"}
    with pytest.raises(MediaInUse):
        await world.jobs.discard_attempt(job_id, 1, "v1")


# Only SQS holds two messages for one job; the PostgreSQL queue keeps one per job by construction.
@pytest.mark.parametrize("world", ["sqs"], indirect=True)
async def test_a_duplicate_delivery_of_a_running_job_is_dropped_and_never_runs(world: RealWorld) -> None:
    job_id = await world.new_job()
    assert world.relay is not None
    await world.relay.relay_once()
    await world.queue.enqueue(job_id, {"video_id": "v1", "run": 0})  # the copy at-least-once delivery allows

    async def second_copy_arrives() -> None:
        await world.run_next("w2")

    world.transcoder.before_finish = second_copy_arrives
    await world.run_next("w1")

    job = (await world.jobs.published_output("v1"))[0]
    assert job.id == job_id and job.attempt == 1 and world.transcoder.runs == 1
    assert await world.queue.depth() == 0


async def test_a_second_delivery_of_a_finished_job_is_dropped(world: RealWorld) -> None:
    job_id = await world.new_job()
    await world.run_next()
    # The same job queued again, as a relay that died between send and commit would.
    await world.queue.enqueue(job_id, {"video_id": "v1", "run": 0})

    await world.run_next()

    job = (await world.jobs.published_output("v1"))[0]
    assert job.attempt == 1 and world.transcoder.runs == 1
    assert await world.queue.depth() == 0


async def test_every_state_change_writes_one_event_numbered_per_video(world: RealWorld) -> None:
    await world.new_job()
    await world.run_next()
    events = await world.jobs.job_events(100)
    states = [e.state for e in events]
    assert states[:2] == ["PENDING", "DOWNLOADING"] and states[-1] == "COMPLETED"
    assert len(states) == len(set(states)), "one event per change of state, none for progress alone"
    assert [e.version for e in events] == list(range(1, len(events) + 1))
    assert events[-1].publication is not None and events[-1].publication.poster_key.endswith("poster.jpg")
    await world.jobs.acknowledge_events([e.event_id for e in events])
    await world.jobs.acknowledge_events([e.event_id for e in events])  # a repeat is harmless
    assert await world.jobs.job_events(100) == []


async def test_restart_failed_runs_a_new_attempt_and_completes(world: RealWorld) -> None:
    job_id = await world.new_job()

    async def broken_storage() -> None:
        raise ConnectionError("storage hiccup")

    world.transcoder.before_finish = broken_storage
    for _ in range(3):
        await world.run_next()
    assert [letter.job_id for letter in await world.queue.dead_letters()] == [job_id]
    token = set_principal(Principal("admin", "admin"))
    try:
        assert await world.jobs.restart_failed() == [job_id]
    finally:
        reset_principal(token)
    assert await world.queue.dead_letters() == []
    assert await world.jobs.fail_dead_letters() == 0

    world.transcoder.before_finish = None
    await world.run_next()
    job = (await world.jobs.published_output("v1"))[0]
    assert job.id == job_id and job.attempt == 4 and job.output_prefix == attempt_prefix("v1", job_id, 4)


async def test_one_request_id_creates_one_job(world: RealWorld) -> None:
    assert await world.new_job("confirm-v1") == await world.new_job("confirm-v1")
    if world.relay is not None:
        await world.relay.relay_once()
    assert await world.queue.depth() == 1


async def test_a_running_jobs_growing_output_plays_until_its_completed_output_replaces_it(world: RealWorld) -> None:
    job_id = await world.new_job()
    prefix = attempt_prefix("v1", job_id, 1)
    seen_while_running = []

    async def look() -> None:
        seen_while_running.append(await world.jobs.playable_output("v1"))

    world.transcoder.before_finish = look
    await world.run_next()

    [(job, growing, live)] = seen_while_running
    assert live and job.output_prefix == prefix
    assert sorted(a.kind for a in growing) == ["DASH_MANIFEST", "HLS_MASTER"]
    job, completed, live = await world.jobs.playable_output("v1")
    assert not live and job.state == "COMPLETED" and job.output_prefix == prefix
    assert sorted(a.kind for a in completed) == ["DASH_MANIFEST", "HLS_MASTER", "POSTER"]
    assert prefix + "360p_1.m4s" in await world.keys(prefix)
