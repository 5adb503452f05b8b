"""The hostile-media corpus through the transcoder's ProbeMedia, the call an upload's confirm makes, over gRPC
with the file in a real S3 store; the legitimate files then through the whole transcode.

Run with ``-p tests.fixtures.media -p tests.fixtures.s3``.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from tests.fixtures.mesh_pki import MeshPki
from tests.hostile_corpus import CASES, HostileCase
from tests.media_factory import MediaFactory
from videoforge.kit.mesh_tls import GALLERY, TRANSCODER
from videoforge.kit.server import ServiceBinding, create_server
from videoforge.storage.s3 import S3BlobStore
from videoforge.transcoder.adapters.ffmpeg import FfmpegEncoder
from videoforge.transcoder.domain.media import MediaLimits
from videoforge.transcoder.entrypoints.grpc_servicer import TranscoderServicer
from videoforge.transcoder.pipeline import MediaPipeline
from videoforge.transcoder.v1 import transcoder_pb2, transcoder_pb2_grpc

pytestmark = pytest.mark.timeout(120)
LEGITIMATE = [case for case in CASES if case.legitimate]


@pytest.fixture
async def transcoder(
    blob_store: S3BlobStore, tmp_path: Path, mesh_pki: MeshPki
) -> AsyncIterator[transcoder_pb2_grpc.TranscoderServiceStub]:
    servicer = TranscoderServicer(blob_store, FfmpegEncoder(), MediaLimits())
    binding = ServiceBinding(lambda s: transcoder_pb2_grpc.add_TranscoderServiceServicer_to_server(servicer, s), [])
    running = await create_server("127.0.0.1:0", [binding], verifier=None, credentials=mesh_pki.credentials(TRANSCODER))
    try:
        async with mesh_pki.aio_channel(f"127.0.0.1:{running.port}", server=TRANSCODER, caller=GALLERY) as channel:
            yield transcoder_pb2_grpc.TranscoderServiceStub(channel)
    finally:
        await running.stop(0)


async def _made(case: HostileCase, media_factory: MediaFactory) -> Path:
    folder = Path(tempfile.mkdtemp(dir=media_factory.root))
    return await case.make(media_factory, folder / case.filename)


def test_the_corpus_covers_every_kind_of_hostile_file() -> None:
    assert len(CASES) >= 25
    assert len({case.name for case in CASES}) == len(CASES)
    assert len(LEGITIMATE) >= 4


async def test_every_file_of_the_corpus_is_refused_with_its_reason_or_probed(
    media_factory: MediaFactory, blob_store: S3BlobStore, transcoder: transcoder_pb2_grpc.TranscoderServiceStub
) -> None:
    answers: dict[str, str] = {}
    for case in CASES:
        key = f"uploads/corpus/{uuid.uuid4().hex}/source"
        await blob_store.upload_file(await _made(case, media_factory), key, "video/mp4")
        try:
            media = await transcoder.ProbeMedia(transcoder_pb2.ProbeMediaRequest(source_key=key))
            answers[case.name] = f"video {media.width}x{media.height}"
        except grpc.aio.AioRpcError as refusal:
            answers[case.name] = f"{refusal.code().name}: {refusal.details()}"

    expected = {
        case.name: f"INVALID_ARGUMENT: {case.refusal}" if case.refusal else "video 320x240"
        for case in CASES
        if case.name != "references in a free box"
    } | {"references in a free box": "video 176x144"}
    assert {name: answer[: len(expected[name])] for name, answer in answers.items()} == expected


@pytest.mark.parametrize("case", LEGITIMATE, ids=[case.name for case in LEGITIMATE])
async def test_legitimate_oddities_transcode_from_a_file_of_their_own_name(
    media_factory: MediaFactory, tmp_path: Path, case: HostileCase
) -> None:
    source = await _made(case, media_factory)
    pipeline = MediaPipeline(FfmpegEncoder(), MediaLimits())

    result = await pipeline.transcode(source, tmp_path, formats=[], on_progress=lambda _: None)

    kinds = {file.kind for file in result.files}
    assert {"HLS_MASTER", "DASH_MANIFEST", "POSTER", "MP4"} <= kinds
    assert (result.output_dir / "master.m3u8").read_text().startswith("#EXTM3U")
