"""The gallery and the job service, one way: the gallery hands over everything a job needs, and job state comes
back only as events it applies once and in order. Deleting a video mid-transcode leaves nothing behind."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.gallery import InMemoryVideoRepository, LocalJobEventFeed, LocalJobScheduler
from tests.unit.test_job_rules import World
from videoforge.gallery.domain.ports import MediaProber
from videoforge.gallery.domain.videos import JobSnapshot, JobUpdate
from videoforge.gallery.service_layer.gallery import Gallery, UploadLimits
from videoforge.gallery.service_layer.job_events import apply_job_events
from videoforge.job.service_layer.jobs import NewJob
from videoforge.kit.errors import InvalidArgument, ResourceExhausted, Unavailable
from videoforge.kit.principal import Principal, reset_principal, set_principal
from videoforge.media_model import EncodingOptions, MediaSummary, attempt_prefix
from videoforge.storage.port import OpenUpload

MEDIA = MediaSummary(duration_seconds=2.0, width=640, height=360)


class FixedProber(MediaProber):
    async def probe(self, source_key: str) -> MediaSummary:
        return MEDIA


class Platform(World):
    def __init__(self, tmp_path: Path) -> None:
        super().__init__(tmp_path)
        self.videos = InMemoryVideoRepository()
        self.scheduler = LocalJobScheduler(self.jobs)
        self.gallery = Gallery(
            self.videos,
            self.blobs,
            FixedProber(),
            self.scheduler,
            UploadLimits(max_bytes=10**9, multipart_threshold=10**8, part_bytes=10**7, url_seconds=60),
            default_formats=["360p"],
            auto_transcode=True,
        )
        self.feed = LocalJobEventFeed(self.jobs)

    async def upload(self) -> str:
        grant = await self.gallery.create_upload_url("clip.mp4", "video/mp4", 12)
        self.blobs.put(grant.key, b"source bytes")
        return (await self.gallery.confirm_upload(grant.key, "Clip", "", "public", [])).id

    async def sync(self) -> int:
        return await apply_job_events(self.videos, self.feed)


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    token = set_principal(Principal("u1"))
    try:
        yield Platform(tmp_path)
    finally:
        reset_principal(token)


async def test_a_confirmed_upload_gives_the_job_everything_it_needs(platform: Platform) -> None:
    video_id = await platform.upload()
    video = await platform.videos.get(video_id)
    assert video is not None and video.state == "processing"
    job = await platform.repo.get(video.latest_job.job_id)
    assert job is not None
    assert (job.video_id, job.owner_id, job.input_source) == (video_id, "u1", video.source_key)
    assert job.media == MEDIA and job.output_formats == ["360p"]


async def test_codecs_and_protection_asked_at_confirm_reach_the_transcode(platform: Platform) -> None:
    grant = await platform.gallery.create_upload_url("clip.mp4", "video/mp4", 12)
    platform.blobs.put(grant.key, b"source bytes")
    asked = EncodingOptions.parse(["AV1", "h264"], "clearkey")
    video = await platform.gallery.confirm_upload(grant.key, "Clip", "", "public", [], asked)
    job = await platform.repo.get(video.latest_job.job_id)
    assert job is not None and (job.codecs, job.protection) == (["h264", "av1"], "clearkey")
    await platform.run_next()
    assert platform.transcoder.options == EncodingOptions(("h264", "av1"), "clearkey")
    _, same = await platform.gallery.create_video_job(video.id, "", ["360p"], asked, reuse_covering=True)
    assert same.reused, "a job with the same codecs and protection covers the request"
    _, clear = await platform.gallery.create_video_job(video.id, "", ["360p"], reuse_covering=True)
    assert not clear.reused, "a protected job does not cover a request in the clear"


async def test_unknown_codecs_or_protection_are_refused_before_anything_is_stored(platform: Platform) -> None:
    with pytest.raises(InvalidArgument) as codec:
        EncodingOptions.parse(["vp9"], "")
    assert codec.value.violations[0].field == "codecs" and "h264, hevc, av1" in codec.value.message
    with pytest.raises(InvalidArgument) as protection:
        EncodingOptions.parse([], "widevine")
    assert protection.value.violations[0].field == "protection" and "clearkey, aes-128" in protection.value.message
    video_id = await platform.upload()
    with pytest.raises(InvalidArgument):
        await platform.jobs.create_job(
            NewJob(video_id, "u1", "uploads/u1/x/source", MEDIA, [], "r1", codecs=["h266"], protection="")
        )
    assert len(await platform.repo.for_video(video_id)) == 1


async def test_events_bring_the_video_to_ready_and_are_acknowledged(platform: Platform) -> None:
    video_id = await platform.upload()
    await platform.run_next()
    assert await platform.sync() > 0
    video = await platform.videos.get(video_id)
    assert video is not None and video.state == "ready" and video.latest_job.state == "COMPLETED"
    assert video.playing is not None and video.playing.poster_key.endswith("images/poster.jpg")
    assert await platform.sync() == 0, "acknowledged events do not come again"


async def test_a_video_read_while_processing_reads_ready_once_its_event_is_applied(platform: Platform) -> None:
    video_id = await platform.upload()
    assert (await platform.gallery.get_video(None, video_id)).state == "processing"
    await platform.run_next()

    async def changed(update: JobUpdate) -> None:
        platform.gallery.changed(update.video_id)

    await apply_job_events(platform.videos, platform.feed, after=changed)
    assert (await platform.gallery.get_video(None, video_id)).state == "ready"


async def test_a_repeated_or_older_event_is_skipped(platform: Platform) -> None:
    video_id = await platform.upload()
    await platform.run_next()
    batch = await platform.feed.next_batch(100)
    for update in batch:
        assert await platform.videos.apply_job_update(update)
    for update in reversed(batch):
        assert not await platform.videos.apply_job_update(update), "a repeat changes nothing"
    video = await platform.videos.get(video_id)
    assert video is not None and video.state == "ready"
    stale = JobUpdate(0, video_id, 1, JobSnapshot(video.latest_job.job_id, "PENDING"))
    assert not await platform.videos.apply_job_update(stale)


async def test_a_new_transcode_keeps_the_playing_output_until_it_completes(platform: Platform) -> None:
    video_id = await platform.upload()
    await platform.run_next()
    await platform.sync()
    _, ticket = await platform.gallery.create_video_job(video_id, "", ["360p"])
    await platform.sync()
    video = await platform.videos.get(video_id)
    assert video is not None and video.state == "ready" and video.latest_job.job_id == ticket.snapshot.job_id
    assert video.playing is not None and video.playing.poster_key, "the poster of what plays stays"


async def test_a_request_covered_by_a_running_or_completed_job_answers_that_job(platform: Platform) -> None:
    video_id = await platform.upload()
    started = (await platform.videos.get(video_id)).latest_job.job_id  # type: ignore[union-attr]
    _, running = await platform.gallery.create_video_job(video_id, "", ["mobile"], reuse_covering=True)
    assert (running.snapshot.job_id, running.reused) == (started, True)
    await platform.run_next()
    _, done = await platform.gallery.create_video_job(video_id, "", ["360p"], reuse_covering=True)
    assert (done.snapshot.job_id, done.reused) == (started, True)
    _, bigger = await platform.gallery.create_video_job(video_id, "", ["720p"], reuse_covering=True)
    assert bigger.snapshot.job_id != started and not bigger.reused, "720p was never made"
    _, again = await platform.gallery.create_video_job(video_id, "", ["360p"])
    assert again.snapshot.job_id not in (started, bigger.snapshot.job_id), "without reuse a new job starts"


async def test_an_upload_url_without_a_size_is_one_put(platform: Platform) -> None:
    grant = await platform.gallery.create_upload_url("clip.mp4", "video/mp4", 0)
    assert grant.upload_url and not grant.upload_id


async def test_a_confirm_retried_after_its_job_could_not_be_created_creates_it_once(platform: Platform) -> None:
    grant = await platform.gallery.create_upload_url("clip.mp4", "video/mp4", 12)
    platform.blobs.put(grant.key, b"source bytes")
    real_start = platform.scheduler.start_job

    async def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise Unavailable("the job service did not answer", "DEPENDENCY_UNAVAILABLE")

    platform.scheduler.start_job = unreachable  # type: ignore[method-assign]
    with pytest.raises(Unavailable):
        await platform.gallery.confirm_upload(grant.key, "Clip", "", "public", [])
    platform.scheduler.start_job = real_start  # type: ignore[method-assign]
    video = await platform.gallery.confirm_upload(grant.key, "Clip", "", "public", [])
    again = await platform.gallery.confirm_upload(grant.key, "Clip", "", "public", [])
    assert video.latest_job.job_id and again.latest_job.job_id == video.latest_job.job_id
    assert len(platform.repo.jobs) == 1


async def test_deleting_a_video_mid_transcode_leaves_no_objects(platform: Platform) -> None:
    video_id = await platform.upload()
    video = await platform.videos.get(video_id)
    assert video is not None

    async def deleted_meanwhile() -> None:
        await platform.gallery.delete_video(video_id)

    platform.transcoder.before_finish = deleted_meanwhile
    await platform.run_next()

    assert platform.blobs.keys_under(f"videos/{video_id}/") == []
    assert not await platform.blobs.head(video.source_key), "the source went with its video"
    assert await platform.sync() >= 0  # events of a deleted video are read and dropped


async def test_reconcile_finds_abandoned_uploads_and_unrecorded_sources_but_never_a_video(platform: Platform) -> None:
    video_id = await platform.upload()
    video = await platform.videos.get(video_id)
    assert video is not None
    long_ago = datetime.now(UTC) - timedelta(days=2)
    abandoned = await platform.gallery.create_upload_url("never.mp4", "video/mp4", 12)
    platform.videos.uploads[abandoned.key] = replace(platform.videos.uploads[abandoned.key], create_time=long_ago)
    platform.blobs.put(abandoned.key, b"half", modified=long_ago)
    platform.blobs.put("uploads/u1/lost/source", b"left behind", modified=long_ago)
    platform.blobs.put("uploads/u1/fresh/source", b"row on its way")
    platform.blobs.put(video.source_key, b"source bytes", modified=long_ago)
    platform.blobs.open_uploads.append(OpenUpload("uploads/u1/parts/source", "open-1", long_ago))
    token = set_principal(Principal("admin", "admin"))
    try:
        listed = await platform.gallery.reconcile_uploads(apply=False)
        assert listed.never_confirmed == [abandoned.key]
        assert listed.orphaned_objects == ["uploads/u1/lost/source"]
        assert listed.incomplete_multipart == ["uploads/u1/parts/source"]
        assert await platform.blobs.head(abandoned.key), "listing deletes nothing"

        await platform.gallery.reconcile_uploads(apply=True)
    finally:
        reset_principal(token)
    assert not await platform.blobs.head(abandoned.key) and abandoned.key not in platform.videos.uploads
    assert not await platform.blobs.head("uploads/u1/lost/source")
    assert await platform.blobs.head("uploads/u1/fresh/source"), "too young to judge"
    assert await platform.blobs.head(video.source_key), "a video's source is never touched"
    assert platform.blobs.open_uploads == []


async def test_reconcile_of_outputs_keeps_what_plays_and_what_runs(platform: Platform) -> None:
    video_id = await platform.upload()
    await platform.run_next()
    finished = (await platform.jobs.published_output(video_id))[0]
    _, running = await platform.gallery.create_video_job(video_id, "", ["360p"])
    await platform.jobs.start_attempt(running.snapshot.job_id, "delivery-x")
    platform.blobs.put(attempt_prefix(video_id, running.snapshot.job_id, 1) + "seg.m4s")
    platform.blobs.put(attempt_prefix(video_id, finished.id, 7) + "seg.m4s")
    platform.blobs.put(attempt_prefix(video_id, "gone", 1) + "seg.m4s")
    token = set_principal(Principal("admin", "admin"))
    try:
        report = await platform.jobs.reconcile_outputs(apply=True)
    finally:
        reset_principal(token)
    assert report.orphaned_prefixes == sorted(
        [attempt_prefix(video_id, finished.id, 7), attempt_prefix(video_id, "gone", 1)]
    )
    assert platform.blobs.keys_under(finished.output_prefix), "what plays stays"
    assert platform.blobs.keys_under(attempt_prefix(video_id, running.snapshot.job_id, 1)), "what runs stays"
    assert not platform.blobs.keys_under(attempt_prefix(video_id, "gone", 1))


async def test_a_source_made_of_parts_loses_its_pending_tag_when_confirmed_and_one_put_never_had_it(
    platform: Platform,
) -> None:
    parts = await platform.gallery.create_upload_url("clip.mp4", "video/mp4", 12, multipart=True)
    whole = await platform.gallery.create_upload_url("clip.mp4", "video/mp4", 12)
    for grant in (parts, whole):
        platform.blobs.put(grant.key, b"source bytes")
        await platform.gallery.confirm_upload(grant.key, "Clip", "", "public", [])

    assert parts.part_urls and not whole.part_urls
    assert platform.blobs.kept == {parts.key}


async def test_each_part_url_is_signed_for_its_own_length_and_the_quota_holds_at_confirm(platform: Platform) -> None:
    limits = UploadLimits(max_bytes=100, multipart_threshold=50, part_bytes=10, url_seconds=60, quota_bytes=30)
    gallery = Gallery(
        platform.videos,
        platform.blobs,
        FixedProber(),
        platform.scheduler,
        limits,
        default_formats=[],
        auto_transcode=False,
    )
    parts = await gallery.create_upload_url("clip.mp4", "video/mp4", 25, multipart=True)
    sizeless = await gallery.create_upload_url("clip.mp4", "video/mp4", 0)
    platform.blobs.put(sizeless.key, b"x" * 6)  # 25 declared + 6 stored: one byte past the quota

    with pytest.raises(ResourceExhausted, match="delete videos you no longer need"):
        await gallery.confirm_upload(sizeless.key, "Clip", "", "public", [])

    assert [url.rsplit("length=", 1)[1] for url in parts.part_urls] == ["10", "10", "5"]
    assert await platform.blobs.head(sizeless.key) is None
