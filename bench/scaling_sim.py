"""Scaling on evidence: a bursty upload trace replayed against KEDA's queue-depth rule for transcoder workers.

The per-job cost is measured here first: the project's own encode + package + extras on 1080p sources of two
lengths, fitted as `overhead + seconds_per_source_second * duration`. Then a trace (default: 500 uploads in
10 minutes, most of them in a few bursts, source lengths log-normal around a minute) is replayed, second by
second, against the rule in `deploy/kubernetes/transcoder-worker-scaler.yaml`:

- every polling interval KEDA reads jobs waiting plus jobs in flight and asks for ceil(that / queueLength)
  workers, between minReplicaCount and maxReplicaCount;
- the HorizontalPodAutoscaler adds at most `scale_up_pods` per `scale_up_period`, and removes at most
  `scale_down_pods` per `scale_down_period`, only below the highest wish of the last `scale_down_window`;
- a new pod works after `pod_start_seconds`; a pod removed while busy loses its job, which another worker
  starts again once the job's lease lapses.

For each maximum it prints time-to-ready (upload to playable) p50/p95 and worker-minutes (every pod's life,
start-up included, until the pool is back at its minimum), and picks the parameters the deploy README states.

    python -m bench.scaling_sim [--uploads 500 --minutes 10 --max-workers 1,2,4,8,16,20,32]
                                [--overhead-seconds S --seconds-per-source-second R]  # skip the measurement
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import statistics
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path

from bench import transcode_bench

# Source lengths measured to fit the cost line: short enough to keep the run quick, far enough apart.
MEASURED_SECONDS = (4, 12)
# What a burst may cost people by default: 95% of its videos playable within this many minutes.
P95_TARGET_MINUTES = 30.0


@dataclass(frozen=True)
class JobCost:
    overhead_seconds: float
    seconds_per_source_second: float

    def work(self, source_seconds: float) -> float:
        return self.overhead_seconds + self.seconds_per_source_second * source_seconds


@dataclass(frozen=True)
class Policy:
    """KEDA's ScaledObject and the HPA behaviour it sets, as in deploy/kubernetes/transcoder-worker-scaler.yaml."""

    min_replicas: int = 1
    max_replicas: int = 20
    polling_seconds: int = 15
    queue_length: int = 1
    scale_up_pods: int = 5
    scale_up_period: int = 30
    scale_down_window: int = 600
    scale_down_pods: int = 1
    # When set, removes this share of the pods per period (at least one) instead of scale_down_pods.
    scale_down_percent: int = 0
    scale_down_period: int = 120
    pod_start_seconds: int = 30
    # A removed worker's job waits out its lease before another worker takes it (2 x the queue lease).
    lease_seconds: int = 120


@dataclass(frozen=True)
class Upload:
    arrival: int
    source_seconds: float


@dataclass
class _Pod:
    created: int
    ready: int
    job: int | None = None
    done: int = 0


@dataclass
class Outcome:
    ready_seconds: list[float]
    worker_seconds: int
    peak_workers: int
    restarted_jobs: int
    policy: Policy = field(default_factory=Policy)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.ready_seconds)
        return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def bursty_trace(uploads: int = 500, minutes: int = 10, *, bursts: int = 4, seed: int = 1) -> list[Upload]:
    """`uploads` arrivals in `minutes`: 70% in `bursts` bursts (about 20 s wide), the rest spread evenly."""
    rng = random.Random(seed)
    window = minutes * 60
    centers = [rng.uniform(0.1 * window, 0.9 * window) for _ in range(bursts)]
    arrivals = []
    for n in range(uploads):
        at = rng.gauss(rng.choice(centers), 20) if n < 0.7 * uploads else rng.uniform(0, window)
        arrivals.append(int(min(max(at, 0), window - 1)))
    # Log-normal source lengths around a minute, as phone clips and short edits are; capped at 30 minutes.
    lengths = [min(max(rng.lognormvariate(math.log(60), 0.9), 5), 1800) for _ in range(uploads)]
    return sorted((Upload(at, length) for at, length in zip(arrivals, lengths, strict=True)), key=lambda u: u.arrival)


