"""In-memory fakes of playback's ports: who may watch which video, and what each plays from."""

from __future__ import annotations

from videoforge.kit.errors import NotFound
from videoforge.streaming.domain.ports import PlayableOutput, PublishedOutputs, VideoCatalog, VisibleVideo


class InMemoryVideoCatalog(VideoCatalog):
    """Every video is visible to everyone: who may watch is the gallery's rule, tested there."""

    def __init__(self) -> None:
        self.videos: dict[str, VisibleVideo] = {}

    async def visible_video(self, video_id: str, authorization: str) -> VisibleVideo:
        if video_id not in self.videos:
            raise NotFound(f"No video {video_id!r}.", "VIDEO_NOT_FOUND")
        return self.videos[video_id]


class InMemoryPublishedOutputs(PublishedOutputs):
    def __init__(self) -> None:
        self.outputs: dict[str, PlayableOutput] = {}

    async def published(self, video_id: str) -> PlayableOutput:
        if video_id not in self.outputs:
            raise NotFound("The video has no playable output yet.", "NOT_READY")
        return self.outputs[video_id]
