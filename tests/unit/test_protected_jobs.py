"""The job use cases for a protected video: its key is made with its first protected job, handed to the worker
that encrypts, the same for every later job, and dropped with the video; without a key-sealing secret no job may
ask for protection."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.test_job_rules import LEASE, World
from videoforge.job.service_layer.jobs import Jobs, NewJob
from videoforge.kit.errors import FailedPrecondition
from videoforge.kit.principal import Principal, reset_principal, set_principal
from videoforge.media_model import MediaSummary


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    token = set_principal(Principal("u1"))
    try:
        yield World(tmp_path)
    finally:
        reset_principal(token)


def _protected(protection: str, request_id: str) -> NewJob:
    media = MediaSummary(duration_seconds=2.0)
    return NewJob("v1", "u1", "uploads/u1/a/source", media, ["360p"], request_id, protection=protection)


async def test_the_worker_of_a_protected_job_gets_the_videos_one_key(world: World) -> None:
    await world.jobs.create_job(_protected("aes-128", "r1"))
    key = world.content_keys.keys["v1"]

    await world.run_next()

    assert world.transcoder.options.protection == "aes-128"
    assert world.transcoder.options.content_key == key
    await world.jobs.create_job(_protected("clearkey", "r2"))
    await world.run_next()
    assert world.transcoder.options.content_key == key, "one key per video, whatever its jobs"


async def test_a_job_in_the_clear_gets_no_key_and_a_purged_video_loses_its_key(world: World) -> None:
    await world.new_job()
    await world.run_next()
    assert world.transcoder.options.content_key is None and "v1" not in world.content_keys.keys

    await world.jobs.create_job(_protected("clearkey", "r2"))
    await world.jobs.purge_video("v1")
    assert "v1" not in world.content_keys.keys


async def test_without_a_key_sealing_secret_protection_is_refused(world: World) -> None:
    jobs = Jobs(world.repo, world.queue, world.blobs, None, url_seconds=60, lease_seconds=LEASE)

    with pytest.raises(FailedPrecondition) as refused:
        await jobs.create_job(_protected("clearkey", "r1"))

    assert refused.value.reason == "PROTECTION_UNAVAILABLE"
    assert await world.repo.for_video("v1") == [], "nothing stored"
