"""A quiet source (about -30 LUFS) uploaded through the edge: its published audio is normalised, and the video's
details (`/api/gallery/videos/{id}` and `/v1/videos/{id}`) and its job (`/v1/jobs/{id}`) carry the loudness measured
in the source and in what was published."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.fixtures.platform import RunningPlatform
from tests.media_factory import QUICK_H264, MediaFactory
from videoforge.client.edge import EdgeClient

pytestmark = pytest.mark.e2e
SECONDS = 6
# A 440 Hz sine at lavfi's default amplitude measures about -21.8 LUFS: 8.2 dB under is about -30 LUFS.
QUIET = f"sine=frequency=440:sample_rate=48000:duration={SECONDS},volume=-8.2dB,aformat=channel_layouts=stereo"


@pytest.fixture(scope="module")
async def published(
    platform: RunningPlatform, media_factory: MediaFactory, tmp_path_factory: pytest.TempPathFactory
) -> tuple[EdgeClient, dict[str, Any]]:
    owner = EdgeClient(platform.url)
    owner.register(f"loudness-{uuid.uuid4().hex[:8]}@example.com", "loudness-pass-1")
    clip = await media_factory.render(
        tmp_path_factory.mktemp("loudness") / "quiet.mp4",
        [
            "-f", "lavfi", "-i", f"testsrc2=size=320x240:rate=25:duration={SECONDS}", "-f", "lavfi", "-i", QUIET,
            "-map", "0:v", "-map", "1:a", *QUICK_H264, "-c:a", "aac",
        ],
    )  # fmt: skip
    video = owner.upload(clip, title="quiet")
    job = owner.wait_for_job(video["latestJob"]["jobId"], timeout=300)
    assert job["status"] == "COMPLETED", job.get("error") or job
    owner.wait_for_video(video["id"], job["id"])
    return owner, {"video": video, "job": job}


def _assert_measured_and_normalised(loudness: dict[str, Any]) -> None:
    assert loudness["inputIntegratedLufs"] == pytest.approx(-30.0, abs=1.0)
    assert loudness["inputTruePeakDbtp"] < -20.0
    assert loudness["outputIntegratedLufs"] == pytest.approx(-16.0, abs=1.0)
    assert loudness["outputTruePeakDbtp"] <= -1.0
    assert loudness["normalized"] is True


def test_the_videos_details_show_the_source_and_published_loudness(
    published: tuple[EdgeClient, dict[str, Any]],
) -> None:
    owner, made = published
    video_id = made["video"]["id"]

    details = owner.request("GET", f"/api/gallery/videos/{video_id}")
    resource = owner.request("GET", f"/v1/videos/{video_id}")

    _assert_measured_and_normalised(details["loudness"])
    assert resource["loudness"] == details["loudness"]


def test_the_completed_job_shows_the_same_figures(published: tuple[EdgeClient, dict[str, Any]]) -> None:
    owner, made = published

    job = owner.request("GET", f"/v1/jobs/{made['job']['id']}")

    _assert_measured_and_normalised(job["loudness"])
    assert job["loudness"] == owner.request("GET", f"/api/gallery/videos/{made['video']['id']}")["loudness"]
