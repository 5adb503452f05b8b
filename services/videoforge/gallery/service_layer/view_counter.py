"""Views counted in memory and added to the videos in batches, so reading a video writes nothing.

A hot video's row took one UPDATE per view, every reader queueing on its lock. Here each process adds its views
once a `FLUSH_SECONDS`, all videos in one transaction. The store adds each batch exactly once (it learns the
outcome of a commit whose answer was lost), so totals are exact once flushed; a process that dies unflushed
loses at most its last second of views.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable

from videoforge.gallery.domain.ports import VideoRepository

log = logging.getLogger(__name__)

FLUSH_SECONDS = 1.0


class ViewCounter:
    def __init__(self, videos: VideoRepository, on_added: Callable[[list[str]], None] = lambda video_ids: None) -> None:
        self._videos = videos
        self._pending: Counter[str] = Counter()
        # Told which videos' stored totals just grew, so that nothing keeps showing the old ones.
        self._on_added = on_added

    def count(self, video_id: str) -> int:
        """Counts one view; returns the views of the video not yet added to its total."""
        self._pending[video_id] += 1
        return self._pending[video_id]

    async def flush(self) -> None:
        batch, self._pending = self._pending, Counter()
        if not batch:
            return
        try:
            await self._videos.add_views(dict(batch))
        except Exception:
            # Not added (the store says so when it cannot tell): counted again with the next batch.
            self._pending.update(batch)
            raise
        self._on_added(list(batch))

    async def run(self, stop: asyncio.Event) -> None:
        """Flushes every `FLUSH_SECONDS` until `stop`, then once more."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), FLUSH_SECONDS)
            await self._flush_or_log()
        await self._flush_or_log()

    async def _flush_or_log(self) -> None:
        try:
            await self.flush()
        except Exception:
            log.warning("adding views failed; they go with the next batch", exc_info=True)
