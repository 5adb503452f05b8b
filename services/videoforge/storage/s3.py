"""The BlobStore on boto3: AWS S3 in production, SeaweedFS's S3 gateway on one machine.

boto3 is synchronous; every call runs in a worker thread so services and workers keep their event loop.
"""

from __future__ import annotations

import asyncio
import mimetypes
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from videoforge.kit.settings import Settings
from videoforge.storage.port import (
    BlobNotFound,
    BlobStore,
    BlobStoreError,
    BlobTooLarge,
    ObjectInfo,
    OpenUpload,
    PresignedUpload,
    UploadedPart,
)

T = TypeVar("T")

UPLOAD_CONCURRENCY = 8
# Files up to this size go up in one PutObject; larger ones in parts, several at once (boto3's own threshold).
SINGLE_PUT_BYTES = TransferConfig().multipart_threshold
# What the bucket's lifecycle rule expires under uploads/ (deploy/aws): objects never confirmed as a source.
PENDING_TAG = "videoforge-upload=pending"
# S3 caps a DeleteObjects request at 1000 keys.
DELETE_BATCH = 1000

# Types that `mimetypes` does not know on every system; players and browsers need them right.
MEDIA_CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".mpd": "application/dash+xml",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".m4a": "audio/mp4",
    ".ts": "video/mp2t",
    ".vtt": "text/vtt",
    ".webp": "image/webp",
    ".jpg": "image/jpeg",
    ".png": "image/png",
}
_MISSING = {"404", "NoSuchKey", "NotFound"}


def guess_content_type(path: Path) -> str:
    return (
        MEDIA_CONTENT_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    )


def attachment_disposition(filename: str) -> str:
    """A Content-Disposition that saves under `filename`, with an ASCII fallback for old clients (RFC 6266)."""
    fallback = filename.encode("ascii", "replace").decode().replace('"', "_").replace("\\", "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _files_under(directory: Path) -> list[Path]:
    return sorted(path for path in directory.rglob("*") if path.is_file())


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _object_info(key: str, response: dict[str, Any]) -> ObjectInfo:
    return ObjectInfo(
        key=key,
        size=int(response.get("ContentLength", response.get("Size", 0))),
        etag=str(response.get("ETag", "")).strip('"'),
        content_type=response.get("ContentType"),
        last_modified=response.get("LastModified"),
    )


def _s3_client(
    *, endpoint_url: str, region: str, access_key_id: str, secret_access_key: str, pool_size: int
) -> BaseClient:
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        retries={"mode": "standard", "max_attempts": 5},
        max_pool_connections=pool_size,
        # Checksums only where S3 requires them: S3-compatible servers differ in the newer trailers.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    # Empty credentials mean the default chain (an IAM role on AWS).
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint_url or None,
        region_name=region,
        aws_access_key_id=access_key_id or None,
        aws_secret_access_key=secret_access_key or None,
        config=config,
    )


