"""Playback reads a job's output once and signs one grant per video a window, without stretching any grant's
life or letting a video keep playing an output it no longer publishes."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.blobs import InMemoryBlobStore
from tests.fakes.streaming import InMemoryPublishedOutputs, InMemoryVideoCatalog
from videoforge.kit.cdn import MediaSigner
from videoforge.kit.errors import FailedPrecondition, NotFound
from videoforge.media_model import Rendition
from videoforge.streaming.domain.ports import OutputAsset, PlayableOutput, VisibleVideo
from videoforge.streaming.service_layer.playback import UNSETTLED_SECONDS, Playback

SECONDS = 600


class CountingOutputs(InMemoryPublishedOutputs):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def published(self, video_id: str) -> PlayableOutput:
        self.reads += 1
        return await super().published(video_id)


def output(job_id: str, video_id: str = "v1") -> PlayableOutput:
    master = OutputAsset("HLS_MASTER", f"videos/{video_id}/jobs/{job_id}/attempt-1/master.m3u8")
    return PlayableOutput(job_id, [master], [Rendition(name="360p", width=640, height=360, bitrate=800_000)])


@pytest.fixture
def world() -> tuple[Playback, InMemoryVideoCatalog, CountingOutputs]:
    signer = MediaSigner(
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        key_pair_id="K1",
        base_url="https://cdn.example.com/media",
    )
    videos, outputs = InMemoryVideoCatalog(), CountingOutputs()
    videos.videos["v1"] = VisibleVideo("v1", "ready", "uploads/u1/a1/source", published_job_id="j1")
    outputs.outputs["v1"] = output("j1")
    playback = Playback(
        videos, outputs, InMemoryBlobStore(), signer, signer.verifier("K1"),
        api_base_url="https://edge.example.com", seconds=SECONDS,
    )  # fmt: skip
    return playback, videos, outputs


async def test_a_published_output_is_read_once_per_job(
    world: tuple[Playback, InMemoryVideoCatalog, CountingOutputs],
) -> None:
    playback, videos, outputs = world
    for _ in range(20):
        assert (await playback.playback("v1")).hls_url
    assert outputs.reads == 1

    # A new publication reaches the gallery through job events: the next call plays the new job's output.
    outputs.outputs["v1"] = output("j2")
    videos.videos["v1"] = VisibleVideo("v1", "ready", "uploads/u1/a1/source", published_job_id="j2")
    assert "/jobs/j2/" in (await playback.playback("v1")).hls_url
    assert outputs.reads == 2


class CountingCatalog(InMemoryVideoCatalog):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def visible_video(self, video_id: str, authorization: str) -> VisibleVideo:
        self.reads += 1
        return await super().visible_video(video_id, authorization)


@pytest.mark.parametrize(("visibility", "lookups"), [("public", 1), ("unlisted", 1), ("private", 20), ("", 20)])
async def test_only_a_video_open_to_all_is_looked_up_once_for_many_viewers(visibility: str, lookups: int) -> None:
    signer = MediaSigner(
        rsa.generate_private_key(public_exponent=65537, key_size=2048), key_pair_id="K1", base_url="https://cdn"
    )
    videos, outputs = CountingCatalog(), CountingOutputs()
    videos.videos["v1"] = VisibleVideo("v1", "ready", "", published_job_id="j1", visibility=visibility)
    outputs.outputs["v1"] = output("j1")
    playback = Playback(
        videos, outputs, InMemoryBlobStore(), signer, signer.verifier("K1"), api_base_url="https://edge", seconds=60
    )
    for _ in range(20):
        assert (await playback.playback("v1")).hls_url
    assert videos.reads == lookups, "a private video's answer depends on who asks: the gallery is asked each time"


def test_a_grant_is_shared_for_a_tenth_of_its_life_at_most() -> None:
    signer = MediaSigner(
        rsa.generate_private_key(public_exponent=65537, key_size=2048), key_pair_id="K1", base_url="https://cdn"
    )
    first = signer.grant("videos/v1", SECONDS)
    assert signer.grant("videos/v1", SECONDS) is first, "one signature serves the window"
    assert first.expires is not None and first.expires.timestamp() - time.time() >= SECONDS - 2
    assert signer.grant("videos/v2", SECONDS) is not first, "a grant opens one folder only"
    short = signer.grant("videos/v1", 5)
    assert signer.grant("videos/v1", 5) is not short, "a grant too short to share is signed each time"


async def test_a_video_others_may_no_longer_see_is_refused_even_with_its_output_kept(
    world: tuple[Playback, InMemoryVideoCatalog, CountingOutputs],
) -> None:
    playback, videos, _ = world
    await playback.playback("v1")
    del videos.videos["v1"]  # made private, or deleted: the gallery answers NOT_FOUND
    with pytest.raises(NotFound, match="No video"):
        await playback.playback("v1")


async def test_viewers_waiting_for_a_video_to_play_share_one_job_read_a_quarter_second(
    world: tuple[Playback, InMemoryVideoCatalog, CountingOutputs],
) -> None:
    playback, videos, outputs = world
    # Not open to all: the gallery is asked on every call, and its change shows at once.
    videos.videos["v2"] = VisibleVideo("v2", "processing", "uploads/u1/a2/source")
    polls = [playback.playback("v2") for _ in range(10)]
    for poll in polls:
        with pytest.raises(FailedPrecondition, match="still being transcoded"):
            await poll
    assert outputs.reads == 1, "polls while nothing plays yet share the job service's answer"

    # The first segments are out: a poll UNSETTLED_SECONDS later sees the growing output, and shares it.
    outputs.outputs["v2"] = replace(output("j3", "v2"), live=True)
    await asyncio.sleep(UNSETTLED_SECONDS)
    for _ in range(10):
        assert "/jobs/j3/" in (await playback.playback("v2")).hls_url
    assert outputs.reads == 2

    # Published: the gallery names the job, and the next call plays its completed output at once.
    outputs.outputs["v2"] = output("j3", "v2")
    videos.videos["v2"] = VisibleVideo("v2", "ready", "uploads/u1/a2/source", published_job_id="j3")
    assert not (await playback.playback("v2")).live
