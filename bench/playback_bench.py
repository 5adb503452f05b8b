"""The hot reads of watching a video, through the edge with wrk, against the JWKS route measured in the same run.

    .venv/bin/python -m bench.playback_bench [--seconds 5] [--rounds 3] [--threads 2] [--connections 16]
                                             [--profile DIR]

Starts its own platform (`videoforge up` on a temporary data directory, the edge's rate limits lifted, which this
does not measure), uploads and transcodes a short clip, then runs `wrk --latency` (Debian's `wrk`) on each route,
signed in as the video's owner: JWKS (a service that touches no database) as the baseline, then GetVideo (which
counts a view), the video's qualities and its playback URLs. Targets: each hot read at >= 0.5x the baseline's
requests per second, with p99 <= 3x its p50. Routes take turns for `--rounds` rounds and each figure is the
median of its rounds, so that load from elsewhere on a shared machine falls on every route alike. Each route
also gets the CPU the platform's processes (services, edge, PostgreSQL) spent per request, against the baseline's:
the figure other load on a shared machine disturbs least.

With `--profile DIR`, py-spy samples each service process during the last round of each route and writes its
stacks to DIR (collapsed, one file per route and service); the command prints each service's share of samples.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import statistics
import sys
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

import psutil

from tests.fixtures.platform import RunningPlatform, benched_platform
from tests.media_factory import MediaFactory
from videoforge.client.edge import EdgeClient
from videoforge.kit.subprocesses import run_process

SERVICES = ("identity", "gallery", "job", "streaming")
# py-spy (PyPI) installs next to this interpreter.
PY_SPY = str(Path(sys.executable).with_name("py-spy"))
RATE_RATIO_TARGET = 0.5
TAIL_RATIO_TARGET = 3.0
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass(frozen=True)
class WrkRun:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    # CPU the platform's processes (services, edge, database) spent per request: less at the mercy of other
    # load on a shared machine than requests per second.
    cpu_ms_per_request: float = 0.0


def _milliseconds(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def parse_wrk(output: str) -> WrkRun:
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", output, re.MULTILINE))
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    failed = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if rate is None or set(percentiles) != {"50", "99"}:
        raise RuntimeError(f"could not read wrk's output:\n{output}")
    errors = int(failed.group(1)) if failed else 0
    errors += sum(int(n) for n in socket_errors.groups()) if socket_errors else 0
    return WrkRun(float(rate.group(1)), _milliseconds(percentiles["50"]), _milliseconds(percentiles["99"]), errors)


async def wrk(url: str, token: str, args: argparse.Namespace) -> WrkRun:
    lines: list[str] = []
    argv = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.seconds}s", "--latency"]
    argv += ["-H", f"Authorization: Bearer {token}", url]
    await run_process(argv, timeout=args.seconds + 60, on_stdout_line=lines.append, redact=[token])
    return parse_wrk("\n".join(lines))


def median_run(runs: list[WrkRun]) -> WrkRun:
    return WrkRun(
        statistics.median(r.requests_per_second for r in runs),
        statistics.median(r.p50_ms for r in runs),
        statistics.median(r.p99_ms for r in runs),
        sum(r.errors for r in runs),
        statistics.median(r.cpu_ms_per_request for r in runs),
    )


def platform_cpu_seconds(platform: RunningPlatform) -> float:
    total = 0.0
    for process in psutil.Process(platform.process.pid).children(recursive=True):
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            total += times.user + times.system
    return total


async def costed_wrk(platform: RunningPlatform, url: str, token: str, args: argparse.Namespace) -> WrkRun:
    before = platform_cpu_seconds(platform)
    result = await wrk(url, token, args)
    spent = platform_cpu_seconds(platform) - before
    requests = result.requests_per_second * args.seconds
    return replace(result, cpu_ms_per_request=1000 * spent / requests if requests else 0.0)


async def profiled(services: dict[str, int], seconds: int, out: Path, route: str) -> dict[str, int]:
    """Samples every service for `seconds` with py-spy; returns each one's count of busy samples."""
    slug = re.sub(r"\W+", "-", route).strip("-")
    files = {name: out / f"{slug}-{name}.txt" for name in services}
    await asyncio.gather(*(
        run_process([PY_SPY, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "200",
                     "--format", "raw", "--nonblocking", "--output", str(files[name])], timeout=seconds + 60)
        for name, pid in services.items()
    ))  # fmt: skip
    return {name: _samples(path) for name, path in files.items()}