def simulate(trace: list[Upload], cost: JobCost, policy: Policy) -> Outcome:
    """Replays `trace` second by second; every worker transcodes one job at a time, first come first served."""
    work = [math.ceil(cost.work(upload.source_seconds)) for upload in trace]
    arrivals = deque(range(len(trace)))
    waiting: deque[int] = deque()
    finished: dict[int, int] = {}
    returning: list[tuple[int, int]] = []  # (second the job is visible again, job)
    pods = [_Pod(created=0, ready=0) for _ in range(policy.min_replicas)]
    wishes: deque[tuple[int, int]] = deque()
    added: deque[int] = deque()
    removed: deque[int] = deque()
    worker_seconds = peak = restarted = 0
    t = 0
    while len(finished) < len(trace) or len(pods) > policy.min_replicas:
        while arrivals and trace[arrivals[0]].arrival <= t:
            waiting.append(arrivals.popleft())
        for visible_at, job in [r for r in returning if r[0] <= t]:
            returning.remove((visible_at, job))
            waiting.appendleft(job)
        for pod in pods:
            if pod.job is not None and pod.done <= t:
                finished[pod.job], pod.job = t, None
            if pod.job is None and pod.ready <= t and waiting:
                pod.job = waiting.popleft()
                pod.done = t + work[pod.job]
        if t % policy.polling_seconds == 0:
            busy = sum(pod.job is not None for pod in pods)
            in_queue = len(waiting) + len(returning) + busy
            wish = min(max(math.ceil(in_queue / policy.queue_length), policy.min_replicas), policy.max_replicas)
            wishes.append((t, wish))
            while wishes[0][0] < t - policy.scale_down_window:
                wishes.popleft()
            restarted += _autoscale(t, pods, wish, max(w for _, w in wishes), policy, added, removed, returning)
        worker_seconds += len(pods)
        peak = max(peak, len(pods))
        t += 1
    ready = [finished[n] - upload.arrival for n, upload in enumerate(trace)]
    return Outcome(ready, worker_seconds, peak, restarted, policy)


