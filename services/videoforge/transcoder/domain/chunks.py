"""Chunked encoding's plan: a long source cut into spans that workers encode apart, then joined without a seam.

Every chunk starts on a multiple of the GOP, so its first frame is a keyframe of every rung, as it would have
been in one encode: the joined renditions cut into the same 2 s segments. Each chunk after the first is
encoded from WARMUP_GOPS earlier (its warm-up) and those GOPs are dropped when joining: x264's rate control
starts cold, and the first keyframes of an encode come out up to 5 dB worse than those of a running one.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any

from videoforge.transcoder.domain.ladder import Rung

# Measured on noisy 480p30 (tests/integration/test_chunked_encoding.py): after one GOP a chunk's keyframes were
# still 5 dB below those of one encode; after two they matched within 0.1 dB.
WARMUP_GOPS = 2
# The `kind` of a queue message that asks for one chunk of an attempt (a job's own message has none).
CHUNK_KIND = "chunk"


@dataclass(frozen=True, slots=True)
class Chunk:
    """Frames [start_frame, start_frame + frames) of the source; `frames` 0: to the end of the source."""

    index: int
    start_frame: int
    frames: int
    warmup_frames: int

    @property
    def name(self) -> str:
        return f"c{self.index:04d}"

    @property
    def encode_start_frame(self) -> int:
        return self.start_frame - self.warmup_frames

    @property
    def encode_frames(self) -> int:
        """Frames the chunk's encode writes, its warm-up included; 0: to the end of the source."""
        return self.frames + self.warmup_frames if self.frames else 0


@dataclass(frozen=True, slots=True)
class ChunkPlan:
    """How one attempt's ladder is split: the rungs every chunk encodes, and the chunks in order."""

    rungs: tuple[Rung, ...]
    frame_rate: Fraction
    duration_seconds: float
    chunks: tuple[Chunk, ...]

    def seconds(self, frames: int) -> float:
        return float(frames / self.frame_rate)

    def encode_seconds(self, chunk: Chunk) -> float:
        """The media seconds a chunk's encode writes, its warm-up included."""
        if chunk.encode_frames:
            return self.seconds(chunk.encode_frames)
        return self.duration_seconds - self.seconds(chunk.encode_start_frame)

    def to_json(self) -> dict[str, Any]:
        return {
            "rungs": [asdict(rung) for rung in self.rungs],
            "frame_rate": str(self.frame_rate),
            "duration_seconds": self.duration_seconds,
            "chunks": [asdict(chunk) for chunk in self.chunks],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChunkPlan:
        return cls(
            rungs=tuple(Rung(**rung) for rung in data["rungs"]),
            frame_rate=Fraction(data["frame_rate"]),
            duration_seconds=float(data["duration_seconds"]),
            chunks=tuple(Chunk(**chunk) for chunk in data["chunks"]),
        )


def plan_chunks(rungs: list[Rung], frame_rate: Fraction, duration_seconds: float, chunk_seconds: float) -> ChunkPlan:
    """About one chunk per `chunk_seconds` (whole GOPs, at least one), the last one running to the end of the
    source; a tail shorter than half a chunk is shared out rather than made a chunk of its own."""
    gop = rungs[0].gop_frames
    if any(rung.gop_frames != gop for rung in rungs):
        raise ValueError("every rung must share one GOP for chunk boundaries to be keyframes of all of them")
    chunk_frames = gop * max(1, round(chunk_seconds * frame_rate / gop))
    total_frames = math.floor(duration_seconds * frame_rate)
    count = max(1, round(total_frames / chunk_frames))
    warmup = WARMUP_GOPS * gop
    starts = _balanced_starts(total_frames, count, gop, warmup) or [i * chunk_frames for i in range(count)]
    ends = [*starts[1:], 0]
    chunks = tuple(
        Chunk(index=i, start_frame=start, frames=end - start if end else 0, warmup_frames=min(start, warmup))
        for i, (start, end) in enumerate(zip(starts, ends, strict=True))
    )
    return ChunkPlan(tuple(rungs), frame_rate, duration_seconds, chunks)


def _balanced_starts(total_frames: int, count: int, gop: int, warmup: int) -> list[int] | None:
    """Starts (whole GOPs) that give every chunk about the same frames to encode, warm-up included: the first
    chunk, which has none, runs longer by it, so no worker is left to finish a heavier chunk alone. None where
    rounding to GOPs would leave a chunk under one GOP."""
    share = (total_frames + (count - 1) * warmup) / count
    starts = [0, *(gop * round((i * share - (i - 1) * warmup) / gop) for i in range(1, count))]
    if any(later - earlier < gop for earlier, later in itertools.pairwise([*starts, total_frames])):
        return None
    return starts


def join_list(plan: ChunkPlan, rung_name: str) -> str:
    """The concat demuxer's list joining one rung's chunks (`{chunk}/{rung}.mp4`), each from the keyframe past its
    warm-up, so the joined timestamps run on without a gap or a repeat. The in-point is rounded up to the
    microsecond: the demuxer starts at the keyframe at or before it, which must be the warm-up's end."""
    lines = ["ffconcat version 1.0"]
    for chunk in plan.chunks:
        lines.append(f"file {chunk.name}/{rung_name}.mp4")
        if chunk.warmup_frames:
            microseconds = math.ceil(chunk.warmup_frames * 1_000_000 / plan.frame_rate)
            lines.append(f"inpoint {microseconds}us")
    return "\n".join(lines) + "\n"


def chunk_message_id(job_id: str, attempt: int, chunk: Chunk) -> str:
    """The queue key of one chunk of one attempt: a chunk enqueued twice stays one message."""
    return f"{job_id}.{attempt}.{chunk.name}"


def worth_chunking(duration_seconds: float, min_seconds: float) -> bool:
    """Below `min_seconds` (0: never chunk) splitting, joining and queueing cost more than sharing the encode
    saves."""
    return min_seconds > 0 and duration_seconds >= min_seconds
