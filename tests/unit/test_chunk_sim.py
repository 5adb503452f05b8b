"""The chunked-encoding simulation: its schedule and break-even on costs simple enough to work out by hand."""

from __future__ import annotations

import pytest

from bench.chunk_sim import ChunkCosts, break_even_seconds, chunked_seconds, unchunked_seconds

ENCODE_ONLY = ChunkCosts(
    encode_per_second=1.0, package_per_second=0.0, chunk_overhead=0.0, rest_per_second=0.0, chunk_seconds=60
)


def test_two_workers_share_two_chunks_the_warm_up_included() -> None:
    assert chunked_seconds(ENCODE_ONLY, 120, workers=2) == pytest.approx(62.0)  # 62 s, and 58 s + 4 s of warm-up


def test_one_worker_pays_every_warm_up_and_overhead_on_top_of_the_encode() -> None:
    costs = ChunkCosts(1.0, 0.01, 0.5, 0.1, chunk_seconds=60)
    assert unchunked_seconds(costs, 120) == pytest.approx(132.0)
    assert chunked_seconds(costs, 120, workers=1) == pytest.approx(60.5 + 64.5 + 1.2 + 12.0)
    assert break_even_seconds(costs, workers=1) is None


def test_chunking_pays_once_a_source_makes_two_chunks() -> None:
    assert break_even_seconds(ENCODE_ONLY, workers=2) == 90.0  # round(90 / 60) = 2 chunks
