"""The JobQueue contract, run against PostgreSQL and SQS (moto) alike, then what only PostgreSQL offers:
enqueueing inside a transaction, and the outbox that carries such enqueues to SQS."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from videoforge.kit.db import create_engine_for, migrate
from videoforge.kit.tracing import trace_context_of
from videoforge.queue.outbox import Outbox, OutboxRelay
from videoforge.queue.port import LEASES_EXHAUSTED, ClaimedJob, DeadLetter, JobQueue
from videoforge.queue.postgres import PostgresJobQueue
from videoforge.queue.sqs import SqsJobQueue, ensure_queues

MAX_ATTEMPTS = 2
LEASE = 1.0  # SQS counts visibility in whole seconds: 1 s is the shortest real lease
PAST_LEASE = 1.3
# base = cap = 1 s: every retry waits between 0.5 and 1 s (1 s on SQS, which rounds up).
RETRY = {"max_attempts": MAX_ATTEMPTS, "backoff_base": 1.0, "backoff_cap": 1.0}

QueueFactory = Callable[[], JobQueue]


async def claim_within(queue: JobQueue, seconds: float, worker_id: str = "worker") -> ClaimedJob | None:
    """Polls like a worker does, for a message that is due within ``seconds``."""
    deadline = asyncio.get_running_loop().time() + seconds
    while (claim := await queue.claim(worker_id, LEASE)) is None:
        if asyncio.get_running_loop().time() > deadline:
            return None
        await asyncio.sleep(0.1)
    return claim


@pytest.fixture
def queue_database_url(database_url: str) -> str:
    migrate(database_url, "queue", PostgresJobQueue.migrations_dir)
    return database_url


@pytest.fixture
async def new_engine(queue_database_url: str) -> AsyncIterator[Callable[[], AsyncEngine]]:
    """Makes engines on the test's database, one per simulated process; disposes them all afterwards."""
    engines: list[AsyncEngine] = []

    def make() -> AsyncEngine:
        engines.append(create_engine_for(queue_database_url))
        return engines[-1]

    yield make
    for engine in engines:
        await engine.dispose()


@pytest.fixture
def sqs_queue_urls(sqs_client: BaseClient, sqs_queue_name: str) -> tuple[str, str]:
    return ensure_queues(sqs_client, sqs_queue_name, max_attempts=MAX_ATTEMPTS)


@pytest.fixture(params=["postgres", "sqs"])
def new_queue(request: pytest.FixtureRequest) -> QueueFactory:
    """Makes queue instances on one shared backend, as separate worker processes would have."""
    if request.param == "postgres":
        new_engine = request.getfixturevalue("new_engine")
        return lambda: PostgresJobQueue(new_engine(), **RETRY)
    client = request.getfixturevalue("sqs_client")
    queue_url, dlq_url = request.getfixturevalue("sqs_queue_urls")
    # No long polling: a test asserting that nothing is claimable must not wait for it to become so.
    return lambda: SqsJobQueue(client, queue_url, dlq_url, receive_wait_seconds=0, **RETRY)


@pytest.fixture
def queue(new_queue: QueueFactory) -> JobQueue:
    return new_queue()


@pytest.fixture
def sqs_target(sqs_client: BaseClient, sqs_queue_urls: tuple[str, str]) -> SqsJobQueue:
    return SqsJobQueue(sqs_client, *sqs_queue_urls, receive_wait_seconds=0, **RETRY)


# The contract


async def test_a_claimed_job_is_delivered_with_its_payload_and_gone_once_completed(queue: JobQueue) -> None:
    await queue.enqueue("job-1", {"source": "uploads/u1/a.mp4", "formats": ["720p"]})

    claim = await queue.claim("worker-a", LEASE)

    assert claim is not None
    assert (claim.job_id, claim.payload, claim.attempt) == (
        "job-1",
        {"source": "uploads/u1/a.mp4", "formats": ["720p"]},
        1,
    )
    assert claim.lease_expires_at > datetime.now(UTC)
    assert await queue.depth() == 1
    assert await queue.complete(claim)
    assert await queue.claim("worker-a", LEASE) is None
    assert await queue.depth() == 0
    assert not await queue.complete(claim)


