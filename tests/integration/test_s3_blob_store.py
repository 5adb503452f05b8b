"""S3BlobStore against a real S3 server (SeaweedFS): presigned uploads and downloads, multipart, cleanup."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.fixtures.s3 import S3Server
from videoforge.storage.port import BlobNotFound, BlobStoreError, BlobTooLarge, UploadedPart
from videoforge.storage.s3 import SINGLE_PUT_BYTES, S3BlobStore

MIB = 1024 * 1024


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
        yield client


async def test_presigned_put_with_the_signed_content_type_stores_the_object(
    blob_store: S3BlobStore, http: httpx.AsyncClient
) -> None:
    upload = await blob_store.presign_put("sources/u1/clip.mp4", "video/mp4", expires=60)

    response = await http.put(upload.url, content=b"\x00" * 1000, headers=upload.headers)

    assert response.status_code == 200
    info = await blob_store.head("sources/u1/clip.mp4")
    assert info is not None
    assert (info.size, info.content_type) == (1000, "video/mp4")


async def test_presigned_put_with_another_content_type_is_refused(
    blob_store: S3BlobStore, http: httpx.AsyncClient
) -> None:
    url, _ = await blob_store.presign_put("sources/u1/clip.mp4", "video/mp4", expires=60)

    response = await http.put(url, content=b"\x00" * 1000, headers={"Content-Type": "text/html"})

    assert response.status_code == 403
    assert await blob_store.head("sources/u1/clip.mp4") is None


async def test_presigned_put_signed_for_a_length_refuses_a_larger_body(
    blob_store: S3BlobStore, http: httpx.AsyncClient
) -> None:
    upload = await blob_store.presign_put("sources/u1/clip.mp4", "video/mp4", content_length=1000, expires=60)

    refused = await http.put(upload.url, content=b"\x00" * 5000, headers=upload.headers)
    accepted = await http.put(upload.url, content=b"\x00" * 1000, headers=upload.headers)

    assert (refused.status_code, accepted.status_code) == (403, 200)


async def test_multipart_upload_through_presigned_part_urls_assembles_the_whole_object(
    blob_store: S3BlobStore, http: httpx.AsyncClient
) -> None:
    key = "sources/u1/large.mp4"
    body = os.urandom(12 * MIB)
    chunks = [body[0 : 5 * MIB], body[5 * MIB : 10 * MIB], body[10 * MIB :]]
    upload_id = await blob_store.create_multipart(key, "video/mp4")

    parts = []
    for number, chunk in enumerate(chunks, start=1):
        url = await blob_store.presign_part(key, upload_id, number, expires=60, content_length=len(chunk))
        response = await http.put(url, content=chunk)
        assert response.status_code == 200
        parts.append(UploadedPart(number, response.headers["ETag"]))
    info = await blob_store.complete_multipart(key, upload_id, list(reversed(parts)))

    assert info.size == len(body)
    head = await blob_store.head(key)
    assert head is not None
    assert (head.size, head.content_type) == (len(body), "video/mp4")
    assert await blob_store.read_bytes(key) == body


async def test_a_part_url_refuses_a_body_of_another_length_than_it_was_signed_for(
    blob_store: S3BlobStore, http: httpx.AsyncClient
) -> None:
    key = "sources/u1/parts.mp4"
    upload_id = await blob_store.create_multipart(key, "video/mp4")
    url = await blob_store.presign_part(key, upload_id, 1, expires=60, content_length=5 * MIB)

    longer = await http.put(url, content=b"\x00" * (6 * MIB))
    shorter = await http.put(url, content=b"\x00" * (4 * MIB))
    exact = await http.put(url, content=b"\x00" * (5 * MIB))

    assert (longer.status_code, shorter.status_code, exact.status_code) == (403, 403, 200)


async def test_an_internal_read_url_serves_ranged_reads(blob_store: S3BlobStore, http: httpx.AsyncClient) -> None:
    body = bytes(range(256)) * 64
    upload = await blob_store.presign_put("sources/u1/ranged.mp4", "video/mp4", expires=60)
    assert (await http.put(upload.url, content=body, headers=upload.headers)).status_code == 200
    url = await blob_store.presign_internal_get("sources/u1/ranged.mp4", expires=60)

    tail = await http.get(url, headers={"Range": "bytes=16000-"})

    assert (tail.status_code, tail.content) == (206, body[16000:])


async def test_aborted_multipart_upload_leaves_no_object(blob_store: S3BlobStore, http: httpx.AsyncClient) -> None:
    key = "sources/u1/abandoned.mp4"
    upload_id = await blob_store.create_multipart(key, "video/mp4")
    url = await blob_store.presign_part(key, upload_id, 1, expires=60, content_length=5 * MIB)
    part = await http.put(url, content=os.urandom(5 * MIB))

    await blob_store.abort_multipart(key, upload_id)

    assert await blob_store.head(key) is None
    with pytest.raises(BlobStoreError):
        await blob_store.complete_multipart(key, upload_id, [UploadedPart(1, part.headers["ETag"])])
    await blob_store.abort_multipart(key, upload_id)  # a second abort changes nothing


async def test_presigned_get_serves_the_object_until_it_expires(
    blob_store: S3BlobStore, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    source = tmp_path / "poster.webp"
    source.write_bytes(b"RIFF....WEBP")
    await blob_store.upload_file(source, "media/v1/poster.webp", "image/webp")
    # SigV4 counts from the whole second it was signed in: 2 s leaves at least one to fetch in.
    url = await blob_store.presign_get("media/v1/poster.webp", expires=2)

    fresh = await http.get(url)
    await asyncio.sleep(3.5)
    stale = await http.get(url)

    assert (fresh.status_code, fresh.content, fresh.headers["Content-Type"]) == (200, b"RIFF....WEBP", "image/webp")
    assert stale.status_code == 403


async def test_presigned_get_with_a_filename_makes_browsers_save_under_that_name(
    blob_store: S3BlobStore, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    source = tmp_path / "720p.mp4"
    source.write_bytes(b"\x00" * 64)
    await blob_store.upload_file(source, "media/v1/downloads/720p.mp4", "video/mp4")

    url = await blob_store.presign_get("media/v1/downloads/720p.mp4", expires=60, filename="Sommer Fest 720p.mp4")
    response = await http.get(url)

    assert response.status_code == 200
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "Sommer%20Fest%20720p.mp4" in disposition


async def test_presigned_urls_point_at_the_public_endpoint_when_one_is_set(
    s3_server: S3Server, s3_bucket: str, http: httpx.AsyncClient
) -> None:
    public = s3_server.endpoint_url.replace("127.0.0.1", "localhost")
    store = s3_server.blob_store(s3_bucket, public_endpoint_url=public)
    await store.ensure_bucket()

    upload = await store.presign_put("sources/u1/clip.mp4", "video/mp4", expires=60)
    response = await http.put(upload.url, content=b"\x00" * 10, headers=upload.headers)

    assert urlsplit(upload.url).hostname == "localhost"
    assert response.status_code == 200


async def test_upload_dir_stores_every_file_under_the_prefix_with_its_media_type(
    blob_store: S3BlobStore, tmp_path: Path
) -> None:
    package = tmp_path / "package"
    (package / "720p").mkdir(parents=True)
    (package / "master.m3u8").write_text("#EXTM3U\n")
    (package / "manifest.mpd").write_text("<MPD/>")
    (package / "720p" / "init.mp4").write_bytes(b"\x00" * 100)
    for index in range(1, 21):
        (package / "720p" / f"segment-{index}.m4s").write_bytes(b"\x01" * index)

    keys = await blob_store.upload_dir(package, "media/v1/a1/")

    assert len(keys) == 23
    assert "media/v1/a1/720p/segment-7.m4s" in keys
    playlist = await blob_store.head("media/v1/a1/master.m3u8")
    manifest = await blob_store.head("media/v1/a1/manifest.mpd")
    segment = await blob_store.head("media/v1/a1/720p/segment-20.m4s")
    assert playlist is not None and playlist.content_type == "application/vnd.apple.mpegurl"
    assert manifest is not None and manifest.content_type == "application/dash+xml"
    assert segment is not None and (segment.size, segment.content_type) == (20, "video/iso.segment")


async def test_delete_prefix_returns_the_freed_bytes_and_leaves_nothing_under_it(
    blob_store: S3BlobStore, tmp_path: Path
) -> None:
    package = tmp_path / "package"
    (package / "480p").mkdir(parents=True)
    (package / "master.m3u8").write_bytes(b"a" * 10)
    (package / "480p" / "init.mp4").write_bytes(b"b" * 200)
    (package / "480p" / "segment-1.m4s").write_bytes(b"c" * 3000)
    await blob_store.upload_dir(package, "media/v1")
    await blob_store.upload_dir(package, "media/v2")

    freed = await blob_store.delete_prefix("media/v1/")

    assert freed == 3210
    assert await blob_store.list("media/v1/") == []
    assert await blob_store.total_size("media/v2/") == 3210


async def test_delete_prefix_refuses_to_empty_the_whole_bucket(blob_store: S3BlobStore) -> None:
    with pytest.raises(ValueError, match="non-empty prefix"):
        await blob_store.delete_prefix("")


@pytest.mark.parametrize("size", [SINGLE_PUT_BYTES, SINGLE_PUT_BYTES + 1], ids=["one-request", "in-parts"])
async def test_an_uploaded_file_is_stored_whole_with_its_content_type(
    blob_store: S3BlobStore, tmp_path: Path, size: int
) -> None:
    source = tmp_path / "1080p.mp4"
    data = os.urandom(size)
    source.write_bytes(data)

    await blob_store.upload_file(source, "media/v1/downloads/1080p.mp4", "video/mp4")

    info = await blob_store.head("media/v1/downloads/1080p.mp4")
    assert info is not None
    assert (info.size, info.content_type) == (size, "video/mp4")
    copy = tmp_path / "copy.mp4"
    await blob_store.download_file("media/v1/downloads/1080p.mp4", copy)
    assert copy.read_bytes() == data


async def test_total_size_sums_the_objects_under_a_prefix(blob_store: S3BlobStore, tmp_path: Path) -> None:
    for name, size in (("a.bin", 1000), ("b.bin", 2500)):
        (tmp_path / name).write_bytes(b"\x00" * size)
        await blob_store.upload_file(tmp_path / name, f"sources/u1/{name}", "application/octet-stream")
    (tmp_path / "c.bin").write_bytes(b"\x00" * 7)
    await blob_store.upload_file(tmp_path / "c.bin", "sources/u2/c.bin", "application/octet-stream")

    assert await blob_store.total_size("sources/u1/") == 3500
    assert await blob_store.total_size() == 3507
    assert [info.key for info in await blob_store.list("sources/")] == [
        "sources/u1/a.bin",
        "sources/u1/b.bin",
        "sources/u2/c.bin",
    ]


async def test_reads_are_bounded_and_a_range_read_returns_only_the_first_bytes(
    blob_store: S3BlobStore, tmp_path: Path
) -> None:
    source = tmp_path / "source.mp4"
    source.write_bytes(bytes(range(256)) * 40)
    await blob_store.upload_file(source, "sources/u1/source.mp4", "video/mp4")

    assert await blob_store.read_prefix("sources/u1/source.mp4", 16) == bytes(range(16))
    assert await blob_store.read_prefix("sources/u1/source.mp4", 1 << 20) == source.read_bytes()
    with pytest.raises(BlobTooLarge):
        await blob_store.read_bytes("sources/u1/source.mp4", max_bytes=1000)
    with pytest.raises(BlobNotFound):
        await blob_store.read_bytes("sources/u1/missing.mp4")


async def test_downloaded_file_matches_the_upload_and_a_missing_key_is_not_found(
    blob_store: S3BlobStore, tmp_path: Path
) -> None:
    source = tmp_path / "source.mp4"
    source.write_bytes(os.urandom(9 * MIB))  # large enough to travel in parts both ways
    await blob_store.upload_file(source, "sources/u1/source.mp4", "video/mp4")

    await blob_store.download_file("sources/u1/source.mp4", tmp_path / "copy" / "source.mp4")

    assert (tmp_path / "copy" / "source.mp4").read_bytes() == source.read_bytes()
    with pytest.raises(BlobNotFound):
        await blob_store.download_file("sources/u1/missing.mp4", tmp_path / "missing.mp4")


async def test_deleting_an_object_removes_it_and_deleting_again_is_harmless(
    blob_store: S3BlobStore, tmp_path: Path
) -> None:
    (tmp_path / "x.bin").write_bytes(b"x")
    await blob_store.upload_file(tmp_path / "x.bin", "sources/u1/x.bin", "application/octet-stream")

    await blob_store.delete("sources/u1/x.bin")
    await blob_store.delete("sources/u1/x.bin")

    assert await blob_store.head("sources/u1/x.bin") is None


async def test_an_object_made_of_parts_is_tagged_pending_until_it_is_kept(
    blob_store: S3BlobStore, http: httpx.AsyncClient
) -> None:
    key = "uploads/u1/parts/source"
    upload_id = await blob_store.create_multipart(key, "video/mp4")
    url = await blob_store.presign_part(key, upload_id, 1, expires=60, content_length=1000)
    part = await http.put(url, content=b"\x00" * 1000)
    await blob_store.complete_multipart(key, upload_id, [UploadedPart(1, part.headers["ETag"])])

    def tags() -> list[dict[str, str]]:
        return blob_store._client.get_object_tagging(Bucket=blob_store.bucket, Key=key)["TagSet"]

    pending = await asyncio.to_thread(tags)
    await blob_store.mark_kept(key)

    assert pending == [{"Key": "videoforge-upload", "Value": "pending"}]
    assert await asyncio.to_thread(tags) == []
