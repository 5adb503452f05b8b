"""What playback needs from other services: who may see a video, and what it plays from."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from videoforge.content_protection import ContentKey
from videoforge.media_model import Rendition


@dataclass(frozen=True)
class VisibleVideo:
    id: str
    # `uploaded`, `processing`, `ready` or `failed`: says why nothing plays yet.
    status: str
    # The uploaded file, which plays before any transcode does.
    source_key: str = ""
    # The job whose output the video plays from, as the gallery last heard it from job events; empty while none.
    published_job_id: str = ""
    # `public`, `unlisted` or `private`.
    visibility: str = ""

    @property
    def open_to_all(self) -> bool:
        """Anyone with its id may watch it: the gallery's answer is the same for every caller."""
        return self.visibility in ("public", "unlisted")


@dataclass(frozen=True)
class OutputAsset:
    # HLS_MASTER, DASH_MANIFEST, HLS_PLAYLIST, MP4, POSTER, PREVIEW, STORYBOARD_INDEX, ...
    kind: str
    key: str
    quality: str = ""


@dataclass(frozen=True)
class PlayableOutput:
    """The complete output set a video plays from."""

    job_id: str
    assets: list[OutputAsset] = field(default_factory=list)
    renditions: list[Rendition] = field(default_factory=list)
    duration_seconds: float = 0.0
    # Still growing: its job runs, and its manifests change until the job completes.
    live: bool = False
    # `clearkey`, `aes-128` or empty (in the clear), and then the key its segments are encrypted with.
    protection: str = ""
    content_key: ContentKey | None = field(default=None, repr=False)

    def asset(self, kind: str, quality: str = "") -> OutputAsset | None:
        return next((a for a in self.assets if a.kind == kind and (not quality or a.quality == quality)), None)


class VideoCatalog(ABC):
    @abstractmethod
    async def visible_video(self, video_id: str, authorization: str) -> VisibleVideo:
        """The video if the caller may watch it; NotFound otherwise (a private one looks missing)."""


class PublishedOutputs(ABC):
    @abstractmethod
    async def published(self, video_id: str) -> PlayableOutput:
        """NotFound while nothing plays."""
