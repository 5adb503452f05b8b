"""What the job use cases need from other services."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class VideoRef:
    id: str
    owner_id: str
    source_key: str
    media: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class VideoUpdate:
    """A job's state as its video shows it; `published` carries what the video now plays from."""

    video_id: str
    job_id: str
    state: str
    progress: int
    error_message: str = ""
    published: bool = False
    poster_key: str = ""
    preview_key: str = ""
    duration_seconds: float = 0.0


class VideoDirectory(ABC):
    @abstractmethod
    async def lookup(self, *, video_id: str = "", source_key: str = "", authorization: str) -> VideoRef:
        """The video as the caller may see it; NOT_FOUND otherwise."""

    @abstractmethod
    async def record(self, update: VideoUpdate) -> None: ...
