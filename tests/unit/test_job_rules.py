"""The rules jobs live by, driven through the job use cases and a real worker loop on in-memory fakes:
repeated reports take effect once, refusals never delete published media, attempts only grow, duplicate
deliveries never run twice, and job state reaches the gallery one way as ordered, idempotent events."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.fakes.blobs import InMemoryBlobStore
from tests.fakes.jobs import InMemoryContentKeys, InMemoryJobRepository
from tests.fakes.queue import InMemoryJobQueue
from tests.fakes.transcoding import FakeTranscoder, LocalJobReporter
from videoforge.job.domain.jobs import JobError
from videoforge.job.service_layer.jobs import Jobs, NewJob
from videoforge.kit.errors import Aborted, FailedPrecondition
from videoforge.kit.principal import Principal, reset_principal, set_principal
from videoforge.media_model import MediaSummary, attempt_prefix
from videoforge.queue.port import LEASES_EXHAUSTED, DeadLetter
from videoforge.storage.guard import MediaInUse
from videoforge.transcoder.worker import TranscodeWorker, WorkerConfig

LEASE = 30.0


class World:
    """The job service's use cases and one worker, on fakes."""

    def __init__(self, tmp_path: Path) -> None:
        self.queue = InMemoryJobQueue()
        self.repo = InMemoryJobRepository(self.queue)
        self.blobs = InMemoryBlobStore()
        self.content_keys = InMemoryContentKeys()
        self.jobs = Jobs(
            self.repo, self.queue, self.blobs, None, url_seconds=60, lease_seconds=LEASE, content_keys=self.content_keys
        )
        self.reporter = LocalJobReporter(self.jobs)
        self.transcoder = FakeTranscoder()
        self.tmp_path = tmp_path
        self.blobs.put("uploads/u1/a/source", b"source bytes")

    def worker(self, name: str = "w1") -> TranscodeWorker:
        config = WorkerConfig(worker_id=name, scratch=self.tmp_path / name, lease_seconds=LEASE, max_attempts=3)
        return TranscodeWorker(self.queue, self.reporter, self.blobs, self.transcoder, config)

    async def new_job(self, video_id: str = "v1", request_id: str = "r1") -> str:
        new = NewJob(video_id, "u1", "uploads/u1/a/source", MediaSummary(duration_seconds=2.0), ["360p"], request_id)
        return (await self.jobs.create_job(new)).id

    async def run_next(self, name: str = "w1") -> None:
        claim = await self.queue.claim(name, LEASE)
        assert claim is not None, "a message should be waiting"
        await self.worker(name).handle(claim)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


async def test_a_completion_whose_reply_was_lost_is_retried_and_the_video_keeps_playing(world: World) -> None:
    job_id = await world.new_job()
    world.reporter.lose_reply_of.add("complete")

    await world.run_next()

    job = await world.repo.get(job_id)
    assert job is not None and job.state == "COMPLETED" and job.attempt == 1
    assert world.reporter.calls.count("complete") == 2, "the worker retried after the lost reply"
    assert "discard" not in world.reporter.calls
    published = attempt_prefix("v1", job_id, 1)
    assert world.blobs.keys_under(published), "the published output is still there"
    assert (await world.jobs.published_output("v1"))[0].output_prefix == published


async def test_repeating_any_report_that_took_effect_answers_ok_with_the_job_as_it_stands(world: World) -> None:
    job_id = await world.new_job()
    started = await world.jobs.start_attempt(job_id, "delivery-1")
    assert (await world.jobs.start_attempt(job_id, "delivery-1")).attempt == started.attempt == 1
    prefix = attempt_prefix("v1", job_id, 1)
    first = await world.jobs.complete_attempt(job_id, 1, prefix, [], [])
    again = await world.jobs.complete_attempt(job_id, 1, prefix, [], [])
    assert (first.state, again.state, again.end_time) == ("COMPLETED", "COMPLETED", first.end_time)
    assert await world.jobs.report_progress(job_id, 1, "UPLOADING", 99) is False
    published_events = [e for e in world.repo.event_log if e.state == "COMPLETED"]
    assert len(published_events) == 1, "published once"


