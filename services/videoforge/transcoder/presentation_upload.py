"""Publishes a presentation while it grows: each new segment goes up as soon as it is whole, then the manifests
that list it, so a player fetching a manifest never meets a missing segment. Once every stream has a segment,
the job service is told the attempt's output can be watched."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from videoforge.kit.task_groups import failing_as_the_first
from videoforge.transcoder.domain.presentation import ManifestFile, PresentationSink, PresentationSnapshot

log = logging.getLogger(__name__)

# Uploads in flight at once: segments of every stream complete together.
UPLOAD_SLOTS = 8

# (local file, its path in the output set) -> the object is stored.
Upload = Callable[[Path, str], Awaitable[None]]


class PresentationUpload(PresentationSink):
    def __init__(
        self, upload: Upload, staging: Path, on_playable: Callable[[PresentationSnapshot], Awaitable[None]]
    ) -> None:
        self._upload, self._staging, self._on_playable = upload, staging, on_playable
        self._slots = asyncio.Semaphore(UPLOAD_SLOTS)
        self._published: dict[str, bytes] = {}
        self._announced = False
        # Paths in the output set already stored.
        self.uploaded: set[str] = set()

    async def publish(self, snapshot: PresentationSnapshot) -> None:
        new = [segment for segment in snapshot.segments if segment not in self.uploaded]
        await self._upload_all([(snapshot.output_dir / segment, segment) for segment in new])
        changed = [(m, data) for m, data in snapshot.manifests if self._published.get(m.relative) != data]
        # Side by side, but the master last: it names the other playlists.
        await self._publish_manifests([(m, data) for m, data in changed if m.kind != "HLS_MASTER"])
        await self._publish_manifests([(m, data) for m, data in changed if m.kind == "HLS_MASTER"])
        if snapshot.playable and not self._announced:
            try:
                await self._on_playable(snapshot)
                self._announced = True
            except Exception as error:
                # Watching early is a bonus: the transcode goes on, and the next state tries again.
                log.warning("could not announce the growing output: %s", error)

    async def _publish_manifests(self, manifests: list[tuple[ManifestFile, bytes]]) -> None:
        staged = []
        for manifest, data in manifests:
            # The bytes as read, not the file: the muxer may have written a newer one listing newer segments.
            path = self._staging / manifest.relative
            await asyncio.to_thread(_write, path, data)
            staged.append((path, manifest.relative))
        await self._upload_all(staged)
        self._published.update((manifest.relative, data) for manifest, data in manifests)

    async def keep(self, path: Path, relative: str) -> None:
        await self._upload_all([(path, relative)])

    async def upload_rest(self, output_dir: Path) -> None:
        """Everything else the transcode left in output_dir: the images, and what was not kept ahead."""
        files = await asyncio.to_thread(lambda: sorted(path for path in output_dir.rglob("*") if path.is_file()))
        rest = [(path, path.relative_to(output_dir).as_posix()) for path in files]
        await self._upload_all([(path, relative) for path, relative in rest if relative not in self.uploaded])

    async def _upload_all(self, files: list[tuple[Path, str]]) -> None:
        async def upload(path: Path, relative: str) -> None:
            async with self._slots:
                await self._upload(path, relative)
            self.uploaded.add(relative)

        # When one upload fails the others stop too, so none writes after the attempt gave up.
        async with failing_as_the_first() as uploads:
            for path, relative in files:
                uploads.create_task(upload(path, relative))


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
