"""A 10 GiB upload is confirmed within 2 s: the probe reads its first bytes and its index at the end with ranged
reads, never a copy. Building 10 GiB in the store takes a minute or two (the store copies parts server-side),
so this runs only when asked for: ``pytest -m big_upload tests/e2e/test_ten_gib_confirm.py``."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from botocore.config import Config

from tests.fixtures.platform import RunningPlatform, start_platform, stop_platform
from tests.media_factory import MediaFactory
from tests.padded_mp4 import padded_mp4
from videoforge.client.edge import EdgeClient
from videoforge.platform.keys import ensure_local_secrets
from videoforge.platform.ports import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.big_upload, pytest.mark.timeout(900)]
MIB = 1024 * 1024
GIB = 1024 * MIB
SIZE = 10 * GIB
MIN_PART = 5 * MIB  # S3's smallest part but the last
COPY_BYTES = GIB  # each middle part is a server-side copy of a zero-filled object this large


@pytest.fixture(scope="module")
def platform_without_transcodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    """At its default upload sizes, and confirming without starting a transcode of 10 GiB."""
    settings = {"MULTIPART_THRESHOLD_BYTES": str(5 * GIB), "MULTIPART_PART_BYTES": str(16 * MIB)}
    running = start_platform(
        tmp_path_factory.mktemp("vf-big"), free_port(), environment={**settings, "AUTO_TRANSCODE": "false"}
    )
    try:
        yield running
    finally:
        stop_platform(running.process)


def store_client(platform: RunningPlatform) -> tuple[BaseClient, str]:
    """The platform's bucket through S3's own API, to build the object with server-side copies."""
    gallery = platform.children_running("serve", "gallery")[0].environ()
    credentials = ensure_local_secrets(platform.data_dir).s3
    client = boto3.client(
        "s3",
        endpoint_url=gallery["S3_ENDPOINT_URL"],
        region_name=gallery.get("S3_REGION", "us-east-1"),
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    return client, gallery["S3_BUCKET"]


def build_parts(s3: BaseClient, bucket: str, key: str, upload_id: str, clip: Path) -> list[dict[str, Any]]:
    """Uploads `clip` grown to SIZE bytes, index at the end, as parts of the open upload; returns the parts."""
    mp4 = padded_mp4(clip, SIZE)
    zeros_key = f"{key}.zeros"
    s3.put_object(Bucket=bucket, Key=zeros_key, Body=bytes(COPY_BYTES))
    parts: list[dict[str, Any]] = []

    def sent(reply: dict[str, Any]) -> None:
        etag = reply.get("ETag") or reply["CopyPartResult"]["ETag"]
        parts.append({"partNumber": len(parts) + 1, "etag": etag.strip('"')})

    head = mp4.head + bytes(max(MIN_PART - len(mp4.head), 0))  # the MP4's head (samples too), then zeros
    sent(s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=1, Body=head))
    left = mp4.padding - (len(head) - len(mp4.head))
    while left:
        step = min(COPY_BYTES, left)
        copied = s3.upload_part_copy(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=len(parts) + 1,
            CopySource={"Bucket": bucket, "Key": zeros_key},
            CopySourceRange=f"bytes=0-{step - 1}",
        )
        sent(copied)
        left -= step
    sent(s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=len(parts) + 1, Body=mp4.tail))
    s3.delete_object(Bucket=bucket, Key=zeros_key)
    return parts


async def test_a_10_gib_upload_is_confirmed_within_2_s(
    platform_without_transcodes: RunningPlatform, media_factory: MediaFactory
) -> None:
    platform = platform_without_transcodes
    client = EdgeClient(platform.url)
    client.register(f"big-{uuid.uuid4().hex[:8]}@example.com", "big-upload-pass-1")
    grant = client.request(
        "POST",
        "/api/upload/url",
        json={"filename": "ten.mp4", "contentType": "video/mp4", "size": SIZE, "multipart": True},
    )
    s3, bucket = store_client(platform)
    parts = build_parts(
        s3, bucket, grant["s3Key"], grant["multipart"]["uploadId"], await media_factory.hd_with_audio(3)
    )
    client.request(
        "POST",
        "/api/upload/complete",
        json={"s3Key": grant["s3Key"], "uploadId": grant["multipart"]["uploadId"], "parts": parts},
    )
    assert s3.head_object(Bucket=bucket, Key=grant["s3Key"])["ContentLength"] == SIZE

    started = time.monotonic()
    video = client.request("POST", "/api/upload/confirm", json={"s3Key": grant["s3Key"], "title": "Ten GiB"})
    seconds = time.monotonic() - started

    print(f"confirm of a {SIZE} B object answered in {seconds:.3f} s")
    assert seconds < 2.0
    assert (video["duration"], video["resolution"], video["fileSize"]) == (3.0, "1920x1080", SIZE)
