"""A long source's ladder encoded in chunks that any worker claims from the queue, then joined and packaged once.

The attempt's own worker coordinates: it plans the chunks, stores the plan in the attempt's `chunks/` folder,
queues one message per chunk and encodes chunks itself from the last one backwards while other workers take
them from the first one onwards; each chunk's rung files go to the store, then a `done` mark. Once every chunk
is done it joins each rung's chunks by copying, encodes the audio over the whole source and packages once, as
one encode would have (same segments, same manifests); only then is the presentation published: a chunked
attempt does not play while it runs.

The plan is the attempt's say-so: a worker encodes a chunk only while the plan is stored, and the plan goes
with the attempt's folder when the attempt stops (cancelled, failed, fenced off: the job service discards
its objects), or with the chunk folder once the coordinator packaged. So chunks of a stopped attempt stop
within a few seconds, or are dropped when claimed. A chunk encoded twice writes the same keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from videoforge.media_model import EncodingOptions, attempt_prefix
from videoforge.queue.port import ClaimedJob, JobQueue
from videoforge.storage.port import BlobStore
from videoforge.transcoder.adapters.ffmpeg import FfmpegEncoder
from videoforge.transcoder.domain.chunks import (
    CHUNK_KIND,
    Chunk,
    ChunkPlan,
    chunk_message_id,
    join_list,
    plan_chunks,
    worth_chunking,
)
from videoforge.transcoder.domain.ladder import Rung
from videoforge.transcoder.domain.media import MediaInfo
from videoforge.transcoder.domain.ports import Attempt, ChunkedEncoding
from videoforge.transcoder.domain.presentation import PresentationLayout, PresentationSink, PresentationSnapshot
from videoforge.transcoder.live_presentation import finished_presentation

log = logging.getLogger(__name__)

COORDINATOR = "coordinator"
# How often a chunk's encode checks that its attempt still wants it, and a waiting coordinator looks for chunks.
WATCH_SECONDS = 2.0
POLL_SECONDS = 0.5
# A coordinator that saw no chunk finish for this many times its own slowest chunk encodes a missing one itself
# (its worker may have died; the lease's lapse would bring it back, but only after the lease).
STALL_FACTOR = 2.0
STALL_FLOOR_SECONDS = 10.0
# Logged for each chunk encoded (bench/chunked_bench.py reads these): the chunk, who, wall seconds, media seconds.
CHUNK_ENCODED = "chunk %s encoded by %s in %.2f s (%.2f s of media)"


@dataclass(frozen=True)
class Chunking:
    """A worker's part in chunked encoding: sources at least `min_source_seconds` long (0: none) are encoded in
    chunks of about `chunk_seconds`, by `encoder`."""

    encoder: FfmpegEncoder
    min_source_seconds: float
    chunk_seconds: float


class ChunkFolder:
    """One attempt's chunks in the store: the plan, then per chunk its rung files, a `taken` mark naming who
    encodes it, and a `done` mark written once all its files are stored."""

    def __init__(self, blobs: BlobStore, prefix: str) -> None:
        self._blobs = blobs
        self._root = prefix + "chunks/"

    @property
    def plan_key(self) -> str:
        return self._root + "plan.json"

    def file_key(self, chunk: Chunk, rung_name: str) -> str:
        return f"{self._root}{chunk.name}/{rung_name}.mp4"

    async def write_plan(self, plan: ChunkPlan, scratch: Path) -> None:
        path = scratch / "plan.json"
        await asyncio.to_thread(path.write_text, json.dumps(plan.to_json()))
        await self._blobs.upload_file(path, self.plan_key, "application/json")

    async def read_plan(self) -> ChunkPlan | None:
        """The plan; None once the attempt no longer wants its chunks."""
        if not await self.wanted():
            return None
        return ChunkPlan.from_json(json.loads(await self._blobs.read_bytes(self.plan_key, max_bytes=1 << 20)))

    async def wanted(self) -> bool:
        return await self._blobs.head(self.plan_key) is not None

    async def taker(self, chunk: Chunk) -> str | None:
        if await self._blobs.head(self._mark(chunk, "taken")) is None:
            return None
        return (await self._blobs.read_bytes(self._mark(chunk, "taken"), max_bytes=1024)).decode()

    async def take(self, chunk: Chunk, who: str, scratch: Path) -> None:
        await self._put_mark(chunk, "taken", who, scratch)

    async def done(self) -> set[str]:
        """The names of the chunks whose files are all stored: one listing, however many chunks."""
        marks = await self._blobs.list(self._root)
        return {info.key.removeprefix(self._root).split("/")[0] for info in marks if info.key.endswith("/done")}

    async def store(self, chunk: Chunk, files: dict[str, Path], scratch: Path) -> None:
        for rung_name, path in files.items():
            await self._blobs.upload_file(path, self.file_key(chunk, rung_name), "video/mp4")
        await self._put_mark(chunk, "done", "", scratch)

    async def fetch(self, chunk: Chunk, rung_name: str, path: Path) -> None:
        await self._blobs.download_file(self.file_key(chunk, rung_name), path)

    async def remove(self) -> None:
        """The chunks were joined: their files are of no more use, and late chunk messages find no plan."""
        await self._blobs.delete_prefix(self._root)

    def _mark(self, chunk: Chunk, mark: str) -> str:
        return f"{self._root}{chunk.name}/{mark}"

    async def _put_mark(self, chunk: Chunk, mark: str, content: str, scratch: Path) -> None:
        path = scratch / f"{chunk.name}.{mark}"
        await asyncio.to_thread(path.write_text, content)
        await self._blobs.upload_file(path, self._mark(chunk, mark), "text/plain")


class ChunkedAttempt(ChunkedEncoding):
    """The coordinator's side, for one attempt."""

    def __init__(
        self,
        chunking: Chunking,
        queue: JobQueue,
        blobs: BlobStore,
        attempt: Attempt,
    ) -> None:
        self._chunking, self._encoder, self._queue = chunking, chunking.encoder, queue
        self._attempt = attempt
        self._folder = ChunkFolder(blobs, attempt_prefix(attempt.video_id, attempt.job_id, attempt.number))
        self._slowest_chunk = 0.0

    def applies(self, info: MediaInfo, layout: PresentationLayout, options: EncodingOptions) -> bool:
        # H.264 alone and in the clear: chunks encode and the packaging copies H.264 rungs only. SDR at a constant
        # rate: a chunk's frames are stamped one frame apart, and its picture is the source's own.
        plain = options.codecs == ("h264",) and not options.protection and not layout.codec_rungs
        steady = not info.variable_frame_rate and info.hdr_transfer is None
        return plain and steady and worth_chunking(info.duration_seconds, self._chunking.min_source_seconds)

    async def encode(
        self,
        source: Path,
        info: MediaInfo,
        rungs: list[Rung],
        layout: PresentationLayout,
        out_dir: Path,
        *,
        on_progress: Callable[[float], None],
        sink: PresentationSink | None,
    ) -> PresentationSnapshot:
        plan = plan_chunks(rungs, info.frame_rate_fraction, info.duration_seconds, self._chunking.chunk_seconds)
        work = out_dir.parent / "chunks"
        await asyncio.to_thread(work.mkdir, parents=True, exist_ok=True)
        await self._folder.write_plan(plan, work)
        for chunk in plan.chunks:
            message = {
                "kind": CHUNK_KIND,
                "job_id": self._attempt.job_id,
                "video_id": self._attempt.video_id,
                "attempt": self._attempt.number,
                "input_source": self._attempt.input_source,
                "chunk": chunk.index,
            }
            await self._queue.enqueue(chunk_message_id(self._attempt.job_id, self._attempt.number, chunk), message)
        log.info("job %s attempt %d: %d chunks queued", self._attempt.job_id, self._attempt.number, len(plan.chunks))
        own = await self._encode_from_the_end(source, plan, work, on_progress)
        await self._wait_for_the_rest(source, plan, work, own, on_progress)
        joins = []
        for rung in plan.rungs:
            for chunk in plan.chunks:
                if chunk.index not in own:
                    await self._folder.fetch(chunk, rung.name, work / chunk.name / f"{rung.name}.mp4")
            join = work / f"{rung.name}.ffconcat"
            await asyncio.to_thread(join.write_text, join_list(plan, rung.name))
            joins.append(join)
        started = time.monotonic()
        await self._encoder.package_chunks(source, joins, layout, out_dir, rungs=rungs, duration=info.duration_seconds)
        log.info("job %s: chunks joined and packaged in %.2f s", self._attempt.job_id, time.monotonic() - started)
        await self._folder.remove()
        return await finished_presentation(layout, out_dir, rungs, sink)

    async def _encode_from_the_end(
        self, source: Path, plan: ChunkPlan, work: Path, on_progress: Callable[[float], None]
    ) -> set[int]:
        """Encodes the chunks no one took, last first, until it meets the workers coming from the first."""
        own: set[int] = set()
        for chunk in reversed(plan.chunks):
            if chunk.name in await self._folder.done() or await self._folder.taker(chunk) is not None:
                break
            await self._encode_own(source, plan, chunk, work)
            own.add(chunk.index)
            on_progress(len(own | await self._done_indexes(plan)) / len(plan.chunks))
        return own

    async def _wait_for_the_rest(
        self, source: Path, plan: ChunkPlan, work: Path, own: set[int], on_progress: Callable[[float], None]
    ) -> None:
        """Waits until every chunk is done; encodes one itself when none finished for a while."""
        stall = max(STALL_FLOOR_SECONDS, STALL_FACTOR * self._slowest_chunk)
        finished, since = -1, time.monotonic()
        while True:
            ready = own | await self._done_indexes(plan)
            missing = [chunk for chunk in plan.chunks if chunk.index not in ready]
            if not missing:
                return
            if len(ready) != finished:
                finished, since = len(ready), time.monotonic()
                on_progress(len(ready) / len(plan.chunks))
            elif time.monotonic() - since > stall:
                log.info(
                    "job %s: no chunk finished in %.0f s; encoding %s here",
                    self._attempt.job_id,
                    stall,
                    missing[0].name,
                )
                await self._encode_own(source, plan, missing[0], work)
                own.add(missing[0].index)
                continue
            await asyncio.sleep(POLL_SECONDS)

    async def _encode_own(self, source: Path, plan: ChunkPlan, chunk: Chunk, work: Path) -> None:
        """Marked taken first, so the workers that claim its message leave it; stored too, in case this
        coordinator dies and a later look at the folder wants it."""
        await self._folder.take(chunk, COORDINATOR, work)
        started = time.monotonic()
        files = await self._encoder.encode_chunk(source, plan, chunk, work / chunk.name)
        seconds = time.monotonic() - started
        self._slowest_chunk = max(self._slowest_chunk, seconds)
        await self._folder.store(chunk, files, work)
        log.info(CHUNK_ENCODED, chunk.name, COORDINATOR, seconds, plan.encode_seconds(chunk))

    async def _done_indexes(self, plan: ChunkPlan) -> set[int]:
        done = await self._folder.done()
        return {chunk.index for chunk in plan.chunks if chunk.name in done}


