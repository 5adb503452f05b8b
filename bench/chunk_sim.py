"""Chunked encoding projected to fleets and lengths not measured: a list-scheduling simulation on measured costs.

    python -m bench.chunk_sim --encode-per-second 1.6 --package-per-second 0.02 --chunk-overhead 1.5 \
        --rest-per-second 0.1

Every cost is in seconds of one pinned core (bench/chunked_bench.py measures them and runs this):
- one worker, no chunks: encode·L + rest·L (probe, extras, upload: the same either way);
- k workers, chunks: the chunks as the coordinator plans them (whole GOPs, the warm-up before each but the
  first), each costing encode·(its media + warm-up) + overhead (claim latency, source download, seek, store
  round trips); the coordinator takes them from the last, the k - 1 others from the first, each the next one
  free as soon as it is idle; then join + audio + packaging (package·L) and the rest (rest·L) on the coordinator.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
from fractions import Fraction

from videoforge.transcoder.domain.chunks import plan_chunks
from videoforge.transcoder.domain.ladder import GOP_SECONDS, Rung

FRAME_RATE = Fraction(30)
FLEETS = (1, 2, 8, 32)
LONGEST_SECONDS = 4 * 3600


@dataclass(frozen=True)
class ChunkCosts:
    encode_per_second: float  # the ladder's encode, per media second
    package_per_second: float  # join by copying + audio encode + packaging, per media second
    chunk_overhead: float  # per chunk, beside its encode
    rest_per_second: float  # probe, extras, upload: per media second, chunked or not
    chunk_seconds: float = 60.0


def unchunked_seconds(costs: ChunkCosts, length: float) -> float:
    return (costs.encode_per_second + costs.rest_per_second) * length


def chunked_seconds(costs: ChunkCosts, length: float, workers: int) -> float:
    rung = Rung("sim", 2, 2, 1, 1, 1, gop_frames=GOP_SECONDS * int(FRAME_RATE))
    plan = plan_chunks([rung], FRAME_RATE, length, costs.chunk_seconds)
    cost = [costs.encode_per_second * plan.encode_seconds(chunk) + costs.chunk_overhead for chunk in plan.chunks]
    free_at = [0.0] * workers  # worker 0 is the coordinator
    first, last = 0, len(cost) - 1
    while first <= last:
        worker = min(range(workers), key=lambda w: (free_at[w], w))
        if worker == 0:
            free_at[0] += cost[last]
            last -= 1
        else:
            free_at[worker] += cost[first]
            first += 1
    return max(free_at) + (costs.package_per_second + costs.rest_per_second) * length


def break_even_seconds(costs: ChunkCosts, workers: int) -> float | None:
    """The shortest source (in whole GOPs) from which on chunking across `workers` finishes sooner; None if never."""
    for length in range(2 * GOP_SECONDS, LONGEST_SECONDS, GOP_SECONDS):
        if chunked_seconds(costs, length, workers) < unchunked_seconds(costs, length):
            return float(length)
    return None


def best_chunk_seconds(costs: ChunkCosts, length: float, workers: int) -> float:
    """The chunk length (whole GOPs, up to two minutes) that finishes `length` soonest on `workers`: shorter chunks
    spread further, but each pays its warm-up and overhead."""
    lengths = range(GOP_SECONDS, 121, GOP_SECONDS)
    return float(min(lengths, key=lambda c: chunked_seconds(replace(costs, chunk_seconds=c), length, workers)))


def report(costs: ChunkCosts, lengths: tuple[float, ...]) -> list[str]:
    lines = [f"simulated ({costs}):"]
    for workers in FLEETS:
        even = break_even_seconds(costs, workers)
        lines.append(f"  k={workers:>2}: chunking pays from {'never' if even is None else f'{even:.0f} s'}")
    for length in lengths:
        alone = unchunked_seconds(costs, length)
        lines.append(f"  {length:.0f} s source, one worker, no chunks: {alone:.1f} s")
        for workers in FLEETS:
            seconds = chunked_seconds(costs, length, workers)
            best = best_chunk_seconds(costs, length, workers)
            best_seconds = chunked_seconds(replace(costs, chunk_seconds=best), length, workers)
            lines.append(
                f"    k={workers:>2}: {seconds:8.1f} s, {alone / seconds:5.2f}x (target {0.8 * workers:4.1f}x);"
                f" with {best:.0f} s chunks {best_seconds:8.1f} s, {alone / best_seconds:5.2f}x"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encode-per-second", type=float, required=True)
    parser.add_argument("--package-per-second", type=float, required=True)
    parser.add_argument("--chunk-overhead", type=float, required=True)
    parser.add_argument("--rest-per-second", type=float, required=True)
    parser.add_argument("--chunk-seconds", type=float, default=60.0)
    parser.add_argument("--length", type=float, action="append", help="source seconds (repeatable; 120, 3600)")
    args = parser.parse_args()
    costs = ChunkCosts(
        args.encode_per_second, args.package_per_second, args.chunk_overhead, args.rest_per_second, args.chunk_seconds
    )
    print("\n".join(report(costs, tuple(args.length or (120.0, 3600.0)))))


if __name__ == "__main__":
    main()
