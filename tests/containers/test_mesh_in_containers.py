"""The mesh runs as separate containers of the project's image: identity, gallery, job, streaming, transcoder,
two workers and the edge on one podman network, beside PostgreSQL, SeaweedFS and an SQS queue. A clip goes
up through the edge, is transcoded, and plays through signed URLs; a worker killed mid-job loses nothing.
"""

from __future__ import annotations

import uuid

import httpx
import m3u8
import pytest

from tests.containers.mesh import IMAGE_UID, ContainerMesh, podman
from tests.media_factory import MediaFactory
from tests.waiting import wait_until
from videoforge.client.edge import ApiError, EdgeClient

# The first run here may build the image before the mesh starts.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def client(container_mesh: ContainerMesh) -> EdgeClient:
    edge = EdgeClient(container_mesh.edge_url)
    try:
        edge.register(f"containers-{uuid.uuid4().hex[:8]}@example.com", "container-pass-1")
    except ApiError as error:
        pytest.fail(f"sign-up through the edge failed: {error}\n{container_mesh.all_logs()}")
    return edge


def test_the_image_runs_as_its_own_user_without_compilers(image: str) -> None:
    probe = "id -u; for tool in gcc cc c++ make pip; do command -v $tool; done; true"
    result = podman("run", "--rm", "--init", image, "sh", "-c", probe)
    assert result.stdout.split() == [str(IMAGE_UID)]


async def test_a_clip_uploaded_through_the_edge_plays_through_signed_urls(
    container_mesh: ContainerMesh, client: EdgeClient, media_factory: MediaFactory
) -> None:
    clip = await media_factory.hd_with_audio(2)
    video = client.upload(clip, title="made in containers")
    job = client.wait_for_job(video["latestJob"]["jobId"], timeout=240)
    assert job["status"] == "COMPLETED", f"{job}\n{container_mesh.all_logs()}"
    assert client.request("GET", f"/api/gallery/videos/{video['id']}")["status"] == "ready"
    playback = client.request("GET", f"/api/stream/{video['id']}/playback")
    assert playback["hlsUrl"].startswith(container_mesh.edge_url)
    master = m3u8.loads(httpx.get(playback["hlsUrl"]).raise_for_status().text)
    assert sorted(p.stream_info.resolution[1] for p in master.playlists) == [360, 480, 720, 1080]
    lowest = min(master.playlists, key=lambda p: p.stream_info.resolution[1])
    media = m3u8.loads(httpx.get(lowest.uri).raise_for_status().text)
    assert media.is_endlist and all("Signature=" in s.uri for s in media.segments)
    for url in [media.segments[0].init_section.uri, *(s.uri for s in media.segments)]:
        reply = httpx.get(url)
        assert reply.status_code == 200 and reply.content, url
    assert httpx.get(playback["dashUrl"]).raise_for_status().text.lstrip().startswith("<?xml")
    # Without its signature the same segment is refused.
    assert httpx.get(media.segments[0].uri.split("?")[0]).status_code == 403


async def test_a_worker_container_killed_mid_job_loses_nothing(
    container_mesh: ContainerMesh, client: EdgeClient, media_factory: MediaFactory
) -> None:
    video = client.upload(await media_factory.long_360p(minutes=1), title="survives a killed container")
    job_id = video["latestJob"]["jobId"]
    wait_until(
        lambda: (j := client.request("GET", f"/v1/jobs/{job_id}"))["status"] == "PROCESSING" and j["progress"] >= 5,
        timeout=120,
    )
    encoding = wait_until(
        lambda: [w for w in container_mesh.workers() if any("ffmpeg" in p for p in container_mesh.processes(w))],
        timeout=30,
    )
    (victim,) = encoding
    podman("kill", "--signal", "KILL", victim)
    wait_until(lambda: not container_mesh.is_running(victim), timeout=10)
    final = client.wait_for_job(job_id, timeout=240)
    assert final["status"] == "COMPLETED", f"{final}\n{container_mesh.all_logs()}"
    assert final["attempt"] >= 2, "the job ran again on the surviving worker"
    assert client.request("GET", f"/api/gallery/videos/{video['id']}")["status"] == "ready"
    (survivor,) = [w for w in container_mesh.workers() if w != victim]
    assert container_mesh.is_running(survivor)
