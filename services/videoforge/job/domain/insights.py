"""What the admin page draws: the platform's recent activity, read from its own records."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

DEFAULT_HOURS = 24
MAX_HOURS = 7 * 24
# Queue samples older than the longest window anyone can ask for are removed.
SAMPLE_RETENTION_HOURS = MAX_HOURS
# The stages a job's time is split into, as its states name them: waiting for a worker, fetching the source,
# encoding and packaging, storing the outputs.
STAGES = ("PENDING", "DOWNLOADING", "PROCESSING", "UPLOADING")


@dataclass(frozen=True)
class HourOfJobs:
    start: datetime
    jobs_by_state: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class HourOfStages:
    start: datetime
    average_seconds: dict[str, float] = field(default_factory=dict)
    jobs: int = 0


@dataclass(frozen=True)
class QueueSample:
    time: datetime
    depth: int
    oldest_wait_seconds: float


@dataclass(frozen=True)
class Activity:
    jobs_per_hour: list[HourOfJobs]
    stage_seconds: list[HourOfStages]
    queue_depth: list[QueueSample]


class ActivityRecords(Protocol):
    async def activity_since(self, since: datetime) -> Activity: ...
    async def add_queue_sample(self, sample: QueueSample, *, keep_since: datetime) -> None: ...
