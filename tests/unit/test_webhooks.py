"""Webhook rules and the sender's retries, on in-memory fakes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.fakes.webhooks import InMemoryWebhooks, ScriptedReceiver
from videoforge.gallery.domain.webhooks import (
    DELIVERED,
    FAILED,
    PENDING,
    VIDEO_FAILED,
    VIDEO_READY,
    AttemptResult,
    Webhook,
    next_attempt,
    video_event,
)
from videoforge.gallery.service_layer.webhooks import RetrySchedule, send_due

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("before", "after", "event"),
    [
        (("processing", ""), ("ready", "job-1"), VIDEO_READY),
        (("ready", "job-1"), ("ready", "job-2"), VIDEO_READY),  # a re-transcode published
        (("processing", ""), ("failed", ""), VIDEO_FAILED),
        (("failed", ""), ("failed", ""), None),
        (("uploaded", ""), ("processing", ""), None),
        (("ready", "job-1"), ("ready", "job-1"), None),  # a failed re-transcode leaves the video ready
    ],
)
def test_a_video_announces_what_changed_for_its_viewers(
    before: tuple[str, str], after: tuple[str, str], event: str | None
) -> None:
    assert video_event(before, after) == event


def test_retries_back_off_exponentially_to_an_hour_and_stop_after_a_day() -> None:
    base, day = timedelta(seconds=5), timedelta(hours=24)
    delays = [next_attempt(n, NOW, NOW, base, day) - NOW for n in (1, 2, 3, 4)]  # type: ignore[operator]

    assert delays == [timedelta(seconds=s) for s in (5, 10, 20, 40)]
    assert next_attempt(20, NOW, NOW, base, day) == NOW + timedelta(hours=1)
    assert next_attempt(30, NOW - timedelta(hours=23, minutes=30), NOW, base, day) is None


async def test_a_failing_receiver_is_tried_again_until_it_answers() -> None:
    store = InMemoryWebhooks()
    await store.add(Webhook("w1", "u1", "https://hooks.example.com/", ["video.ready"], NOW, "whsec_x"))
    delivery = store.queue("w1", VIDEO_READY)
    receiver = ScriptedReceiver(AttemptResult(status=500, error="answered HTTP 500"), AttemptResult(status=204))
    schedule = RetrySchedule(base=timedelta(0))

    assert await send_due(store, receiver, schedule) == 1
    assert store.records[delivery].state == PENDING and store.records[delivery].attempts == 1
    assert await send_due(store, receiver, schedule) == 1

    assert store.records[delivery].state == DELIVERED and store.records[delivery].attempts == 2
    assert await send_due(store, receiver, schedule) == 0
    assert [d.id for d in receiver.sent] == [delivery, delivery]


async def test_a_refused_address_fails_at_once() -> None:
    store = InMemoryWebhooks()
    await store.add(Webhook("w1", "u1", "https://hooks.example.com/", ["video.ready"], NOW, "whsec_x"))
    refused = store.queue("w1", VIDEO_READY)

    await send_due(
        store, ScriptedReceiver(AttemptResult(error="the address is private", permanent=True)), RetrySchedule()
    )

    assert store.records[refused].state == FAILED
    assert store.records[refused].last_error == "the address is private"


async def test_a_delivery_a_day_old_is_not_tried_again() -> None:
    store = InMemoryWebhooks()
    await store.add(Webhook("w1", "u1", "https://hooks.example.com/", ["video.ready"], NOW, "whsec_x"))
    fresh = store.queue("w1", VIDEO_READY)
    stale = store.queue("w1", VIDEO_READY, created=datetime.now(UTC) - timedelta(hours=24))

    await send_due(store, ScriptedReceiver(AttemptResult(status=503, error="answered HTTP 503")), RetrySchedule())

    assert (store.records[fresh].state, store.records[stale].state) == (PENDING, FAILED)