async def test_a_repeated_failure_report_answers_ok(world: World) -> None:
    job_id = await world.new_job()
    await world.jobs.start_attempt(job_id, "delivery-1")
    error = JobError("INVALID_ARGUMENT", "not a video")
    first = await world.jobs.fail_attempt(job_id, 1, error, will_retry=False)
    again = await world.jobs.fail_attempt(job_id, 1, error, will_retry=False)
    assert first.state == again.state == "FAILED"


async def test_a_refused_completion_never_deletes_what_a_video_plays_from(world: World) -> None:
    first = await world.new_job(request_id="first")
    await world.run_next()
    playing = attempt_prefix("v1", first, 1)
    second = await world.new_job(request_id="second")

    async def cancel_midway() -> None:
        # Cancelled while the worker finishes; its next report would say so, but the upload goes first.
        await world.repo.finish_unless_final(second, {"state": "CANCELLED"})

    world.transcoder.before_finish = cancel_midway
    await world.run_next()

    assert world.blobs.keys_under(playing), "the playing output survived"
    assert not world.blobs.keys_under(attempt_prefix("v1", second, 1)), "the refused attempt was discarded"
    assert (await world.jobs.published_output("v1"))[0].id == first
    with pytest.raises(MediaInUse):
        await world.jobs.discard_attempt(first, 1, "v1")
    assert world.blobs.keys_under(playing)


async def test_a_duplicate_delivery_of_a_running_job_is_dropped_and_never_runs(world: World) -> None:
    job_id = await world.new_job()
    world.queue.duplicate(job_id)

    async def second_copy_arrives() -> None:
        await world.run_next("w2")

    world.transcoder.before_finish = second_copy_arrives
    await world.run_next("w1")

    job = await world.repo.get(job_id)
    assert job is not None and job.state == "COMPLETED" and job.attempt == 1
    assert world.transcoder.runs == 1
    assert await world.queue.depth() == 0


async def test_a_duplicate_delivery_after_completion_does_not_publish_again(world: World) -> None:
    job_id = await world.new_job()
    world.queue.duplicate(job_id)
    await world.run_next()
    events_before = len(world.repo.event_log)

    await world.run_next()

    job = await world.repo.get(job_id)
    assert job is not None and job.attempt == 1 and world.transcoder.runs == 1
    assert len(world.repo.event_log) == events_before


async def test_restart_failed_runs_a_new_attempt_under_a_new_prefix_and_clears_dead_letters(world: World) -> None:
    job_id = await world.new_job()
    world.transcoder.before_finish = _raise_transient
    for _ in range(3):  # every delivery fails until the queue gives up
        await world.run_next()
    failed = await world.repo.get(job_id)
    assert failed is not None and failed.state == "FAILED" and failed.attempt == 3
    assert [letter.job_id for letter in await world.queue.dead_letters()] == [job_id]

    token = set_principal(Principal("admin", "admin"))
    try:
        assert await world.jobs.restart_failed() == [job_id]
    finally:
        reset_principal(token)
    assert await world.queue.dead_letters() == []
    assert await world.jobs.fail_dead_letters() == 0, "an old dead letter never fails the restarted job"

    world.transcoder.before_finish = None
    await world.run_next()
    done = await world.repo.get(job_id)
    assert done is not None and done.state == "COMPLETED" and done.attempt == 4
    assert done.output_prefix == attempt_prefix("v1", job_id, 4)


