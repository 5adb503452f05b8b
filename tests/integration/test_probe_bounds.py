"""ProbeMedia over gRPC with the object in a real S3 store: it reads the object where it lies (the first bytes, then
ranges, an index at the end included), never a copy; probes at once are bounded, and one that waits too long for
a slot is told to come back rather than queued."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from tests.fixtures.mesh_pki import MeshPki
from tests.media_factory import MediaFactory
from tests.padded_mp4 import padded_mp4
from videoforge.kit.mesh_tls import GALLERY, TRANSCODER
from videoforge.kit.server import ServiceBinding, create_server
from videoforge.platform.ports import free_port
from videoforge.storage.s3 import S3BlobStore
from videoforge.transcoder.adapters.ffmpeg import FfmpegEncoder
from videoforge.transcoder.domain.media import MediaLimits
from videoforge.transcoder.entrypoints.grpc_servicer import ProbeBounds, TranscoderServicer
from videoforge.transcoder.v1 import transcoder_pb2, transcoder_pb2_grpc

MIB = 1024 * 1024


class HeldStore(S3BlobStore):
    """The real store, whose first-bytes reads wait until released: a probe that holds its slot."""

    release: asyncio.Event

    async def read_prefix(self, key: str, length: int) -> bytes:
        await self.release.wait()
        return await super().read_prefix(key, length)


@pytest.fixture
async def held_store(blob_store: S3BlobStore) -> HeldStore:
    store = HeldStore.__new__(HeldStore)
    store.__dict__.update(blob_store.__dict__)
    store.release = asyncio.Event()
    return store


async def serve(
    servicer: TranscoderServicer, mesh_pki: MeshPki
) -> AsyncIterator[transcoder_pb2_grpc.TranscoderServiceStub]:
    binding = ServiceBinding(lambda s: transcoder_pb2_grpc.add_TranscoderServiceServicer_to_server(servicer, s), [])
    running = await create_server("127.0.0.1:0", [binding], verifier=None, credentials=mesh_pki.credentials(TRANSCODER))
    try:
        async with mesh_pki.aio_channel(f"127.0.0.1:{running.port}", server=TRANSCODER, caller=GALLERY) as channel:
            yield transcoder_pb2_grpc.TranscoderServiceStub(channel)
    finally:
        await running.stop(0)


async def test_an_mp4_indexed_at_its_end_is_probed_from_ranges_without_a_copy(
    blob_store: S3BlobStore, media_factory: MediaFactory, mesh_pki: MeshPki, tmp_path: Path
) -> None:
    large = padded_mp4(await media_factory.hd_with_audio(3), 64 * MIB)
    path = tmp_path / "large.mp4"
    path.write_bytes(b"".join(large.chunks()))
    key = f"uploads/u1/{uuid.uuid4().hex}/source"
    await blob_store.upload_file(path, key, "video/mp4")

    async for stub in serve(TranscoderServicer(blob_store, FfmpegEncoder(), MediaLimits()), mesh_pki):
        media = await stub.ProbeMedia(transcoder_pb2.ProbeMediaRequest(source_key=key))

    assert (media.width, media.height, media.duration_seconds, media.size_bytes) == (1920, 1080, 3.0, large.size)


async def test_a_probe_past_the_concurrency_bound_is_answered_unavailable(
    held_store: HeldStore, media_factory: MediaFactory, mesh_pki: MeshPki
) -> None:
    key = f"uploads/u1/{uuid.uuid4().hex}/source"
    await held_store.upload_file(await media_factory.tiny(), key, "video/mp4")
    bounds = ProbeBounds(concurrency=1, queue_seconds=0.2)

    async for stub in serve(TranscoderServicer(held_store, FfmpegEncoder(), MediaLimits(), bounds), mesh_pki):
        request = transcoder_pb2.ProbeMediaRequest(source_key=key)
        holding = asyncio.ensure_future(stub.ProbeMedia(request))
        await asyncio.sleep(0.2)  # the first probe has its slot and waits on the store
        with pytest.raises(grpc.aio.AioRpcError) as busy:
            await stub.ProbeMedia(request)
        held_store.release.set()
        await holding

    assert busy.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "confirm again" in (busy.value.details() or "")


class UnreachableStore(S3BlobStore):
    """The real store, whose read URLs point where nothing listens: the store failing in the middle of a probe."""

    async def presign_internal_get(self, key: str, *, expires: int) -> str:
        url = await super().presign_internal_get(key, expires=expires)
        return url.replace(url.split("/")[2], f"127.0.0.1:{free_port()}", 1)


async def test_a_store_that_fails_mid_probe_is_answered_unavailable_not_blamed_on_the_file(
    blob_store: S3BlobStore, media_factory: MediaFactory, mesh_pki: MeshPki
) -> None:
    key = f"uploads/u1/{uuid.uuid4().hex}/source"
    await blob_store.upload_file(await media_factory.tiny(), key, "video/mp4")
    store = UnreachableStore.__new__(UnreachableStore)
    store.__dict__.update(blob_store.__dict__)

    async for stub in serve(TranscoderServicer(store, FfmpegEncoder(), MediaLimits()), mesh_pki):
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await stub.ProbeMedia(transcoder_pb2.ProbeMediaRequest(source_key=key))

    assert failed.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "confirm again" in (failed.value.details() or "") and "127.0.0.1" not in (failed.value.details() or "")