async def test_claim_returns_none_when_nothing_is_waiting(queue: JobQueue) -> None:
    assert await queue.claim("worker-a", LEASE) is None


async def test_a_delayed_job_is_claimable_only_after_its_delay(queue: JobQueue) -> None:
    await queue.enqueue("job-1", {}, delay_seconds=1)

    assert await queue.claim("worker-a", LEASE) is None
    await asyncio.sleep(PAST_LEASE)
    assert await queue.claim("worker-a", LEASE) is not None


async def test_a_renewed_lease_keeps_other_workers_away_past_the_first_lease(
    new_queue: QueueFactory,
) -> None:
    holder, other = new_queue(), new_queue()
    await holder.enqueue("job-1", {})
    claim = await holder.claim("worker-a", LEASE)
    assert claim is not None

    await asyncio.sleep(0.5)
    assert await holder.renew(claim, 2 * LEASE)
    await asyncio.sleep(0.8)

    assert await other.claim("worker-b", LEASE) is None
    assert await holder.complete(claim)


async def test_a_lapsed_lease_is_lost_and_the_job_delivered_again_as_the_next_attempt(
    new_queue: QueueFactory,
) -> None:
    crashed, rescuer = new_queue(), new_queue()
    await crashed.enqueue("job-1", {"n": 1})
    first = await crashed.claim("worker-a", LEASE)
    assert first is not None

    await asyncio.sleep(PAST_LEASE)
    assert not await crashed.renew(first, LEASE)
    second = await rescuer.claim("worker-b", LEASE)

    assert second is not None
    assert (second.job_id, second.payload, second.attempt) == ("job-1", {"n": 1}, 2)


async def test_a_stale_holder_can_neither_renew_nor_settle_the_newer_delivery(
    new_queue: QueueFactory,
) -> None:
    stale, current = new_queue(), new_queue()
    await stale.enqueue("job-1", {})
    old = await stale.claim("worker-a", LEASE)
    await asyncio.sleep(PAST_LEASE)
    new = await current.claim("worker-b", 5 * LEASE)
    assert old is not None and new is not None

    assert not await stale.complete(old)
    assert not await stale.fail(old, error="late", retryable=False)
    assert not await stale.renew(old, LEASE)

    assert await current.renew(new, 5 * LEASE)
    assert await current.complete(new)
    assert await current.dead_letters() == []
    assert await current.depth() == 0


async def test_a_retryable_failure_is_delivered_again_after_the_backoff(queue: JobQueue) -> None:
    await queue.enqueue("job-1", {})
    claim = await queue.claim("worker-a", LEASE)
    assert claim is not None

    assert await queue.fail(claim, error="storage timed out", retryable=True)

    assert await queue.claim("worker-a", LEASE) is None
    await asyncio.sleep(1.2)
    retry = await queue.claim("worker-a", LEASE)
    assert retry is not None
    assert retry.attempt == 2
    assert not await queue.complete(claim)


async def test_a_non_retryable_failure_is_dead_lettered_at_once(queue: JobQueue) -> None:
    await queue.enqueue("job-1", {"source": "bad.mp4"})
    claim = await queue.claim("worker-a", LEASE)
    assert claim is not None

    assert await queue.fail(claim, error="no video stream", retryable=False)

    assert await queue.claim("worker-a", LEASE) is None
    assert await queue.depth() == 0
    assert await queue.dead_letters() == [DeadLetter("job-1", {"source": "bad.mp4"}, 1, "no video stream")]


