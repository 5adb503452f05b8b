"""Transcode jobs: states, who may see them, and where their outputs go."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from videoforge.kit.errors import InvalidArgument, NotFound
from videoforge.kit.principal import Principal
from videoforge.media_model import (
    DEFAULT_ENCODING,
    FINAL_JOB_STATES,
    WORKING_JOB_STATES,
    EncodingOptions,
    JobState,
    MediaSummary,
    Rendition,
)

PENDING, DOWNLOADING, PROCESSING, UPLOADING = (
    JobState.PENDING,
    JobState.DOWNLOADING,
    JobState.PROCESSING,
    JobState.UPLOADING,
)
COMPLETED, FAILED, CANCELLED = JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED
STATES = (PENDING, DOWNLOADING, PROCESSING, UPLOADING, COMPLETED, FAILED, CANCELLED)
FINAL_STATES = FINAL_JOB_STATES
WORKING_STATES = WORKING_JOB_STATES


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
    media: MediaSummary = field(default_factory=MediaSummary)
    error: JobError | None = None
    renditions: list[Rendition] = field(default_factory=list)
    output_prefix: str = ""
    start_time: datetime | None = None
    end_time: datetime | None = None
    # The queue delivery that started the current attempt, and until when that attempt holds the job.
    delivery_token: str = ""
    lease_expires_at: datetime | None = None
    # Restarts so far: a dead letter of an earlier run never fails a restarted job.
    run: int = 0
    # The creator's idempotency key.
    request_id: str = ""
    # An imported video's URL: the worker fetches the source from it into `input_source` when not stored yet.
    source_url: str = ""
    # The video codecs of its ladders (`h264` first) and its output's protection (empty: in the clear).
    codecs: list[str] = field(default_factory=lambda: list(DEFAULT_ENCODING.codecs))
    protection: str = ""
    # What the transcode measured of the audio's loudness (figures by name), once it completed.
    loudness: dict[str, float] | None = None

    @property
    def options(self) -> EncodingOptions:
        return EncodingOptions(tuple(self.codecs), self.protection)

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def duration_seconds(self) -> float:
        return self.media.duration_seconds

    @property
    def is_working(self) -> bool:
        return self.state in WORKING_STATES

    def holds_lease(self, now: datetime) -> bool:
        """A live attempt holds the job: another delivery of it must not start."""
        return self.is_working and self.lease_expires_at is not None and self.lease_expires_at > now

    def queue_payload(self) -> dict[str, Any]:
        return {"video_id": self.video_id, "run": self.run}


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


@dataclass(frozen=True)
class Publication:
    """What a video plays from, as its gallery entry shows it."""

    job_id: str
    poster_key: str = ""
    preview_key: str = ""
    duration_seconds: float = 0.0
    # The published audio's loudness (figures by name), when its job measured it.
    loudness: dict[str, float] | None = None


@dataclass(frozen=True)
class JobEvent:
    """A job's state changed; carries the whole state its video shows, numbered per video."""

    event_id: int
    video_id: str
    version: int
    job_id: str
    state: str
    progress: int
    error_message: str = ""
    publication: Publication | None = None
    # What the probe found in the source; None until known.
    media: MediaSummary | None = None


def covering_job(jobs: list[Job], formats: list[str], options: EncodingOptions = DEFAULT_ENCODING) -> Job | None:
    """The newest job that runs or completed, makes every one of `formats` (canonical names), in every codec asked
    for, with the same protection. A job that asked for no formats makes every rung that fits its source; asking
    for none is covered only by such a job."""
    covering = [
        job
        for job in jobs
        if job.state not in (FAILED, CANCELLED)
        and (not job.output_formats or (formats and set(formats) <= set(job.output_formats)))
        and set(options.codecs) <= set(job.codecs)
        and options.protection == job.protection
    ]
    return max(covering, key=lambda job: job.create_time, default=None)


# A completed job's loudness figures (dB: LUFS and dBTP), and how far from 0 any real measurement lies.
LOUDNESS_FIGURES = ("input_integrated_lufs", "input_true_peak_dbtp", "output_integrated_lufs", "output_true_peak_dbtp")
LOUDNESS_LIMIT_DB = 100.0


def checked_loudness(fields: Mapping[str, float] | None) -> dict[str, float] | None:
    """A worker's loudness figures as a job stores them: each a finite level within the limit, and whether the
    audio was normalised. Raises InvalidArgument otherwise."""
    if fields is None:
        return None
    checked: dict[str, float] = {}
    for name in LOUDNESS_FIGURES:
        value = float(fields.get(name, math.nan))
        if not (math.isfinite(value) and abs(value) <= LOUDNESS_LIMIT_DB):
            description = f"must be a level within ±{LOUDNESS_LIMIT_DB:g} dB"
            raise InvalidArgument.for_field(f"loudness.{name}", description, "BAD_LOUDNESS")
        checked[name] = value
    return {**checked, "normalized": bool(fields.get("normalized", False))}


def job_not_found(job_id: str) -> NotFound:
    return NotFound(f"No job {job_id!r}.", "JOB_NOT_FOUND")


def ensure_visible(job: Job | None, job_id: str, principal: Principal) -> Job:
    # Another user's job answers exactly like a missing one.
    if job is None or not principal.may_manage(job.owner_id):
        raise job_not_found(job_id)
    return job
