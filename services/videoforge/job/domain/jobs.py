"""Transcode jobs: states, who may see them, and where their outputs go."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from videoforge.kit.errors import NotFound
from videoforge.kit.principal import Principal

PENDING, DOWNLOADING, PROCESSING, UPLOADING = "PENDING", "DOWNLOADING", "PROCESSING", "UPLOADING"
COMPLETED, FAILED, CANCELLED = "COMPLETED", "FAILED", "CANCELLED"
STATES = (PENDING, DOWNLOADING, PROCESSING, UPLOADING, COMPLETED, FAILED, CANCELLED)
FINAL_STATES = (COMPLETED, FAILED, CANCELLED)
WORKING_STATES = (DOWNLOADING, PROCESSING, UPLOADING)


@dataclass
class JobError:
    """What went wrong, in words a user can act on; `code` is a google.rpc.Code name."""

    code: str
    message: str
    reason: str = ""


@dataclass
class Job:
    id: str
    video_id: str
    owner_id: str
    input_source: str
    output_formats: list[str]
    state: str
    progress: int
    attempt: int
    create_time: datetime
    update_time: datetime
    media: dict[str, Any] = field(default_factory=dict)
    error: JobError | None = None
    renditions: list[dict[str, Any]] = field(default_factory=list)
    output_prefix: str = ""
    start_time: datetime | None = None
    end_time: datetime | None = None

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def duration_seconds(self) -> float:
        return float(self.media.get("duration_seconds", 0.0))


@dataclass
class Asset:
    id: str
    job_id: str
    video_id: str
    kind: str
    quality: str
    key: str
    content_type: str
    size_bytes: int


def job_not_found(job_id: str) -> NotFound:
    return NotFound(f"No job {job_id!r}.", "JOB_NOT_FOUND")


def ensure_visible(job: Job | None, job_id: str, principal: Principal) -> Job:
    # Another user's job answers exactly like a missing one.
    if job is None or not principal.may_manage(job.owner_id):
        raise job_not_found(job_id)
    return job


def attempt_prefix(video_id: str, job_id: str, attempt: int) -> str:
    """Deterministic per job attempt: a redelivery rewrites its own keys, never another attempt's."""
    return f"videos/{video_id}/jobs/{job_id}/attempt-{attempt}/"


def video_outputs_prefix(video_id: str) -> str:
    return f"videos/{video_id}/jobs/"


def job_outputs_prefix(video_id: str, job_id: str) -> str:
    return f"videos/{video_id}/jobs/{job_id}/"