def _autoscale(
    t: int,
    pods: list[_Pod],
    wish: int,
    highest_recent_wish: int,
    policy: Policy,
    added: deque[int],
    removed: deque[int],
    returning: list[tuple[int, int]],
) -> int:
    """One HPA step; returns how many busy workers it stopped."""
    for recent, period in ((added, policy.scale_up_period), (removed, policy.scale_down_period)):
        while recent and recent[0] <= t - period:
            recent.popleft()
    if wish > len(pods):
        for _ in range(min(wish - len(pods), policy.scale_up_pods - len(added))):
            pods.append(_Pod(created=t, ready=t + policy.pod_start_seconds))
            added.append(t)
        return 0
    stopped = 0
    allowed = policy.scale_down_pods
    if policy.scale_down_percent:
        allowed = max(1, len(pods) * policy.scale_down_percent // 100)
    for _ in range(min(len(pods) - highest_recent_wish, allowed - len(removed))):
        # A ReplicaSet stops the newest pods first; it does not know which are busy.
        pod = pods.pop()
        removed.append(t)
        if pod.job is not None:
            returning.append((t + policy.lease_seconds, pod.job))
            stopped += 1
    return stopped


def measure_cost(preset: str = "veryfast") -> JobCost:
    """The project's encode + package + extras on 1080p sources of two lengths, fitted to a line."""
    timings = []
    with tempfile.TemporaryDirectory(prefix="scaling-sim-") as scratch:
        for seconds in MEASURED_SECONDS:
            source, out = Path(scratch) / f"source-{seconds}.mp4", Path(scratch) / f"out-{seconds}"
            out.mkdir()
            transcode_bench._make_source(source, seconds)
            started = time.perf_counter()
            asyncio.run(transcode_bench._project(source, out, preset, extras=True))
            timings.append(time.perf_counter() - started)
    (short, long), (t_short, t_long) = MEASURED_SECONDS, timings
    per_second = max((t_long - t_short) / (long - short), 0.01)
    return JobCost(overhead_seconds=max(t_short - per_second * short, 0.0), seconds_per_source_second=per_second)


# How fast the pool shrinks once the queue is short: what deploy/ has now, and a faster alternative.
SCALE_DOWN_RULES = {
    "1 pod/120 s after 600 s": {"scale_down_pods": 1, "scale_down_period": 120, "scale_down_window": 600},
    "50%/60 s after 300 s": {"scale_down_percent": 50, "scale_down_period": 60, "scale_down_window": 300},
}


def sweep(trace: list[Upload], cost: JobCost, maxima: list[int], policy: Policy) -> list[Outcome]:
    policies = [
        replace(policy, max_replicas=m, min_replicas=min(policy.min_replicas, m), **rule)
        for rule in SCALE_DOWN_RULES.values()
        for m in maxima
    ]
    return [simulate(trace, cost, p) for p in policies]


def choose(outcomes: list[Outcome], p95_target_minutes: float) -> Outcome:
    """The fewest worker-minutes among the rules that meet the p95 target (else the fastest p95)."""
    meeting = [o for o in outcomes if o.percentile(0.95) <= p95_target_minutes * 60]
    if not meeting:
        return min(outcomes, key=lambda o: o.percentile(0.95))
    return min(meeting, key=lambda o: (o.worker_seconds, o.policy.max_replicas))


def _scale_down_rule(policy: Policy) -> str:
    return next(
        name
        for name, rule in SCALE_DOWN_RULES.items()
        if all(getattr(policy, key) == value for key, value in rule.items())
    )


def report(
    trace: list[Upload], cost: JobCost, outcomes: list[Outcome], chosen: Outcome, p95_target_minutes: float
) -> str:
    source_minutes = sum(u.source_seconds for u in trace) / 60
    lines = [
        f"trace: {len(trace)} uploads over {trace[-1].arrival / 60:.1f} min, {source_minutes:.0f} min of video "
        f"(median {statistics.median(u.source_seconds for u in trace):.0f} s)",
        f"cost per job: {cost.overhead_seconds:.1f} s + {cost.seconds_per_source_second:.2f} s per source second "
        f"(one worker; work in all: {sum(cost.work(u.source_seconds) for u in trace) / 60:.0f} worker-minutes)",
        "",
        f"{'scale down':<24} {'max workers':>11} {'p50 ready':>10} {'p95 ready':>10} {'worker-min':>11} "
        f"{'peak':>5} {'restarted':>9}",
    ]
    for o in outcomes:
        mark = "  <- chosen" if o is chosen else ""
        lines.append(
            f"{_scale_down_rule(o.policy):<24} {o.policy.max_replicas:>11} {o.percentile(0.5) / 60:>8.1f} m "
            f"{o.percentile(0.95) / 60:>8.1f} m {o.worker_seconds / 60:>11.0f} {o.peak_workers:>5} "
            f"{o.restarted_jobs:>9}{mark}"
        )
    p = chosen.policy
    lines += [
        "",
        f"chosen (fewest worker-minutes with p95 ready <= {p95_target_minutes:g} min): maxReplicaCount"
        f" {p.max_replicas}, scale down {_scale_down_rule(p)}; minReplicaCount {p.min_replicas}, pollingInterval"
        f" {p.polling_seconds} s, queueLength {p.queue_length}, up {p.scale_up_pods} pods/{p.scale_up_period} s,"
        f" pods start in {p.pod_start_seconds} s",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uploads", type=int, default=500)
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--max-workers", default="1,2,4,8,16,20,32,48", help="comma-separated maxima to try")
    parser.add_argument("--pod-start-seconds", type=int, default=Policy.pod_start_seconds)
    parser.add_argument("--overhead-seconds", type=float, help="skip the measurement: fixed seconds per job")
    parser.add_argument("--seconds-per-source-second", type=float, help="skip the measurement: encode cost")
    parser.add_argument("--p95-target-minutes", type=float, default=P95_TARGET_MINUTES)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.overhead_seconds is not None and args.seconds_per_source_second is not None:
        cost = JobCost(args.overhead_seconds, args.seconds_per_source_second)
    else:
        print(f"measuring the cost of a job on 1080p sources of {MEASURED_SECONDS} s ...", flush=True)
        cost = measure_cost()
    trace = bursty_trace(args.uploads, args.minutes, seed=args.seed)
    maxima = [int(m) for m in args.max_workers.split(",")]
    outcomes = sweep(trace, cost, maxima, Policy(pod_start_seconds=args.pod_start_seconds))
    chosen = choose(outcomes, args.p95_target_minutes)
    print(report(trace, cost, outcomes, chosen, args.p95_target_minutes))


if __name__ == "__main__":
    main()