async def test_discarding_dead_letters_removes_only_the_named_jobs(queue: JobQueue) -> None:
    for job_id in ("job-1", "job-2"):
        await queue.enqueue(job_id, {})
        claim = await queue.claim("worker-a", LEASE)
        assert claim is not None
        assert await queue.fail(claim, error="bad", retryable=False)

    assert await queue.discard_dead_letters(["job-1", "job-9"]) == 1

    assert [letter.job_id for letter in await queue.dead_letters()] == ["job-2"]
    assert await queue.discard_dead_letters(["job-1"]) == 0


async def test_a_job_failing_on_every_attempt_is_dead_lettered_after_max_attempts(queue: JobQueue) -> None:
    await queue.enqueue("job-1", {})

    for attempt in range(1, MAX_ATTEMPTS + 1):
        claim = await claim_within(queue, 2.0)
        assert claim is not None
        assert claim.attempt == attempt
        assert await queue.fail(claim, error=f"transient {attempt}", retryable=True)

    assert await claim_within(queue, 1.2) is None
    assert await queue.dead_letters() == [DeadLetter("job-1", {}, MAX_ATTEMPTS, f"transient {MAX_ATTEMPTS}")]


async def test_a_job_whose_every_lease_lapses_is_dead_lettered_instead_of_delivered_again(
    queue: JobQueue,
) -> None:
    await queue.enqueue("job-1", {})

    for attempt in range(1, MAX_ATTEMPTS + 1):
        claim = await queue.claim("worker-a", LEASE)
        assert claim is not None
        assert claim.attempt == attempt
        await asyncio.sleep(PAST_LEASE)

    assert await queue.claim("worker-a", LEASE) is None
    assert await queue.depth() == 0
    assert await queue.dead_letters() == [DeadLetter("job-1", {}, MAX_ATTEMPTS, LEASES_EXHAUSTED)]


async def test_concurrent_workers_complete_every_job_exactly_once(new_queue: QueueFactory) -> None:
    job_ids = [f"job-{n}" for n in range(50)]
    producer = new_queue()
    for job_id in job_ids:
        await producer.enqueue(job_id, {"job": job_id})
    delivered: list[ClaimedJob] = []

    async def work(queue: JobQueue, worker_id: str) -> None:
        while (claim := await queue.claim(worker_id, 30)) is not None:
            delivered.append(claim)
            await asyncio.sleep(0)  # let the other workers interleave between claim and complete
            assert await queue.complete(claim)

    await asyncio.gather(*(work(new_queue(), f"worker-{n}") for n in range(4)))

    assert sorted(claim.job_id for claim in delivered) == sorted(job_ids)
    assert {claim.attempt for claim in delivered} == {1}
    assert all(claim.payload == {"job": claim.job_id} for claim in delivered)
    assert await producer.depth() == 0


async def test_cancel_reports_truly_whether_it_withdrew_a_waiting_job(queue: JobQueue) -> None:
    await queue.enqueue("job-1", {})

    withdrawn = await queue.cancel("job-1")

    assert (await queue.claim("worker-a", LEASE) is None) is withdrawn


async def test_cancel_that_withdraws_a_leased_job_makes_its_holder_stop(queue: JobQueue) -> None:
    await queue.enqueue("job-1", {})
    claim = await queue.claim("worker-a", LEASE)
    assert claim is not None

    withdrawn = await queue.cancel("job-1")

    assert await queue.renew(claim, LEASE) is not withdrawn


async def test_a_message_carries_the_trace_of_the_request_that_enqueued_it(queue: JobQueue) -> None:
    with TracerProvider().get_tracer("test").start_as_current_span("create job") as span:
        await queue.enqueue("job-1", {"source": "a.mp4"})
    await queue.enqueue("job-2", {"source": "b.mp4"})  # outside any trace

    first, second = await queue.claim("worker-a", LEASE), await queue.claim("worker-a", LEASE)

    assert first is not None and second is not None
    carried = trace.get_current_span(trace_context_of(first.payload)).get_span_context()
    assert (carried.trace_id, carried.span_id) == (span.get_span_context().trace_id, span.get_span_context().span_id)
    assert second.payload == {"source": "b.mp4"}
    assert not trace.get_current_span(trace_context_of(second.payload)).get_span_context().is_valid


