"""What a worker tells operators about its work: a span per delivery (continuing the trace its queue message
carries) and per stage, stage durations, and encode speed as a multiple of real time."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from opentelemetry.trace import SpanKind
from prometheus_client import Histogram

from videoforge.kit.tracing import trace_context_of, tracer
from videoforge.queue.port import ClaimedJob

STAGE_SECONDS = Histogram(
    "videoforge_transcode_stage_duration_seconds",
    "Time a transcode stage took (download, probe, encode, package, extras, upload), counting finished stages only.",
    ["stage"],
    buckets=(0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0),
)
ENCODE_SPEED = Histogram(
    "videoforge_encode_speed_ratio",
    "Seconds of video encoded (the whole ladder) per second of wall time: above 1 is faster than real time.",
    buckets=(0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0),
)


@contextlib.contextmanager
def delivery_span(claim: ClaimedJob) -> Iterator[None]:
    """The span of one delivery of a job, a child of the request that queued it; reports sent meanwhile
    (progress, completion) are its children."""
    attributes = {"videoforge.job_id": claim.job_id, "videoforge.delivery": claim.attempt}
    with tracer().start_as_current_span(
        "transcode job", context=trace_context_of(claim.payload), kind=SpanKind.CONSUMER, attributes=attributes
    ):
        yield


@contextlib.contextmanager
def observed_stage(stage: str) -> Iterator[None]:
    """A span for the stage, and its duration once it finished."""
    with tracer().start_as_current_span(f"stage {stage}"):
        started = time.perf_counter()
        yield
        STAGE_SECONDS.labels(stage).observe(time.perf_counter() - started)


def record_encode_speed(media_seconds: float, wall_seconds: float) -> None:
    if media_seconds > 0 and wall_seconds > 0:
        ENCODE_SPEED.observe(media_seconds / wall_seconds)
