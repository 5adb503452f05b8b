"""The one way media is deleted: through a guard that refuses whatever is still referenced.

A lost reply, a late worker or a cleanup that raced a publish must never delete what a video plays from.
Each service says what it references (published outputs and completed jobs for the job service, the
sources of existing videos for the gallery); the guard checks that list right before every delete.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from videoforge.kit.errors import FailedPrecondition
from videoforge.storage.port import BlobStore

log = logging.getLogger(__name__)

# Given a prefix (or key) about to be deleted, the referenced prefixes and keys near it.
References = Callable[[str], Awaitable[list[str]]]


class MediaInUse(FailedPrecondition):
    """A delete was refused because something still references the objects."""


def overlaps(first: str, second: str) -> bool:
    """Deleting one would delete some of the other."""
    return first.startswith(second) or second.startswith(first)


class GuardedMedia:
    def __init__(self, blobs: BlobStore, references: References) -> None:
        self._blobs, self._references = blobs, references

    async def delete_prefix(self, prefix: str) -> int:
        """Deletes every object under `prefix`; returns the bytes freed. Raises MediaInUse when referenced."""
        await self._check(prefix)
        return await self._blobs.delete_prefix(prefix)

    async def delete(self, key: str) -> None:
        await self._check(key)
        await self._blobs.delete(key)

    async def _check(self, target: str) -> None:
        if not target or target.endswith("//"):
            raise MediaInUse(f"Refusing to delete {target!r}: not a media prefix.", "MEDIA_IN_USE")
        referenced = [ref for ref in await self._references(target) if ref and overlaps(target, ref)]
        if referenced:
            log.warning("refused to delete %s: still referenced by %s", target, referenced[:3])
            raise MediaInUse(f"{target!r} is still referenced and was not deleted.", "MEDIA_IN_USE")