# PostgreSQL only


@pytest.fixture
def postgres_queue(new_engine: Callable[[], AsyncEngine]) -> PostgresJobQueue:
    return PostgresJobQueue(new_engine(), **RETRY)


async def test_postgres_tells_how_long_the_oldest_waiting_message_has_waited(postgres_queue: PostgresJobQueue) -> None:
    assert await postgres_queue.oldest_waiting_age() == 0
    await postgres_queue.enqueue("job-1", {})
    await asyncio.sleep(0.3)
    await postgres_queue.enqueue("job-2", {})

    assert 0.3 <= (await postgres_queue.oldest_waiting_age() or 0) < 5
    claim = await postgres_queue.claim("worker-a", LEASE)
    assert claim is not None and claim.job_id == "job-1"
    assert (await postgres_queue.oldest_waiting_age() or 0) < 0.3, "a leased message is not waiting"


async def test_postgres_cancel_withdraws_waiting_and_leased_jobs(postgres_queue: PostgresJobQueue) -> None:
    await postgres_queue.enqueue("leased", {})
    claim = await postgres_queue.claim("worker-a", LEASE)
    assert claim is not None
    await postgres_queue.enqueue("waiting", {})

    assert await postgres_queue.cancel("waiting")
    assert await postgres_queue.cancel(claim.job_id)
    assert not await postgres_queue.cancel("unknown")

    assert not await postgres_queue.renew(claim, LEASE)
    assert await postgres_queue.claim("worker-a", LEASE) is None
    assert await postgres_queue.depth() == 0


async def test_a_job_enqueued_in_a_rolled_back_transaction_is_never_delivered(
    postgres_queue: PostgresJobQueue, new_engine: Callable[[], AsyncEngine]
) -> None:
    engine = new_engine()
    async with engine.connect() as connection:
        transaction = await connection.begin()
        await postgres_queue.enqueue_in(connection, "rolled-back", {})
        await transaction.rollback()
    async with engine.begin() as connection:
        await postgres_queue.enqueue_in(connection, "committed", {})

    claim = await postgres_queue.claim("worker-a", LEASE)

    assert claim is not None
    assert claim.job_id == "committed"
    assert await postgres_queue.claim("worker-a", LEASE) is None


async def test_enqueueing_a_job_that_is_already_queued_changes_nothing(
    postgres_queue: PostgresJobQueue,
) -> None:
    await postgres_queue.enqueue("job-1", {"version": 1})
    await postgres_queue.enqueue("job-1", {"version": 2})

    claim = await postgres_queue.claim("worker-a", LEASE)

    assert claim is not None
    assert claim.payload == {"version": 1}
    assert await postgres_queue.claim("worker-a", LEASE) is None


async def test_racing_outbox_relays_move_each_committed_row_to_sqs_exactly_once(
    new_engine: Callable[[], AsyncEngine], sqs_target: SqsJobQueue
) -> None:
    outbox, engine = Outbox(), new_engine()
    job_ids = [f"job-{n}" for n in range(40)]
    async with engine.begin() as connection:
        for job_id in job_ids:
            await outbox.enqueue_in(connection, job_id, {"job": job_id})
    async with engine.connect() as connection:
        transaction = await connection.begin()
        await outbox.enqueue_in(connection, "rolled-back", {})
        await transaction.rollback()

    async def drain(relay: OutboxRelay) -> int:
        total = 0
        while relayed := await relay.relay_once():
            total += relayed
        return total

    # Small batches so that both relays keep finding rows the other one holds.
    relays = [OutboxRelay(new_engine(), sqs_target, batch_size=3) for _ in range(2)]
    assert sum(await asyncio.gather(*(drain(relay) for relay in relays))) == len(job_ids)

    delivered = []
    while (claim := await sqs_target.claim("worker-a", 30)) is not None:
        delivered.append(claim.job_id)
        assert await sqs_target.complete(claim)
    assert sorted(delivered) == sorted(job_ids)
    async with engine.connect() as connection:
        assert (await connection.execute(text("SELECT count(*) FROM queue.outbox"))).scalar_one() == 0