@dataclass(frozen=True)
class ChunkTask:
    """A chunk message's payload."""

    job_id: str
    video_id: str
    attempt: int
    input_source: str
    chunk: int

    @classmethod
    def from_payload(cls, payload: dict[str, object]) -> ChunkTask:
        return cls(
            job_id=str(payload["job_id"]),
            video_id=str(payload["video_id"]),
            attempt=int(str(payload["attempt"])),
            input_source=str(payload["input_source"]),
            chunk=int(str(payload["chunk"])),
        )


class ChunkRunner:
    """A worker's side: encodes the chunk a claimed message names, while its attempt still wants it."""

    def __init__(
        self,
        encoder: FfmpegEncoder,
        queue: JobQueue,
        blobs: BlobStore,
        *,
        worker_id: str,
        scratch: Path,
        lease_seconds: float,
    ) -> None:
        self._encoder, self._queue, self._blobs = encoder, queue, blobs
        self._worker_id, self._scratch, self._lease_seconds = worker_id, scratch, lease_seconds
        # The last source downloaded: a worker often takes several chunks of one source in a row.
        self._source: tuple[str, Path] | None = None

    async def handle(self, claim: ClaimedJob) -> None:
        task = ChunkTask.from_payload(claim.payload)
        folder = ChunkFolder(self._blobs, attempt_prefix(task.video_id, task.job_id, task.attempt))
        work = self._scratch / "chunks" / claim.job_id
        try:
            await asyncio.to_thread(work.mkdir, parents=True, exist_ok=True)
            if await self._encode(task, folder, claim, work):
                await self._queue.complete(claim)
        except Exception as error:
            log.warning("chunk %s failed", claim.job_id, exc_info=True)
            await self._queue.fail(
                claim, error=f"The chunk could not be encoded ({type(error).__name__}).", retryable=True
            )
        finally:
            await asyncio.to_thread(shutil.rmtree, work, True)

    async def _encode(self, task: ChunkTask, folder: ChunkFolder, claim: ClaimedJob, work: Path) -> bool:
        """Encodes and stores the chunk unless no one wants it; False when the message's lease was lost."""
        plan = await folder.read_plan()
        if plan is None:
            log.info("chunk %s dropped: its attempt no longer wants it", claim.job_id)
            return True
        chunk = plan.chunks[task.chunk]
        if chunk.name in await folder.done() or await folder.taker(chunk) == COORDINATOR:
            return True  # done, or the coordinator is on it (a coordinator that dies takes its attempt along)
        await folder.take(chunk, self._worker_id, work)
        source = await self._source_file(task.input_source)
        started = time.monotonic()
        encoding = asyncio.create_task(self._encoder.encode_chunk(source, plan, chunk, work / chunk.name))
        try:
            since_renew = 0.0
            while not encoding.done():
                await asyncio.wait({encoding}, timeout=WATCH_SECONDS)
                since_renew += WATCH_SECONDS
                if encoding.done():
                    break
                if since_renew >= self._lease_seconds / 3:
                    since_renew = 0.0
                    if not await self._queue.renew(claim, self._lease_seconds):
                        log.info("chunk %s: the lease was lost; stopping", claim.job_id)
                        return False
                if not await folder.wanted():
                    log.info("chunk %s stopped: its attempt no longer wants it", claim.job_id)
                    return True
            files = await encoding
        finally:
            if not encoding.done():
                encoding.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await encoding
        if await folder.wanted():
            await folder.store(chunk, files, work)
            seconds = time.monotonic() - started
            log.info(CHUNK_ENCODED, chunk.name, self._worker_id, seconds, plan.encode_seconds(chunk))
        return True

    async def _source_file(self, key: str) -> Path:
        if self._source is not None and self._source[0] == key:
            return self._source[1]
        folder = self._scratch / "chunk-source"
        await asyncio.to_thread(shutil.rmtree, folder, True)
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        path = folder / hashlib.sha256(key.encode()).hexdigest()[:16]
        self._source = None
        await self._blobs.download_file(key, path)
        self._source = (key, path)
        return path
