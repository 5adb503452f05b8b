"""The media model every service shares, in plain Python: what a source is (MediaSummary), what a transcode
makes (Rendition), where a job stands (JobState), the format names clients use, and where objects live.

Protos and JSONB are converted to and from these only in entrypoints and adapters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any

from videoforge.content_protection import ContentKey
from videoforge.kit.errors import FieldViolation, InvalidArgument


class JobState(StrEnum):
    """Stored and shown as these words; a StrEnum, so a word read back from storage compares equal."""

    PENDING = "PENDING"
    DOWNLOADING = "DOWNLOADING"
    PROCESSING = "PROCESSING"
    UPLOADING = "UPLOADING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


FINAL_JOB_STATES = (JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED)
WORKING_JOB_STATES = (JobState.DOWNLOADING, JobState.PROCESSING, JobState.UPLOADING)


@dataclass(frozen=True)
class MediaSummary:
    """What the probe found in a source, as videos and jobs show it (display size, rotation applied)."""

    container: str = ""
    duration_seconds: float = 0.0
    width: int = 0
    height: int = 0
    frame_rate: float = 0.0
    video_codec: str = ""
    audio_codec: str = ""
    has_audio: bool = False
    bitrate: int = 0
    size_bytes: int = 0
    rotation: int = 0

    @classmethod
    def from_fields(cls, values: Mapping[str, Any]) -> MediaSummary:
        """From stored fields; unknown ones (from a newer version) are ignored, and numbers stored as text (as
        protobuf's JSON writes 64-bit integers) are read as numbers."""
        return cls(**_typed(cls, values))

    def as_fields(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Rendition:
    """One rung of a published ladder: its name (`720p`), frame size, video bitrate and RFC 6381 codecs."""

    name: str
    width: int = 0
    height: int = 0
    bitrate: int = 0
    codecs: str = ""

    @classmethod
    def from_fields(cls, values: Mapping[str, Any]) -> Rendition:
        return cls(**_typed(cls, values))

    def as_fields(self) -> dict[str, Any]:
        return asdict(self)


_SCALARS: dict[str, type] = {"str": str, "int": int, "float": float, "bool": bool}


def _typed(cls: type, values: Mapping[str, Any]) -> dict[str, Any]:
    kinds = {f.name: _SCALARS[str(f.type)] for f in fields(cls)}
    return {name: kinds[name](value) for name, value in values.items() if name in kinds}


# The ladder's format names, biggest first, and the words clients may use for them.
FORMAT_NAMES = ("4K", "1080p", "720p", "480p", "360p")
FORMAT_ALIASES: dict[str, str] = {"high": "1080p", "medium": "720p", "low": "480p", "mobile": "360p"}
_FORMAT_WORDS = {name: word for word, name in FORMAT_ALIASES.items()}


def quality_word(name: str) -> str:
    """The word the original API uses for a format (`1080p` → `high`); a name without one as it is."""
    return _FORMAT_WORDS.get(name, name)


class UnknownFormat(InvalidArgument):
    """A requested output format is not one of the ladder's names or aliases."""

    def __init__(self, value: str, allowed: Iterable[str]) -> None:
        allowed = tuple(allowed)
        description = f"Unknown format '{value}'; allowed: {', '.join(allowed)}"
        super().__init__(description, "UNKNOWN_FORMAT", [FieldViolation("formats", description)])
        self.value = value
        self.allowed = allowed


def parse_formats(values: Iterable[str]) -> list[str]:
    """Canonical format names for names or aliases (any case), biggest first, without repeats.

    Raises UnknownFormat naming the first value that is neither, and what is allowed.
    """
    lookup = {name.lower(): name for name in FORMAT_NAMES} | FORMAT_ALIASES
    wanted: set[str] = set()
    for value in values:
        name = lookup.get(value.strip().lower())
        if name is None:
            raise UnknownFormat(value, [*FORMAT_NAMES, *FORMAT_ALIASES])
        wanted.add(name)
    return [name for name in FORMAT_NAMES if name in wanted]


# Video codecs a job may ask for, in the order their rungs are listed; H.264 is always made (every player has it).
CODEC_NAMES = ("h264", "hevc", "av1")
# Protection a video may ask for: CENC with ClearKey licences (DASH), or whole-segment AES-128 (HLS).
PROTECTION_NAMES = ("clearkey", "aes-128")


@dataclass(frozen=True)
class EncodingOptions:
    """How a job encodes and protects beyond its formats: extra codecs' rungs, and the video's protection."""

    codecs: tuple[str, ...] = ("h264",)
    protection: str = ""  # empty: in the clear
    # The key a protected video is encrypted with: the worker's alone (from StartAttempt), never stored with a job.
    content_key: ContentKey | None = field(default=None, repr=False, compare=False)

    @classmethod
    def parse(cls, codecs: Iterable[str], protection: str) -> EncodingOptions:
        """Checked, canonical options from what a client sent: codecs in any case and order, H.264 always first.

        Raises InvalidArgument naming the field, the value and what is allowed.
        """
        wanted: set[str] = set()
        for value in codecs:
            name = value.strip().lower()
            if name not in CODEC_NAMES:
                raise _unknown_choice("codecs", value, CODEC_NAMES, "UNKNOWN_CODEC")
            wanted.add(name)
        chosen = protection.strip().lower()
        if chosen and chosen not in PROTECTION_NAMES:
            raise _unknown_choice("protection", protection, PROTECTION_NAMES, "UNKNOWN_PROTECTION")
        return cls(tuple(name for name in CODEC_NAMES if name in wanted or name == "h264"), chosen)

    @property
    def extra_codecs(self) -> tuple[str, ...]:
        return tuple(name for name in self.codecs if name != "h264")


# What a job gets when it asks for nothing more: H.264 only, in the clear.
DEFAULT_ENCODING = EncodingOptions()


def _unknown_choice(field: str, value: str, allowed: Iterable[str], reason: str) -> InvalidArgument:
    return InvalidArgument.for_field(field, f"unknown value '{value}'; allowed: {', '.join(allowed)}", reason)


# Where objects live. Sources: uploads/{user}/{upload}/source. Everything a video plays from: videos/{video}/.


UPLOADS_ROOT = "uploads/"


def upload_prefix(user_id: str) -> str:
    return f"{UPLOADS_ROOT}{user_id}/"


def upload_key(user_id: str, upload_id: str) -> str:
    # The server names the object; the user's file name is only metadata.
    return f"{upload_prefix(user_id)}{upload_id}/source"


def upload_folder(source_key: str) -> str:
    """The folder an upload lives in: deleting its video deletes it."""
    return source_key.rsplit("/", 1)[0] + "/"


VIDEOS_ROOT = "videos/"


def video_prefix(video_id: str) -> str:
    """Everything a video plays from lies under this; one signed grant covers it."""
    return f"videos/{video_id}/"


def video_outputs_prefix(video_id: str) -> str:
    return f"{video_prefix(video_id)}jobs/"


def job_outputs_prefix(video_id: str, job_id: str) -> str:
    return f"{video_outputs_prefix(video_id)}{job_id}/"


def attempt_prefix(video_id: str, job_id: str, attempt: int) -> str:
    """One per attempt, and attempts only grow: a newer attempt or a restarted run never writes over an older one."""
    return f"{job_outputs_prefix(video_id, job_id)}attempt-{attempt}/"


# A segment of a key the layout makes: never empty, `.` or `..` (which lead out of a folder once a path or URL is
# resolved), and nothing a URL would read as a query, a fragment or an escape.
_KEY_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._~-]*")


def is_key_under(key: str, prefix: str) -> bool:
    """True for a key below `prefix` (which ends in `/`) made of plain segments only, so it stays there."""
    return key.startswith(prefix) and all(_KEY_SEGMENT.fullmatch(part) for part in key.split("/"))


def is_video_key(key: str, video_id: str) -> bool:
    """True for a key of the video's own folder, `videos/{video}/...`: what one playback grant covers."""
    return bool(video_id) and is_key_under(key, video_prefix(video_id))


def is_upload_source_key(key: str) -> bool:
    """True for a source key as the gallery makes them, `uploads/{user}/{upload}/source`."""
    parts = key.split("/")
    return len(parts) == 4 and parts[0] + "/" == UPLOADS_ROOT and parts[3] == "source" and is_key_under(key, "")


def video_of_key(key: str) -> str:
    """The video a key under `videos/{video}/` belongs to; empty for any other key."""
    parts = key.split("/")
    return parts[1] if len(parts) >= 3 and parts[0] == "videos" and parts[1] else ""


def output_folder(key: str) -> str:
    """The attempt folder (`videos/{video}/jobs/{job}/attempt-{n}/`) a key lies in, or its video's folder for a
    key outside every attempt."""
    parts = key.split("/")
    if len(parts) >= 6 and parts[2] == "jobs" and parts[4].startswith("attempt-"):
        return "/".join(parts[:5]) + "/"
    return video_prefix(video_of_key(key))
