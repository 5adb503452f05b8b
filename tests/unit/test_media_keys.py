"""Media keys are checked where they enter: a job's outputs, the images a job event names, and every key the
streaming service signs must lie in the video's own folder, so no caller can get a grant for anything else."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.blobs import InMemoryBlobStore
from tests.fakes.streaming import InMemoryPublishedOutputs, InMemoryVideoCatalog
from videoforge.gallery.domain.videos import JobSnapshot, JobUpdate, PlayingOutput
from videoforge.gallery.service_layer.job_events import with_own_keys_only
from videoforge.kit.cdn import MediaSigner
from videoforge.kit.errors import FailedPrecondition
from videoforge.media_model import is_key_under, is_upload_source_key, is_video_key
from videoforge.streaming.domain.ports import OutputAsset, PlayableOutput, VisibleVideo
from videoforge.streaming.service_layer.playback import Playback

OWN_POSTER = "videos/v1/jobs/j1/attempt-1/images/poster.jpg"
ESCAPES = [
    "videos/v2/jobs/j1/attempt-1/images/poster.jpg",  # another video's
    "videos/v1/../v2/images/poster.jpg",
    "videos/v1/./images/poster.jpg",
    "videos/v1//images/poster.jpg",
    "videos/v1/images/poster.jpg?Policy=x",
    "videos/v1/images/poster.jpg#x",
    "videos/v1/images/%2e%2e/poster.jpg",
    "uploads/u1/a1/source",
    "videos/v1",
    "",
]


def test_only_plain_keys_in_the_videos_folder_are_its_own() -> None:
    assert is_video_key(OWN_POSTER, "v1")
    assert is_key_under("videos/v1/jobs/j1/attempt-1/hls/720p/3.m4s", "videos/v1/jobs/j1/attempt-1/")
    assert not any(is_video_key(key, "v1") for key in ESCAPES)
    assert not is_video_key(OWN_POSTER, "")


def test_a_source_key_must_have_the_upload_layout() -> None:
    assert is_upload_source_key("uploads/u1/a1/source")
    assert not is_upload_source_key("uploads/u1/../source")
    assert not is_upload_source_key("videos/v1/a1/source")
    assert not is_upload_source_key("uploads/u1/a1/other")


@pytest.mark.parametrize("bad", ESCAPES[:4])
def test_a_job_event_naming_images_outside_its_video_is_applied_without_them(bad: str) -> None:
    update = JobUpdate(1, "v1", 3, JobSnapshot("j1", "COMPLETED", 100), PlayingOutput("j1", bad, OWN_POSTER, 2.0))

    applied = with_own_keys_only(update)

    assert applied.playing == PlayingOutput("j1", "", OWN_POSTER, 2.0)
    assert applied.job == update.job and applied.version == 3


def test_a_job_event_with_its_own_images_is_applied_as_it_came() -> None:
    update = JobUpdate(1, "v1", 3, JobSnapshot("j1", "COMPLETED", 100), PlayingOutput("j1", OWN_POSTER, "", 2.0))
    assert with_own_keys_only(update) is update


def playback_of(video: VisibleVideo, output: PlayableOutput | None) -> Playback:
    signer = MediaSigner(
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        key_pair_id="K1",
        base_url="https://cdn.example.com/media",
    )
    videos, outputs = InMemoryVideoCatalog(), InMemoryPublishedOutputs()
    videos.videos[video.id] = video
    if output is not None:
        outputs.outputs[video.id] = output
    return Playback(
        videos, outputs, InMemoryBlobStore(), signer, signer.verifier("K1"), api_base_url="https://e", seconds=60
    )


@pytest.mark.parametrize("bad", ESCAPES[:5])
async def test_the_streaming_service_signs_no_key_outside_the_video(bad: str) -> None:
    output = PlayableOutput("j1", [OutputAsset("POSTER", bad), OutputAsset("HLS_MASTER", bad)])
    playback = playback_of(VisibleVideo("v1", "ready", "uploads/u1/a1/source"), output)

    for ask in (playback.thumbnail("v1"), playback.playback("v1"), playback.video_stream("v1")):
        with pytest.raises(FailedPrecondition) as refused:
            await ask
        assert refused.value.reason == "BAD_MEDIA_KEY"


async def test_the_streaming_service_signs_no_source_outside_the_upload_layout() -> None:
    playback = playback_of(VisibleVideo("v1", "uploaded", "videos/v2/jobs/j1/attempt-1/master.m3u8"), None)

    with pytest.raises(FailedPrecondition) as refused:
        await playback.video_stream("v1")
    assert refused.value.reason == "BAD_MEDIA_KEY"


async def test_its_own_poster_is_signed() -> None:
    playback = playback_of(VisibleVideo("v1", "ready", ""), PlayableOutput("j1", [OutputAsset("POSTER", OWN_POSTER)]))
    assert (await playback.thumbnail("v1")).startswith(f"https://cdn.example.com/media/{OWN_POSTER}?")
