"""Import from a URL, through the gallery, the job use cases and a real worker loop on fakes: the video and its
job exist at once, the job fetches, records what the probe found and stores the source before transcoding, and a
refused fetch fails the job at once with its reason and stores nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import pytest

from tests.unit.test_gallery_job_flow import FixedProber, Platform
from tests.unit.test_job_rules import LEASE
from videoforge.gallery.service_layer.gallery import Gallery, UploadLimits
from videoforge.kit.errors import InvalidArgument, ResourceExhausted
from videoforge.kit.principal import Principal, reset_principal, set_principal
from videoforge.media_model import upload_folder
from videoforge.transcoder.domain.errors import SourceRefused, SourceUnavailable
from videoforge.transcoder.domain.media import MediaInfo
from videoforge.transcoder.domain.ports import SourceImporter
from videoforge.transcoder.worker import TranscodeWorker, WorkerConfig

URL = "https://media.example.com/films/holiday.mp4?token=secret"
PROBED = MediaInfo(
    container="mov,mp4,m4a,3gp,3g2,mj2",
    duration_seconds=2.5,
    width=1280,
    height=720,
    frame_rate_fraction=Fraction(30),
    video_codec="h264",
    audio_codec="aac",
    bitrate=900_000,
    size_bytes=281_250,
    stream_count=2,
)


class ScriptedImporter(SourceImporter):
    """Answers each fetch with the next outcome: a file and PROBED, or an error to raise."""

    def __init__(self, *outcomes: Exception | None) -> None:
        self.outcomes = list(outcomes)
        self.fetched: list[str] = []

    async def fetch(self, url: str, destination: Path) -> MediaInfo:
        self.fetched.append(url)
        outcome = self.outcomes.pop(0)
        if outcome is not None:
            raise outcome
        destination.write_bytes(b"\x00\x00\x00\x20ftypisom fetched bytes")
        return PROBED


class ImportPlatform(Platform):
    def with_quota(self, quota_bytes: int) -> None:
        limits = UploadLimits(10**9, 10**8, 10**7, 60, quota_bytes=quota_bytes)
        self.gallery = Gallery(
            self.videos,
            self.blobs,
            FixedProber(),
            self.scheduler,
            limits,
            default_formats=["360p"],
            auto_transcode=True,
        )

    def importing_worker(self, importer: SourceImporter) -> TranscodeWorker:
        config = WorkerConfig(worker_id="w1", scratch=self.tmp_path / "w1", lease_seconds=LEASE, max_attempts=3)
        return TranscodeWorker(self.queue, self.reporter, self.blobs, self.transcoder, config, importer=importer)

    async def run_with(self, importer: SourceImporter) -> None:
        claim = await self.queue.claim("w1", LEASE)
        assert claim is not None, "a message should be waiting"
        await self.importing_worker(importer).handle(claim)


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[ImportPlatform]:
    token = set_principal(Principal("u1"))
    try:
        yield ImportPlatform(tmp_path)
    finally:
        reset_principal(token)


async def test_an_import_answers_at_once_with_the_video_and_its_job(platform: ImportPlatform) -> None:
    video, ticket = await platform.gallery.import_video(URL, "Holiday", "by the sea", "unlisted", ["low"])

    assert video.state == "processing" and video.visibility == "unlisted"
    assert video.latest_job.job_id == ticket.snapshot.job_id
    assert video.source_key.startswith("uploads/u1/") and not platform.blobs.keys_under(video.source_key)
    job = await platform.repo.get(ticket.snapshot.job_id)
    assert job is not None
    assert (job.source_url, job.input_source, job.output_formats) == (URL, video.source_key, ["480p"])


async def test_the_job_fetches_stores_and_transcodes_and_the_video_gets_the_full_probe(
    platform: ImportPlatform,
) -> None:
    video, ticket = await platform.gallery.import_video(URL, "Holiday", "", "public", [])
    importer = ScriptedImporter(None)

    await platform.run_with(importer)
    await platform.sync()

    assert importer.fetched == [URL]
    assert platform.blobs.keys_under(video.source_key) == [video.source_key]
    job = await platform.repo.get(ticket.snapshot.job_id)
    assert job is not None and job.state == "COMPLETED"
    shown = await platform.videos.get(video.id)
    assert shown is not None and shown.state == "ready"
    media = shown.media
    assert (media.duration_seconds, media.width, media.height) == (2.5, 1280, 720)
    assert (media.video_codec, media.audio_codec, media.has_audio) == ("h264", "aac", True)
    assert (media.container, media.frame_rate, media.bitrate, media.size_bytes) == (
        "mov,mp4,m4a,3gp,3g2,mj2",
        30.0,
        900_000,
        281_250,
    )
    assert job.media == media, "the job shows the same findings as its video"


async def test_a_refused_fetch_fails_the_job_at_once_with_its_reason_and_stores_nothing(
    platform: ImportPlatform,
) -> None:
    video, ticket = await platform.gallery.import_video(URL, "Holiday", "", "public", [])

    await platform.run_with(ScriptedImporter(SourceRefused("Failed to download source video: 404 Not Found")))
    await platform.sync()

    job = await platform.repo.get(ticket.snapshot.job_id)
    assert job is not None and job.state == "FAILED" and job.attempt == 1
    assert job.error is not None and job.error.message == "Failed to download source video: 404 Not Found"
    assert await platform.queue.depth() == 0, "a permanent refusal is not retried"
    assert not platform.blobs.keys_under(upload_folder(video.source_key)) and not platform.blobs.keys_under("videos/")
    shown = await platform.videos.get(video.id)
    assert shown is not None and shown.state == "failed"
    assert shown.latest_job.error_message == "Failed to download source video: 404 Not Found"


async def test_a_fetch_that_failed_for_now_is_retried_and_says_so(platform: ImportPlatform) -> None:
    _, ticket = await platform.gallery.import_video(URL, "Holiday", "", "public", [])
    importer = ScriptedImporter(SourceUnavailable("Failed to download source video: 503 Service Unavailable"), None)

    await platform.run_with(importer)
    waiting = await platform.repo.get(ticket.snapshot.job_id)
    await platform.run_with(importer)

    assert waiting is not None and waiting.state == "PENDING"
    job = await platform.repo.get(ticket.snapshot.job_id)
    assert job is not None and job.state == "COMPLETED" and job.attempt == 2
    assert importer.fetched == [URL, URL]


async def test_a_stored_source_is_read_from_the_store_not_fetched_again(platform: ImportPlatform) -> None:
    video, _ = await platform.gallery.import_video(URL, "Holiday", "", "public", [])
    await platform.run_with(ScriptedImporter(None))
    await platform.sync()

    await platform.gallery.create_video_job(video.id, "", ["mobile"])
    importer = ScriptedImporter()
    await platform.run_with(importer)

    assert importer.fetched == [], "the second job read the stored source"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://127.0.0.1/clip.mp4", "127.0.0.1 is a loopback address"),
        ("https://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata address"),
        ("https://[::ffff:10.0.0.1]/clip.mp4", "is a private address"),
        ("https://2130706433/clip.mp4", "127.0.0.1 is a loopback address"),
        ("http://media.example.com/clip.mp4", "only https:// URLs are accepted"),
        ("file:///etc/passwd", "only https:// URLs are accepted"),
        ("https:///clip.mp4", "the URL has no host"),
    ],
)
async def test_a_url_that_can_never_be_fetched_is_refused_at_once_and_nothing_is_kept(
    platform: ImportPlatform, url: str, reason: str
) -> None:
    with pytest.raises(InvalidArgument, match=re.escape(reason)) as refused:
        await platform.gallery.import_video(url, "Holiday", "", "public", [])

    assert refused.value.violations[0].field == "url"
    assert not platform.videos.videos and not platform.videos.uploads
    assert await platform.queue.depth() == 0


async def test_an_unknown_format_is_refused_before_anything_is_kept(platform: ImportPlatform) -> None:
    with pytest.raises(InvalidArgument, match="Unknown format 'ultra'"):
        await platform.gallery.import_video(URL, "Holiday", "", "public", ["ultra"])

    assert not platform.videos.videos and not platform.videos.uploads


async def test_a_job_asked_for_with_a_url_imports_a_new_private_video(platform: ImportPlatform) -> None:
    video, ticket = await platform.gallery.create_video_job("", URL, ["high"])

    assert (video.visibility, video.title, video.filename, video.source_url) == (
        "private",
        "holiday.mp4",
        "holiday.mp4",
        URL,
    )
    assert not ticket.reused
    job = await platform.repo.get(ticket.snapshot.job_id)
    assert job is not None and job.source_url == URL and job.output_formats == ["1080p"]


async def test_a_refused_url_names_the_field_the_job_request_used(platform: ImportPlatform) -> None:
    with pytest.raises(InvalidArgument, match=r"input_source: 127\.0\.0\.1 is a loopback address"):
        await platform.gallery.create_video_job("", "https://0177.0.0.1/clip.mp4", [])


async def test_an_imported_source_counts_toward_the_quota_once_fetched(platform: ImportPlatform) -> None:
    await platform.gallery.import_video(URL, "Holiday", "", "public", [])
    assert await platform.videos.storage_used("u1") == 0, "nothing is known before the fetch"
    await platform.run_with(ScriptedImporter(None))
    await platform.sync()

    assert await platform.videos.storage_used("u1") == PROBED.size_bytes
    platform.with_quota(PROBED.size_bytes)
    with pytest.raises(ResourceExhausted, match="storage quota is used up"):
        await platform.gallery.import_video(URL, "Another", "", "public", [])