async def test_a_stale_attempt_is_fenced_off(world: World) -> None:
    job_id = await world.new_job()
    await world.jobs.start_attempt(job_id, "delivery-1")
    world.repo.advance(LEASE + 1)  # the first worker went silent
    assert (await world.jobs.start_attempt(job_id, "delivery-2")).attempt == 2
    with pytest.raises(Aborted):
        await world.jobs.report_progress(job_id, 1, "PROCESSING", 50)
    with pytest.raises(Aborted):
        await world.jobs.complete_attempt(job_id, 1, attempt_prefix("v1", job_id, 1), [], [])


async def test_a_job_whose_worker_vanished_is_queued_again_and_completes(world: World) -> None:
    job_id = await world.new_job()
    claim = await world.queue.claim("w1", LEASE)
    assert claim is not None
    await world.jobs.start_attempt(job_id, "delivery-of-a-dead-worker")
    await world.queue.complete(claim)  # its message is gone too (dropped as a duplicate elsewhere)
    assert await world.jobs.requeue_lapsed() == 0, "not before the lease and its grace have passed"

    world.repo.advance(2 * LEASE + 1)
    assert await world.jobs.requeue_lapsed() == 1
    await world.run_next()

    job = await world.repo.get(job_id)
    assert job is not None and job.state == "COMPLETED" and job.attempt == 2


async def test_creating_a_job_twice_with_one_request_id_makes_one_job(world: World) -> None:
    first = await world.new_job(request_id="confirm-v1")
    again = await world.new_job(request_id="confirm-v1")
    assert first == again
    assert await world.queue.depth() == 1


async def test_a_finished_job_refuses_new_deliveries(world: World) -> None:
    job_id = await world.new_job()
    await world.run_next()
    with pytest.raises(FailedPrecondition):
        await world.jobs.start_attempt(job_id, "late-delivery")


async def _raise_transient() -> None:
    raise ConnectionError("storage hiccup")


async def test_a_job_that_lost_every_worker_gets_one_more_run_then_fails(world: World) -> None:
    job_id = await world.new_job()
    for run in (0, 1):
        claim = await world.queue.claim("doomed", LEASE)
        assert claim is not None and claim.payload["run"] == run
        await world.jobs.start_attempt(job_id, f"delivery-{run}")
        world.queue.letters.append(DeadLetter(job_id, claim.payload, 3, LEASES_EXHAUSTED))
        world.queue.messages.clear()
        await world.jobs.fail_dead_letters()
    job = await world.repo.get(job_id)
    assert job is not None and job.state == "FAILED" and job.run == 1
    assert job.error is not None and "lapsed" in job.error.message


async def test_a_finished_job_keeps_only_its_completed_output(world: World) -> None:
    job_id = await world.new_job()
    world.blobs.put(attempt_prefix("v1", job_id, 1) + "half-uploaded.m4s")  # a worker that died mid-upload
    await world.jobs.start_attempt(job_id, "delivery-of-a-dead-worker")
    world.repo.advance(2 * LEASE + 1)
    await world.jobs.requeue_lapsed()
    await world.run_next()
    job = await world.repo.get(job_id)
    assert job is not None and job.state == "COMPLETED" and job.attempt == 2
    assert world.blobs.keys_under(attempt_prefix("v1", job_id, 1)) == []
    assert world.blobs.keys_under(job.output_prefix)


async def test_what_a_fenced_worker_wrote_after_the_finish_is_swept_a_little_later(world: World) -> None:
    job_id = await world.new_job()
    await world.run_next()
    late = attempt_prefix("v1", job_id, 7) + "late.m4s"
    world.blobs.put(late)  # a fenced-off worker's upload thread finished after the sweep at the finish
    assert await world.jobs.sweep_recently_finished() == 0, "too soon: the finish itself was just swept"
    job = world.repo.jobs[job_id]
    world.repo.jobs[job_id] = replace(job, end_time=datetime.now(UTC) - timedelta(seconds=35))
    assert await world.jobs.sweep_recently_finished() == 1
    assert late not in world.blobs.objects
    assert world.blobs.keys_under(job.output_prefix), "the published output stays"