class S3BlobStore(BlobStore):
    def __init__(
        self,
        *,
        bucket: str,
        region: str,
        endpoint_url: str = "",
        public_endpoint_url: str = "",
        access_key_id: str = "",
        secret_access_key: str = "",
        upload_concurrency: int = UPLOAD_CONCURRENCY,
    ) -> None:
        self.bucket = bucket
        self._region = region
        self._upload_concurrency = upload_concurrency
        credentials = {"access_key_id": access_key_id, "secret_access_key": secret_access_key}
        # Each transfer may run several part uploads at once; the pool must not make them queue.
        pool_size = upload_concurrency * 4
        self._client = _s3_client(endpoint_url=endpoint_url, region=region, pool_size=pool_size, **credentials)
        # A presigned URL is signed for its host: browsers may reach the store at another address.
        self._presigner = (
            _s3_client(endpoint_url=public_endpoint_url, region=region, pool_size=1, **credentials)
            if public_endpoint_url
            else self._client
        )

    async def _run(self, call: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        try:
            return await asyncio.to_thread(call, *args, **kwargs)
        except (ClientError, BotoCoreError) as error:
            raise BlobStoreError(f"{self.bucket}: {error}") from error

    async def ensure_bucket(self) -> None:
        await self._run(self._ensure_bucket)

    def _ensure_bucket(self) -> None:
        try:
            self._client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as error:
            if _error_code(error) not in _MISSING and _error_code(error) != "NoSuchBucket":
                raise
        location = {} if self._region == "us-east-1" else {"LocationConstraint": self._region}
        try:
            self._client.create_bucket(
                Bucket=self.bucket, **({"CreateBucketConfiguration": location} if location else {})
            )
        except ClientError as error:
            # Another process created it between our HEAD and CREATE.
            if _error_code(error) != "BucketAlreadyOwnedByYou":
                raise

    async def presign_put(
        self, key: str, content_type: str, *, expires: int, content_length: int | None = None
    ) -> PresignedUpload:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "ContentType": content_type}
        if content_length is not None:
            params["ContentLength"] = content_length
        url = await self._run(self._presigner.generate_presigned_url, "put_object", Params=params, ExpiresIn=expires)
        # Content-Length is signed too when given, but clients set it from the body themselves.
        return PresignedUpload(url=url, headers={"Content-Type": content_type})

    async def create_multipart(self, key: str, content_type: str) -> str:
        response = await self._run(
            self._client.create_multipart_upload,
            Bucket=self.bucket,
            Key=key,
            ContentType=content_type,
            Tagging=PENDING_TAG,
        )
        return str(response["UploadId"])

    async def mark_kept(self, key: str) -> None:
        await self._run(self._client.delete_object_tagging, Bucket=self.bucket, Key=key)

    async def presign_part(
        self, key: str, upload_id: str, part_number: int, *, expires: int, content_length: int
    ) -> str:
        # A signed Content-Length: a part of any other size fails the signature (403).
        params = {
            "Bucket": self.bucket,
            "Key": key,
            "UploadId": upload_id,
            "PartNumber": part_number,
            "ContentLength": content_length,
        }
        return await self._run(self._presigner.generate_presigned_url, "upload_part", Params=params, ExpiresIn=expires)

    async def complete_multipart(self, key: str, upload_id: str, parts: Sequence[UploadedPart]) -> ObjectInfo:
        ordered = sorted(parts, key=lambda part: part.part_number)
        await self._run(
            self._client.complete_multipart_upload,
            Bucket=self.bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": p.part_number, "ETag": p.etag} for p in ordered]},
        )
        info = await self.head(key)
        if info is None:
            raise BlobStoreError(f"multipart upload of {key!r} completed but the object is missing")
        return info

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        await self._run(self._abort_multipart, key, upload_id)

    async def open_multipart_uploads(self, prefix: str = "") -> list[OpenUpload]:
        return await self._run(self._open_multipart_uploads, prefix)

    def _open_multipart_uploads(self, prefix: str) -> list[OpenUpload]:
        paginator = self._client.get_paginator("list_multipart_uploads")
        return [
            OpenUpload(item["Key"], item["UploadId"], item.get("Initiated"))
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix)
            for item in page.get("Uploads", [])
        ]

    def _abort_multipart(self, key: str, upload_id: str) -> None:
        try:
            self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except ClientError as error:
            if _error_code(error) not in _MISSING and _error_code(error) != "NoSuchUpload":
                raise

    async def head(self, key: str) -> ObjectInfo | None:
        return await self._run(self._head, key)

    def _head(self, key: str) -> ObjectInfo | None:
        try:
            return _object_info(key, self._client.head_object(Bucket=self.bucket, Key=key))
        except ClientError as error:
            if _error_code(error) in _MISSING:
                return None
            raise

    async def presign_get(self, key: str, *, expires: int, filename: str | None = None) -> str:
        params = {"Bucket": self.bucket, "Key": key}
        if filename:
            params["ResponseContentDisposition"] = attachment_disposition(filename)
        return await self._run(self._presigner.generate_presigned_url, "get_object", Params=params, ExpiresIn=expires)

    async def presign_internal_get(self, key: str, *, expires: int) -> str:
        params = {"Bucket": self.bucket, "Key": key}
        return await self._run(self._client.generate_presigned_url, "get_object", Params=params, ExpiresIn=expires)

    async def upload_file(self, path: Path, key: str, content_type: str) -> None:
        await self._run(self._upload_file, path, key, content_type)

    def _upload_file(self, path: Path, key: str, content_type: str) -> None:
        if path.stat().st_size <= SINGLE_PUT_BYTES:
            # A segment or a manifest: one request, without a transfer manager's thread pool, which costs more CPU
            # than sending the bytes (a transcode stores a few hundred such files).
            with path.open("rb") as body:
                self._client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)
            return
        self._client.upload_file(
            str(path),
            self.bucket,
            key,
            ExtraArgs={"ContentType": content_type},
            Config=TransferConfig(max_concurrency=4),
        )

    async def upload_dir(self, directory: Path, prefix: str) -> list[str]:
        files = await asyncio.to_thread(_files_under, directory)
        base = f"{prefix.rstrip('/')}/" if prefix else ""
        slots = asyncio.Semaphore(self._upload_concurrency)

        async def upload(path: Path) -> str:
            key = base + path.relative_to(directory).as_posix()
            async with slots:
                await self.upload_file(path, key, guess_content_type(path))
            return key

        return list(await asyncio.gather(*(upload(path) for path in files)))

    async def download_file(self, key: str, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        await self._run(self._download_file, key, path)

    def _download_file(self, key: str, path: Path) -> None:
        try:
            self._client.download_file(self.bucket, key, str(path))
        except ClientError as error:
            if _error_code(error) in _MISSING:
                raise BlobNotFound(key) from error
            raise

    async def read_bytes(self, key: str, *, max_bytes: int | None = None) -> bytes:
        return await self._run(self._read_bytes, key, max_bytes)

    def _read_bytes(self, key: str, max_bytes: int | None) -> bytes:
        response = self._get_object(key)
        body = response["Body"]
        with body:
            size = int(response["ContentLength"])
            if max_bytes is not None and size > max_bytes:
                raise BlobTooLarge(key, size, max_bytes)
            return bytes(body.read())

    async def read_prefix(self, key: str, length: int) -> bytes:
        if length <= 0:
            return b""
        return await self._run(self._read_prefix, key, length)

    def _read_prefix(self, key: str, length: int) -> bytes:
        try:
            response = self._get_object(key, Range=f"bytes=0-{length - 1}")
        except ClientError as error:
            # An empty object has no byte 0 to start a range at.
            if _error_code(error) == "InvalidRange":
                return b""
            raise
        with response["Body"] as body:
            return bytes(body.read())

    def _get_object(self, key: str, **extra: str) -> dict[str, Any]:
        try:
            return self._client.get_object(Bucket=self.bucket, Key=key, **extra)
        except ClientError as error:
            if _error_code(error) in _MISSING:
                raise BlobNotFound(key) from error
            raise

    async def delete(self, key: str) -> None:
        await self._run(self._client.delete_object, Bucket=self.bucket, Key=key)

    async def delete_prefix(self, prefix: str) -> int:
        if not prefix:
            raise ValueError("delete_prefix needs a non-empty prefix; it would empty the whole bucket")
        return await self._run(self._delete_prefix, prefix)

    def _delete_prefix(self, prefix: str) -> int:
        objects = self._list(prefix)
        for start in range(0, len(objects), DELETE_BATCH):
            batch = objects[start : start + DELETE_BATCH]
            response = self._client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": info.key} for info in batch], "Quiet": True},
            )
            if errors := response.get("Errors"):
                first = errors[0]
                raise BlobStoreError(
                    f"could not delete {len(errors)} objects under {prefix!r}, "
                    f"first {first.get('Key')!r}: {first.get('Code')} {first.get('Message')}"
                )
        return sum(info.size for info in objects)

    async def total_size(self, prefix: str = "") -> int:
        return sum(info.size for info in await self.list(prefix))

    async def list(self, prefix: str = "") -> list[ObjectInfo]:
        return await self._run(self._list, prefix)

    def _list(self, prefix: str) -> list[ObjectInfo]:
        paginator = self._client.get_paginator("list_objects_v2")
        return [
            _object_info(item["Key"], item)
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix)
            for item in page.get("Contents", [])
        ]


def blob_store_from_settings(settings: Settings) -> S3BlobStore:
    return S3BlobStore(
        bucket=settings.s3_bucket,
        region=settings.s3_region,
        endpoint_url=settings.s3_endpoint_url,
        public_endpoint_url=settings.s3_public_endpoint_url,
        access_key_id=settings.s3_access_key_id,
        secret_access_key=settings.s3_secret_access_key,
    )
