"""The admin page's activity figures through the edge: jobs per hour by state, time per stage, queue depth over
time, read from the platform's own records after a real transcode."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.platform import RunningPlatform
from tests.media_factory import MediaFactory
from tests.waiting import wait_until
from videoforge.client.edge import ApiError, EdgeClient

pytestmark = pytest.mark.e2e
PASSWORD = "insight-pass-1"


@pytest.fixture(scope="module")
async def clip(media_factory: MediaFactory) -> Path:
    return await media_factory.hd_with_audio(2)


def test_an_admin_sees_the_hour_of_a_finished_transcode(platform: RunningPlatform, clip: Path) -> None:
    user = EdgeClient(platform.url)
    user.register(f"insight-{uuid.uuid4().hex[:8]}@example.com", PASSWORD)
    video = user.upload(clip, title="counted")
    job = user.wait_for_job(video["latestJob"]["jobId"], timeout=300)
    admin = platform.admin_client(PASSWORD)

    insights = admin.request("GET", "/v1/admin/insights", params={"hours": 2})

    finished_hour = datetime.fromisoformat(job["updateTime"]).replace(minute=0, second=0, microsecond=0)
    hours = {datetime.fromisoformat(h["startTime"]): h for h in insights["jobsPerHour"]}
    assert any(h["jobsByState"].get("COMPLETED", 0) >= 1 for h in hours.values())
    stages = {datetime.fromisoformat(h["startTime"]): h for h in insights["stageSeconds"]}
    assert finished_hour in stages
    spent = stages[finished_hour]["averageSeconds"]
    assert spent["PROCESSING"] > 0 and stages[finished_hour]["jobs"] >= 1
    assert set(spent) <= {"PENDING", "DOWNLOADING", "PROCESSING", "UPLOADING"}
    # The queue is sampled every second in the tests (QUEUE_SAMPLE_SECONDS): a series, oldest first.

    def queue_series() -> list[dict[str, Any]] | None:
        series = admin.request("GET", "/v1/admin/insights")["queueDepth"]
        return series if len(series) >= 2 else None

    samples = wait_until(queue_series, 10)
    times = [datetime.fromisoformat(s["time"]) for s in samples]
    assert times == sorted(times) and all(s["depth"] >= 0 and s["oldestWaitSeconds"] >= 0 for s in samples)


def test_only_admins_see_insights_and_the_window_is_bounded(platform: RunningPlatform) -> None:
    user = EdgeClient(platform.url)
    user.register(f"insight-{uuid.uuid4().hex[:8]}@example.com", PASSWORD)
    with pytest.raises(ApiError) as refused:
        user.request("GET", "/v1/admin/insights")
    assert refused.value.status == 403

    with pytest.raises(ApiError) as too_long:
        platform.admin_client(PASSWORD).request("GET", "/v1/admin/insights", params={"hours": 10_000})
    assert too_long.value.status == 400 and "hours" in too_long.value.message
