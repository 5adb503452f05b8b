"""Uploads through the edge, bounded and compatible: the documented single PUT past 64 MiB, parts on request
each signed for its exact length, short-lived URLs, a storage quota, a confirm that answers within 2 s because
the probe reads only what it needs (the index at the end of an MP4 included), and abandoned uploads swept."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.fixtures.platform import RunningPlatform, start_platform, stop_platform
from tests.media_factory import MediaFactory
from tests.padded_mp4 import PaddedMp4, padded_mp4
from videoforge.client.edge import ApiError, EdgeClient
from videoforge.platform.ports import free_port

pytestmark = pytest.mark.e2e
PASSWORD = "upload-bounds-pass-1"
MIB = 1024 * 1024
GIB = 1024 * MIB
CONFIRM_SECONDS = 2.0


def signed_up(platform: RunningPlatform) -> EdgeClient:
    client = EdgeClient(platform.url)
    client.register(f"uploader-{uuid.uuid4().hex[:8]}@example.com", PASSWORD)
    return client


def expires_seconds(url: str) -> int:
    return int(parse_qs(urlsplit(url).query)["X-Amz-Expires"][0])


def timed_confirm(client: EdgeClient, key: str) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    video = client.request("POST", "/api/upload/confirm", json={"s3Key": key, "title": "Large upload"})
    return video, time.monotonic() - started


def put_parts(grant: dict[str, Any], file: PaddedMp4) -> list[dict[str, Any]]:
    body = b"".join(file.chunks())
    done, offset = [], 0
    for part in grant["multipart"]["parts"]:
        length = min(int(grant["multipart"]["partSize"]), len(body) - offset)
        reply = httpx.put(part["uploadUrl"], content=body[offset : offset + length], timeout=60)
        assert reply.status_code == 200, reply.text
        done.append({"partNumber": part["partNumber"], "etag": reply.headers["etag"].strip('"')})
        offset += length
    return done


@pytest.fixture(scope="module")
async def clip(media_factory: MediaFactory) -> Path:
    return await media_factory.hd_with_audio(3)


def test_the_documented_single_put_takes_a_file_over_64_mib_and_the_confirm_reads_its_end_within_2_s(
    platform: RunningPlatform, clip: Path
) -> None:
    client = signed_up(platform)
    # 160 MiB whose index (moov) is at the very end: the probe must seek there with a ranged read.
    large = padded_mp4(clip, 160 * MIB)
    grant = client.request(
        "POST", "/api/upload/generate-url", json={"filename": "camera.mp4", "contentType": "video/mp4"}
    )
    assert grant["uploadUrl"] and "multipart" not in grant
    assert 0 < grant["expiresIn"] <= 900 and expires_seconds(grant["uploadUrl"]) <= 900

    put = httpx.put(grant["uploadUrl"], content=large.chunks(), headers={"Content-Type": "video/mp4"}, timeout=120)
    assert put.status_code == 200, put.text
    video, seconds = timed_confirm(client, grant["s3Key"])

    assert seconds < CONFIRM_SECONDS
    assert (video["duration"], video["resolution"], video["fileSize"]) == (3.0, "1920x1080", large.size)
    client.request("DELETE", f"/api/gallery/videos/{video['id']}")  # its transcode is not what this is about


def test_parts_asked_for_are_each_signed_for_their_exact_length(platform: RunningPlatform, clip: Path) -> None:
    client = signed_up(platform)
    small = padded_mp4(clip, 12 * MIB)
    grant = client.request(
        "POST",
        "/api/upload/url",
        json={"filename": "clip.mp4", "contentType": "video/mp4", "size": small.size, "multipart": True},
    )
    parts = grant["multipart"]["parts"]
    assert not grant.get("uploadUrl") and len(parts) == 3  # 5 + 5 + 2 MiB with the test platform's part size
    assert all(expires_seconds(part["uploadUrl"]) <= 900 for part in parts)

    longer = httpx.put(parts[0]["uploadUrl"], content=bytes(6 * MIB), timeout=60)
    shorter = httpx.put(parts[2]["uploadUrl"], content=bytes(1 * MIB), timeout=60)
    assert (longer.status_code, shorter.status_code) == (403, 403)

    done = put_parts(grant, small)
    client.request(
        "POST",
        "/api/upload/complete",
        json={"s3Key": grant["s3Key"], "uploadId": grant["multipart"]["uploadId"], "parts": done},
    )
    video, seconds = timed_confirm(client, grant["s3Key"])
    assert seconds < CONFIRM_SECONDS and video["duration"] == 3.0
    client.request("DELETE", f"/api/gallery/videos/{video['id']}")


def test_parts_need_the_file_size(platform: RunningPlatform) -> None:
    client = signed_up(platform)
    with pytest.raises(ApiError) as refused:
        client.request(
            "POST", "/api/upload/url", json={"filename": "a.mp4", "contentType": "video/mp4", "multipart": True}
        )
    assert refused.value.status == 400 and "size" in refused.value.message


def test_an_upload_past_the_storage_quota_is_refused_with_what_to_do(platform: RunningPlatform) -> None:
    client = signed_up(platform)
    body = {"filename": "long.mp4", "contentType": "video/mp4", "size": 10 * GIB}
    client.request("POST", "/api/upload/url", json=body)  # the test platform's quota is 12 GiB

    with pytest.raises(ApiError) as refused:
        client.request("POST", "/api/upload/url", json={**body, "size": 3 * GIB})

    assert refused.value.status == 429 and refused.value.reason == "STORAGE_QUOTA_EXCEEDED"
    assert "quota" in refused.value.message and "delete videos" in refused.value.message


@pytest.fixture(scope="module")
def sweeping_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    """A platform at its default upload sizes that forgets unconfirmed uploads after seconds, not a day."""
    settings = {
        "MULTIPART_THRESHOLD_BYTES": str(5 * GIB),
        "MULTIPART_PART_BYTES": str(16 * MIB),
        "UPLOAD_ABANDON_SECONDS": "4",
        "UPLOAD_SWEEP_SECONDS": "1",
        "AUTO_TRANSCODE": "false",
    }
    running = start_platform(tmp_path_factory.mktemp("vf-sweep"), free_port(), environment=settings)
    try:
        yield running
    finally:
        stop_platform(running.process)


def test_one_put_up_to_5_gib_and_parts_above(sweeping_platform: RunningPlatform) -> None:
    client = signed_up(sweeping_platform)
    body = {"filename": "long.mp4", "contentType": "video/mp4"}

    whole = client.request("POST", "/api/upload/generate-url", json={**body, "size": 5 * GIB})
    parts = client.request("POST", "/api/upload/generate-url", json={**body, "size": 5 * GIB + 1})

    assert whole["uploadUrl"] and "multipart" not in whole
    assert not parts.get("uploadUrl") and len(parts["multipart"]["parts"]) == 5 * 64 + 1
    # The single PUT is signed for the declared length: a body of another length is refused.
    wrong = httpx.put(whole["uploadUrl"], content=b"not five gibibytes", headers=whole["headers"], timeout=30)
    assert wrong.status_code == 403


async def test_uploads_never_confirmed_and_open_multipart_uploads_are_swept(
    sweeping_platform: RunningPlatform,
) -> None:
    client = signed_up(sweeping_platform)
    store = sweeping_platform.blob_store()
    single = client.request("POST", "/api/upload/generate-url", json={"filename": "a.mp4", "contentType": "video/mp4"})
    assert httpx.put(single["uploadUrl"], content=b"\0" * 1000, headers=single["headers"]).status_code == 200
    parts = client.request(
        "POST",
        "/api/upload/url",
        json={"filename": "b.mp4", "contentType": "video/mp4", "size": 6 * MIB, "multipart": True},
    )
    first = parts["multipart"]["parts"][0]
    assert httpx.put(first["uploadUrl"], content=bytes(6 * MIB), timeout=60).status_code == 200

    async def swept() -> bool:
        open_keys = {u.key for u in await store.open_multipart_uploads("uploads/")}
        return await store.head(single["s3Key"]) is None and parts["s3Key"] not in open_keys

    deadline = time.monotonic() + 30
    while not await swept():
        assert time.monotonic() < deadline, "the sweep left the abandoned uploads"
        await asyncio.sleep(0.5)
    with pytest.raises(ApiError) as gone:
        client.request("POST", "/api/upload/confirm", json={"s3Key": single["s3Key"], "title": "Too late"})
    assert gone.value.status == 404
