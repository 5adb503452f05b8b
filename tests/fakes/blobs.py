"""An in-memory object store for unit tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from videoforge.storage.port import BlobNotFound, BlobStore, ObjectInfo, OpenUpload, PresignedUpload, UploadedPart


class InMemoryBlobStore(BlobStore):
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.modified: dict[str, datetime] = {}
        self.open_uploads: list[OpenUpload] = []
        self.kept: set[str] = set()

    def put(self, key: str, data: bytes = b"x", *, modified: datetime | None = None) -> None:
        self.objects[key] = data
        self.modified[key] = modified or datetime.now(UTC)

    def keys_under(self, prefix: str) -> list[str]:
        return sorted(k for k in self.objects if k.startswith(prefix))

    async def ensure_bucket(self) -> None:
        return None

    async def presign_put(
        self, key: str, content_type: str, *, expires: int, content_length: int | None = None
    ) -> PresignedUpload:
        return PresignedUpload(f"memory://{key}", {"Content-Type": content_type})

    async def create_multipart(self, key: str, content_type: str) -> str:
        return f"upload-{key}"

    async def presign_part(
        self, key: str, upload_id: str, part_number: int, *, expires: int, content_length: int
    ) -> str:
        return f"memory://{key}?part={part_number}&length={content_length}"

    async def complete_multipart(self, key: str, upload_id: str, parts: Sequence[UploadedPart]) -> ObjectInfo:
        self.objects.setdefault(key, b"x")
        return ObjectInfo(key, len(self.objects[key]), "etag")

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        self.open_uploads = [u for u in self.open_uploads if u.upload_id != upload_id]

    async def open_multipart_uploads(self, prefix: str = "") -> list[OpenUpload]:
        return [u for u in self.open_uploads if u.key.startswith(prefix)]

    async def head(self, key: str) -> ObjectInfo | None:
        data = self.objects.get(key)
        return None if data is None else ObjectInfo(key, len(data), "etag")

    async def presign_get(self, key: str, *, expires: int, filename: str | None = None) -> str:
        return f"memory://{key}"

    async def mark_kept(self, key: str) -> None:
        self.kept.add(key)

    async def presign_internal_get(self, key: str, *, expires: int) -> str:
        return f"memory://{key}"

    async def upload_file(self, path: Path, key: str, content_type: str) -> None:
        self.objects[key] = path.read_bytes()

    async def upload_dir(self, directory: Path, prefix: str) -> list[str]:
        keys = []
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            key = prefix + path.relative_to(directory).as_posix()
            self.objects[key] = path.read_bytes()
            keys.append(key)
        return keys

    async def download_file(self, key: str, path: Path) -> None:
        if key not in self.objects:
            raise BlobNotFound(key)
        path.write_bytes(self.objects[key])

    async def read_bytes(self, key: str, *, max_bytes: int | None = None) -> bytes:
        if key not in self.objects:
            raise BlobNotFound(key)
        return self.objects[key]

    async def read_prefix(self, key: str, length: int) -> bytes:
        return (await self.read_bytes(key))[:length]

    async def delete(self, key: str) -> None:
        self.objects.pop(key, None)

    async def delete_prefix(self, prefix: str) -> int:
        freed = 0
        for key in self.keys_under(prefix):
            freed += len(self.objects.pop(key))
        return freed

    async def list(self, prefix: str = "") -> list[ObjectInfo]:
        return [
            ObjectInfo(k, len(self.objects[k]), "etag", last_modified=self.modified.get(k))
            for k in self.keys_under(prefix)
        ]

    async def total_size(self, prefix: str = "") -> int:
        return sum(len(self.objects[k]) for k in self.keys_under(prefix))