def _samples(collapsed: Path) -> int:
    return sum(int(line.rsplit(" ", 1)[1]) for line in collapsed.read_text().splitlines() if line.strip())


async def run(platform: RunningPlatform, data_dir: Path, args: argparse.Namespace, services: dict[str, int]) -> None:
    base_url = platform.url
    client = EdgeClient(base_url, timeout=120)
    client.register(f"bench-{uuid.uuid4().hex[:8]}@example.com", "bench-pass-1")
    (data_dir / "clips").mkdir()
    clip = await MediaFactory(data_dir / "clips").no_audio()
    video = client.upload(clip, title="played", visibility="public")
    job = client.wait_for_job(video["latestJob"]["jobId"], timeout=300)
    assert job["status"] == "COMPLETED", job
    client.wait_for_video(video["id"], job["id"])
    video_id = video["id"]
    routes = {
        "baseline: JWKS": "/.well-known/jwks.json",
        "GetVideo (counts a view)": f"/api/gallery/videos/{video_id}",
        "qualities": f"/api/stream/{video_id}/qualities",
        "playback": f"/api/stream/{video_id}/playback",
    }
    for path in routes.values():  # every route answers before it is timed
        client.request("GET", path)
    print(f"\nwrk -t{args.threads} -c{args.connections} -d{args.seconds}s through the edge, signed in; "
          f"median of {args.rounds} rounds")  # fmt: skip
    print(f"{'route':26} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'rate/base':>10} {'p99/p50':>8} "
          f"{'cpu ms/req':>11} {'cpu/base':>9}")  # fmt: skip
    runs: dict[str, list[WrkRun]] = {name: [] for name in routes}
    busy: dict[str, dict[str, int]] = {}
    for round_number in range(args.rounds):
        for name, path in routes.items():
            timed = asyncio.create_task(costed_wrk(platform, base_url + path, client.token, args))
            if args.profile and round_number == args.rounds - 1:
                busy[name] = await profiled(services, args.seconds - 1, args.profile, name)
            runs[name].append(await timed)
    baseline = baseline_cpu = 0.0
    verdicts = []
    for name, path in routes.items():
        result = median_run(runs[name])
        baseline = baseline or result.requests_per_second
        baseline_cpu = baseline_cpu or result.cpu_ms_per_request
        rate_ratio, tail_ratio = result.requests_per_second / baseline, result.p99_ms / result.p50_ms
        print(f"{name:26} {result.requests_per_second:8.0f} {result.p50_ms:8.1f} {result.p99_ms:8.1f} "
              f"{result.errors:7d} {rate_ratio:10.2f} {tail_ratio:8.2f} {result.cpu_ms_per_request:11.2f} "
              f"{result.cpu_ms_per_request / baseline_cpu:9.2f}")  # fmt: skip
        if path != routes["baseline: JWKS"]:
            ok = rate_ratio >= RATE_RATIO_TARGET and tail_ratio <= TAIL_RATIO_TARGET and not result.errors
            verdicts.append(f"{name}: {'PASS' if ok else 'FAIL'}")
    print(f"targets: rate/base >= {RATE_RATIO_TARGET}, p99/p50 <= {TAIL_RATIO_TARGET:g}, no errors")
    print("; ".join(verdicts))
    for name, samples in busy.items():
        total = sum(samples.values()) or 1
        shares = ", ".join(f"{service} {count / total:.0%}" for service, count in sorted(samples.items()))
        print(f"py-spy samples during {name}: {shares} (stacks in {args.profile})")
    views = client.request("GET", f"/v1/videos/{video_id}").get("viewCount", 0)
    print(f"views counted so far (eventually exact): {views}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", type=Path, help="sample the services with py-spy; write their stacks here")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk; ./setup installs it)")

    # One client sends every request here: lift the edge's rate limits, which this does not measure.
    os.environ.setdefault("EDGE_RATE_LIMIT_PER_MINUTE", "100000000")
    os.environ.setdefault("EDGE_MEDIA_RATE_LIMIT_PER_MINUTE", "100000000")
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    with benched_platform("vf-playback-bench-") as platform:
        services = {name: platform.children_running("serve", name)[0].pid for name in SERVICES}
        asyncio.run(run(platform, platform.data_dir, args, services))


if __name__ == "__main__":
    main()