async def test_an_outbox_row_whose_send_failed_stays_for_the_next_pass(
    new_engine: Callable[[], AsyncEngine],
    sqs_client: BaseClient,
    sqs_endpoint_url: str,
    sqs_target: SqsJobQueue,
) -> None:
    engine = new_engine()
    async with engine.begin() as connection:
        await Outbox().enqueue_in(connection, "job-1", {})
    missing = f"{sqs_endpoint_url}/123456789012/no-such-queue"
    broken = OutboxRelay(engine, SqsJobQueue(sqs_client, missing, missing, **RETRY))

    with pytest.raises(ClientError):
        await broken.relay_once()

    assert await OutboxRelay(engine, sqs_target).relay_once() == 1
    claim = await sqs_target.claim("worker-a", LEASE)
    assert claim is not None
    assert claim.job_id == "job-1"


async def test_a_running_outbox_relay_sends_new_rows_until_stopped(
    new_engine: Callable[[], AsyncEngine], sqs_target: SqsJobQueue
) -> None:
    engine, stop = new_engine(), asyncio.Event()
    relay = asyncio.create_task(OutboxRelay(engine, sqs_target).run(stop, interval=0.05))

    async with engine.begin() as connection:
        await Outbox().enqueue_in(connection, "job-1", {})
    claim = await claim_within(sqs_target, 5.0)
    stop.set()

    assert claim is not None
    assert claim.job_id == "job-1"
    await asyncio.wait_for(relay, timeout=1.0)


async def test_a_relayed_outbox_row_keeps_the_trace_of_the_transaction_that_wrote_it(
    new_engine: Callable[[], AsyncEngine], sqs_target: SqsJobQueue
) -> None:
    engine = new_engine()
    with TracerProvider().get_tracer("test").start_as_current_span("create job") as span:
        async with engine.begin() as connection:
            await Outbox().enqueue_in(connection, "job-1", {})

    assert await OutboxRelay(engine, sqs_target).relay_once() == 1
    claim = await sqs_target.claim("worker-a", LEASE)

    assert claim is not None
    carried = trace.get_current_span(trace_context_of(claim.payload)).get_span_context()
    assert carried.trace_id == span.get_span_context().trace_id


async def test_postgres_wakes_an_idle_worker_as_a_job_is_enqueued(
    postgres_queue: PostgresJobQueue, new_engine: Callable[[], AsyncEngine]
) -> None:
    other_process = PostgresJobQueue(new_engine(), **RETRY)
    try:
        await postgres_queue.wait_for_work(0.01)  # listening from here on
        waiting = asyncio.create_task(postgres_queue.wait_for_work(60))
        await asyncio.sleep(0.5)
        assert not waiting.done(), "nothing was enqueued yet"
        started = asyncio.get_running_loop().time()
        await other_process.enqueue("job-1", {})
        await asyncio.wait_for(waiting, 10)
        assert asyncio.get_running_loop().time() - started < 2
        assert (claim := await postgres_queue.claim("worker-a", LEASE)) is not None and claim.job_id == "job-1"
    finally:
        await postgres_queue.dispose()


async def test_postgres_announces_an_enqueue_only_once_its_transaction_commits(
    postgres_queue: PostgresJobQueue, new_engine: Callable[[], AsyncEngine]
) -> None:
    engine = new_engine()
    try:
        await postgres_queue.wait_for_work(0.01)
        async with engine.connect() as connection:
            transaction = await connection.begin()
            await postgres_queue.enqueue_in(connection, "rolled-back", {})
            await transaction.rollback()
        # No announcement came: the wait runs its whole time.
        started = asyncio.get_running_loop().time()
        await postgres_queue.wait_for_work(1.0)
        assert asyncio.get_running_loop().time() - started >= 0.9
    finally:
        await postgres_queue.dispose()
