"""Chunk planning: whole GOPs, every frame in exactly one chunk, two warm-up GOPs before every chunk but the first,
the concat lists that drop those warm-ups, and which sources are chunked at all."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import pytest

from tests.fakes.blobs import InMemoryBlobStore
from tests.fakes.queue import InMemoryJobQueue
from videoforge.media_model import EncodingOptions
from videoforge.transcoder.adapters.ffmpeg import FfmpegEncoder
from videoforge.transcoder.chunked import ChunkedAttempt, Chunking
from videoforge.transcoder.domain.chunks import (
    ChunkPlan,
    chunk_message_id,
    join_list,
    plan_chunks,
    worth_chunking,
)
from videoforge.transcoder.domain.ladder import Rung
from videoforge.transcoder.domain.media import MediaInfo
from videoforge.transcoder.domain.ports import Attempt
from videoforge.transcoder.domain.presentation import PresentationLayout

RUNGS = [
    Rung("720p", 1280, 720, 2800, 4200, 5600, gop_frames=60),
    Rung("360p", 640, 360, 800, 1200, 1600, gop_frames=60),
]

SOURCE = MediaInfo("mov,mp4", 120.0, 1280, 720, Fraction(30), "h264")


def covered_frames(plan: ChunkPlan, total: int) -> list[int]:
    frames: list[int] = []
    for chunk in plan.chunks:
        end = chunk.start_frame + chunk.frames if chunk.frames else total
        frames.extend(range(chunk.start_frame, end))
    return frames


def test_chunks_start_on_gop_boundaries_and_cover_every_frame_once() -> None:
    plan = plan_chunks(RUNGS, Fraction(30), 120.0, chunk_seconds=30)
    assert len(plan.chunks) == 4
    assert all(chunk.start_frame % 60 == 0 for chunk in plan.chunks)
    assert covered_frames(plan, 3600) == list(range(3600))
    assert plan.chunks[-1].frames == 0, "the last chunk runs to the end, whatever the probe's rounding"


@pytest.mark.parametrize(("rate", "seconds", "chunk_seconds"), [(30, 120.0, 60), (30, 120.0, 30), (25, 3600.0, 60)])
def test_every_chunk_encodes_about_as_much_warm_up_included(rate: int, seconds: float, chunk_seconds: float) -> None:
    rungs = [replace(rung, gop_frames=2 * rate) for rung in RUNGS]
    plan = plan_chunks(rungs, Fraction(rate), seconds, chunk_seconds)
    encodes = [plan.encode_seconds(chunk) for chunk in plan.chunks]
    assert max(encodes) - min(encodes) <= 2.0, encodes  # one GOP of rounding
    assert plan.chunks[0].frames > plan.chunks[1].frames, "the first chunk, with no warm-up, runs longer"


def test_a_short_tail_is_shared_out() -> None:
    plan = plan_chunks(RUNGS, Fraction(30), 65.0, chunk_seconds=30)
    assert [plan.encode_seconds(chunk) for chunk in plan.chunks] == pytest.approx([34.0, 35.0])


def test_chunks_too_short_to_balance_are_cut_evenly() -> None:
    plan = plan_chunks(RUNGS, Fraction(30), 6.0, chunk_seconds=2)
    assert [chunk.start_frame for chunk in plan.chunks] == [0, 60, 120]


def test_every_chunk_but_the_first_is_encoded_from_two_gops_earlier() -> None:
    plan = plan_chunks([replace(rung, gop_frames=50) for rung in RUNGS], Fraction(25), 100.0, chunk_seconds=20)
    first, *later = plan.chunks
    assert (first.warmup_frames, first.encode_start_frame, first.encode_frames) == (0, 0, first.frames)
    for chunk in later:
        assert chunk.warmup_frames == 100 and chunk.encode_start_frame == chunk.start_frame - 100


def test_the_join_list_starts_each_later_chunk_past_its_warm_up() -> None:
    plan = plan_chunks(RUNGS, Fraction(30000, 1001), 30.0, chunk_seconds=10)
    assert join_list(plan, "360p").splitlines() == [
        "ffconcat version 1.0",
        "file c0000/360p.mp4",
        "file c0001/360p.mp4",
        "inpoint 4004000us",
        "file c0002/360p.mp4",
        "inpoint 4004000us",
    ]


def test_a_plan_survives_its_json_form() -> None:
    plan = plan_chunks([replace(rung, gop_frames=48) for rung in RUNGS], Fraction(24000, 1001), 90.0, chunk_seconds=20)
    assert ChunkPlan.from_json(plan.to_json()) == plan


def test_rungs_with_different_gops_cannot_be_chunked() -> None:
    with pytest.raises(ValueError, match="GOP"):
        plan_chunks([RUNGS[0], replace(RUNGS[1], gop_frames=48)], Fraction(24), 60.0, chunk_seconds=20)


def test_chunk_messages_are_keyed_by_job_attempt_and_chunk() -> None:
    plan = plan_chunks(RUNGS, Fraction(30), 60.0, chunk_seconds=20)
    assert chunk_message_id("j1", 2, plan.chunks[1]) == "j1.2.c0001"


@pytest.mark.parametrize(
    ("duration", "threshold", "chunked"), [(300.0, 240.0, True), (200.0, 240.0, False), (3600.0, 0.0, False)]
)
def test_only_sources_past_the_threshold_are_chunked(duration: float, threshold: float, chunked: bool) -> None:
    assert worth_chunking(duration, threshold) is chunked


@pytest.mark.parametrize(
    ("changed", "options", "chunked"),
    [
        ({}, EncodingOptions(), True),
        ({"duration_seconds": 60.0}, EncodingOptions(), False),
        ({"variable_frame_rate": True}, EncodingOptions(), False),
        ({"color_transfer": "smpte2084"}, EncodingOptions(), False),
        ({}, EncodingOptions(codecs=("h264", "av1")), False),
        ({}, EncodingOptions(protection="clearkey"), False),
    ],
)
def test_only_long_plain_h264_sdr_constant_rate_sources_are_chunked(
    changed: dict[str, object], options: EncodingOptions, chunked: bool
) -> None:
    info = replace(SOURCE, **changed)  # type: ignore[arg-type]
    attempt = Attempt("j1", "v1", 1, "uploads/u1/a/source", ["360p"])
    chunking = Chunking(FfmpegEncoder(), min_source_seconds=90, chunk_seconds=60)
    coordinator = ChunkedAttempt(chunking, InMemoryJobQueue(), InMemoryBlobStore(), attempt)
    layout = PresentationLayout.for_ladder(RUNGS, ())
    assert coordinator.applies(info, layout, options) is chunked
