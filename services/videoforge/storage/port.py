"""The object store port: media bytes move between clients, workers and the store, never over gRPC.

Clients upload and download directly with presigned URLs; workers and services move files with the
store's own API. Keys are plain strings chosen by the server (``sources/{user}/{upload}/{name}``); a
prefix names every object whose key starts with it.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import NamedTuple


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str  # without the quotes S3 puts around it
    content_type: str | None = None  # listings don't carry it; `head` does
    last_modified: datetime | None = None


class PresignedUpload(NamedTuple):
    """A single PUT: send the body to `url` with exactly `headers`, or the store refuses it (403)."""

    url: str
    headers: dict[str, str]


@dataclass(frozen=True)
class UploadedPart:
    """One part of a multipart upload, as the store acknowledged it (the ETag of the part's PUT)."""

    part_number: int
    etag: str


@dataclass(frozen=True)
class OpenUpload:
    """A multipart upload that was started and neither completed nor aborted."""

    key: str
    upload_id: str
    initiated: datetime | None = None


class BlobStoreError(Exception):
    """The store refused or failed an operation."""


class BlobNotFound(BlobStoreError):
    """No object under that key."""

    def __init__(self, key: str) -> None:
        super().__init__(f"no object at {key!r}")
        self.key = key


class BlobTooLarge(BlobStoreError):
    """The object is larger than the caller agreed to read."""

    def __init__(self, key: str, size: int, limit: int) -> None:
        super().__init__(f"object {key!r} has {size} bytes, more than the {limit} allowed")
        self.key = key
        self.size = size
        self.limit = limit


class BlobStore(abc.ABC):
    """One bucket of an object store. Every method is a coroutine; none blocks the event loop."""

    @abc.abstractmethod
    async def ensure_bucket(self) -> None:
        """Create the bucket unless it exists."""

    @abc.abstractmethod
    async def presign_put(
        self, key: str, content_type: str, *, expires: int, content_length: int | None = None
    ) -> PresignedUpload:
        """A URL for one PUT of the whole object, valid `expires` seconds.

        The signature covers the content type and, when given, the exact length: an upload that sends
        another type or another number of bytes is refused, which bounds what a client can store.
        """

    @abc.abstractmethod
    async def create_multipart(self, key: str, content_type: str) -> str:
        """Start a multipart upload and return its upload id. The object it makes is tagged pending (the bucket's
        lifecycle rule expires pending objects) until `mark_kept`."""

    @abc.abstractmethod
    async def mark_kept(self, key: str) -> None:
        """Clear the pending tag: the object is a video's source and no lifecycle rule may expire it."""

    @abc.abstractmethod
    async def presign_part(
        self, key: str, upload_id: str, part_number: int, *, expires: int, content_length: int
    ) -> str:
        """A URL for one PUT of part `part_number` (1-based) of exactly `content_length` bytes (signed: another
        length is refused); every part but the last is at least 5 MiB."""

    @abc.abstractmethod
    async def complete_multipart(self, key: str, upload_id: str, parts: Sequence[UploadedPart]) -> ObjectInfo:
        """Assemble the parts (in part-number order) into the object."""

    @abc.abstractmethod
    async def abort_multipart(self, key: str, upload_id: str) -> None:
        """Drop the upload and the parts stored so far; aborting a finished or unknown upload is a no-op."""

    @abc.abstractmethod
    async def open_multipart_uploads(self, prefix: str = "") -> list[OpenUpload]:
        """Multipart uploads under `prefix` still open (their parts take space until aborted)."""

    @abc.abstractmethod
    async def head(self, key: str) -> ObjectInfo | None:
        """The object's size, type and ETag, or None when there is no such object."""

    @abc.abstractmethod
    async def presign_get(self, key: str, *, expires: int, filename: str | None = None) -> str:
        """A URL for one GET, valid `expires` seconds; with `filename`, browsers save it under that name."""

    @abc.abstractmethod
    async def presign_internal_get(self, key: str, *, expires: int) -> str:
        """A URL for GETs (ranged reads included) at the store's own endpoint, for the platform's own tools."""

    @abc.abstractmethod
    async def upload_file(self, path: Path, key: str, content_type: str) -> None:
        """Store a local file (in parts when it is large)."""

    @abc.abstractmethod
    async def upload_dir(self, directory: Path, prefix: str) -> list[str]:
        """Store every file under `directory` at `prefix` + its relative path; return the keys written."""

    @abc.abstractmethod
    async def download_file(self, key: str, path: Path) -> None:
        """Write the object to a local file; raises `BlobNotFound`."""

    @abc.abstractmethod
    async def read_bytes(self, key: str, *, max_bytes: int | None = None) -> bytes:
        """The whole object; raises `BlobNotFound`, or `BlobTooLarge` when it exceeds `max_bytes`."""

    @abc.abstractmethod
    async def read_prefix(self, key: str, length: int) -> bytes:
        """The object's first `length` bytes (fewer when it is shorter); raises `BlobNotFound`."""

    @abc.abstractmethod
    async def delete(self, key: str) -> None:
        """Remove the object; removing a missing object is a no-op."""

    @abc.abstractmethod
    async def delete_prefix(self, prefix: str) -> int:
        """Remove every object under a non-empty `prefix`; return the bytes freed."""

    @abc.abstractmethod
    async def list(self, prefix: str = "") -> list[ObjectInfo]:
        """Every object under `prefix`, in key order."""

    @abc.abstractmethod
    async def total_size(self, prefix: str = "") -> int:
        """The bytes stored under `prefix`."""
