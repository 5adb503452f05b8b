"""Videos: visibility, who may see and change them, and how uploads are named."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from videoforge.kit.errors import InvalidArgument, NotFound, PermissionDenied
from videoforge.kit.principal import Principal
from videoforge.media_model import MediaSummary

VISIBILITIES = ("public", "unlisted", "private")
STATES = ("uploaded", "processing", "ready", "failed")
MAX_TITLE = 200
MAX_DESCRIPTION = 5000


@dataclass
class JobSnapshot:
    job_id: str = ""
    state: str = ""
    progress: int = 0
    error_message: str = ""


@dataclass(frozen=True)
class PlayingOutput:
    """What a video plays from: the published job and its images."""

    job_id: str
    poster_key: str = ""
    preview_key: str = ""
    duration_seconds: float = 0.0
    # Its audio's loudness in the source and as published (figures by name), when its job measured it.
    loudness: dict[str, float] | None = None


@dataclass(frozen=True)
class JobUpdate:
    """A job event as the gallery applies it: the whole state its video shows, numbered per video."""

    event_id: int
    video_id: str
    version: int
    job: JobSnapshot
    playing: PlayingOutput | None = None
    # What the job's probe found in the source, when it tells (an imported source is probed by its job).
    media: MediaSummary | None = None


@dataclass(frozen=True)
class JobTicket:
    """A job the job service created: its snapshot, and its answer passed back to the caller as it came."""

    snapshot: JobSnapshot
    answer: Any = None
    # The job the video already showed answered: nothing new was started.
    reused: bool = False


# While a job runs the video shows `processing`, unless an earlier output already plays.
_ACTIVE_JOB_STATES = ("PENDING", "DOWNLOADING", "PROCESSING", "UPLOADING")


def state_for(job_state: str, playing: PlayingOutput | None) -> str:
    if playing is not None:
        return "ready"
    if job_state in _ACTIVE_JOB_STATES:
        return "processing"
    return "failed" if job_state == "FAILED" else "uploaded"


@dataclass
class Video:
    id: str
    owner_id: str
    title: str
    description: str
    visibility: str
    state: str
    source_key: str
    media: MediaSummary
    view_count: int
    latest_job: JobSnapshot
    create_time: datetime
    update_time: datetime
    published_job_id: str = ""
    # The uploader's file name: metadata only, never part of a key.
    filename: str = ""
    # What the video plays from, once a job published it.
    playing: PlayingOutput | None = None
    # The newest job event applied; older and repeated ones are skipped.
    job_version: int = 0
    # An imported video's URL: its jobs fetch the source from it while the source is not stored yet.
    source_url: str = ""


def video_not_found(video_id: str) -> NotFound:
    # Another user's private video answers exactly like a missing one.
    return NotFound(f"No video {video_id!r}.", "VIDEO_NOT_FOUND")


def bare_id(name: str, collection: str = "videos") -> str:
    """Accepts `videos/{id}` or a bare id."""
    value = name.strip()
    prefix = f"{collection}/"
    return value[len(prefix) :] if value.startswith(prefix) else value


def check_visibility(value: str) -> str:
    cleaned = value.strip().lower() or "public"
    if cleaned not in VISIBILITIES:
        raise InvalidArgument.for_field(
            "visibility", f"must be one of {', '.join(VISIBILITIES)}, not {value!r}", "INVALID_VISIBILITY"
        )
    return cleaned


def check_title(value: str) -> str:
    cleaned = value.strip()
    if not cleaned:
        raise InvalidArgument.for_field("title", "is required", "MISSING_FIELD")
    if len(cleaned) > MAX_TITLE:
        raise InvalidArgument.for_field("title", f"must be at most {MAX_TITLE} characters", "TITLE_TOO_LONG")
    return cleaned


def check_description(value: str) -> str:
    if len(value) > MAX_DESCRIPTION:
        raise InvalidArgument.for_field(
            "description", f"must be at most {MAX_DESCRIPTION} characters", "DESCRIPTION_TOO_LONG"
        )
    return value.strip()


def can_view(video: Video, principal: Principal | None) -> bool:
    if video.visibility in ("public", "unlisted"):
        return True
    return principal is not None and principal.may_manage(video.owner_id)


def ensure_viewable(video: Video | None, video_id: str, principal: Principal | None) -> Video:
    if video is None or not can_view(video, principal):
        raise video_not_found(video_id)
    return video


def ensure_manageable(video: Video | None, video_id: str, principal: Principal) -> Video:
    video = ensure_viewable(video, video_id, principal)
    if not principal.may_manage(video.owner_id):
        raise PermissionDenied("Only the video's owner can change or delete it.", "NOT_OWNER")
    return video
