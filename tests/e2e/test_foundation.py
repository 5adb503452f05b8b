"""The foundation as a new user meets it: `videoforge up`, then JSON, gRPC and gRPC-Web through the edge."""

from __future__ import annotations

import struct
import subprocess
import sys
import time
import uuid

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from tests.fixtures.platform import RunningPlatform, free_port, processes_using, start_platform, stop_platform
from videoforge.gallery.v1 import gallery_pb2, gallery_pb2_grpc
from videoforge.identity.v1 import identity_pb2, identity_pb2_grpc

pytestmark = pytest.mark.e2e
PASSWORD = "correct-horse-9"


def new_email() -> str:
    return f"user-{uuid.uuid4().hex[:10]}@example.com"


def register(platform: RunningPlatform, email: str | None = None) -> dict:
    reply = httpx.post(f"{platform.url}/api/auth/register", json={"email": email or new_email(), "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_healthz_is_ok_when_every_service_serves(platform: RunningPlatform) -> None:
    assert httpx.get(f"{platform.url}/healthz").status_code == 200


def test_register_then_login_returns_a_bearer_token(platform: RunningPlatform) -> None:
    email = new_email()
    registered = register(platform, email)
    assert registered["user"]["email"] == email
    assert registered["user"]["role"] == "ROLE_USER"
    login = httpx.post(f"{platform.url}/api/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    body = login.json()
    assert body["tokenType"] == "Bearer" and body["accessToken"].count(".") == 2
    me = httpx.get(f"{platform.url}/api/auth/me", headers={"Authorization": f"Bearer {body['accessToken']}"})
    assert me.status_code == 200 and me.json()["email"] == email


def test_wrong_password_and_unknown_email_get_the_same_401(platform: RunningPlatform) -> None:
    email = new_email()
    register(platform, email)
    wrong = httpx.post(f"{platform.url}/api/auth/login", json={"email": email, "password": "nope-nope-1"})
    unknown = httpx.post(f"{platform.url}/api/auth/login", json={"email": new_email(), "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["message"] == unknown.json()["message"]


def test_taken_email_is_a_conflict_and_weak_password_a_bad_request(platform: RunningPlatform) -> None:
    email = new_email()
    register(platform, email)
    taken = httpx.post(f"{platform.url}/api/auth/register", json={"email": email, "password": PASSWORD})
    assert taken.status_code == 409
    weak = httpx.post(f"{platform.url}/api/auth/register", json={"email": new_email(), "password": "short"})
    assert weak.status_code == 400
    assert "at least 8 characters" in weak.json()["message"]


def test_public_video_list_is_json_with_pagination(platform: RunningPlatform) -> None:
    reply = httpx.get(f"{platform.url}/api/gallery/videos")
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("application/json")
    body = reply.json()
    assert isinstance(body["videos"], list)
    assert all(video["visibility"] == "public" for video in body["videos"])
    assert body["pagination"]["page"] == 1


def test_unknown_path_is_a_json_404(platform: RunningPlatform) -> None:
    reply = httpx.get(f"{platform.url}/api/no/such/route")
    assert reply.status_code == 404
    assert reply.json()["message"]


def test_malformed_body_is_a_400_with_a_readable_message(platform: RunningPlatform) -> None:
    reply = httpx.post(
        f"{platform.url}/api/auth/login", content=b'{"email": ', headers={"content-type": "application/json"}
    )
    assert reply.status_code == 400
    assert reply.json()["message"]


def test_missing_token_on_a_private_route_is_401(platform: RunningPlatform) -> None:
    assert httpx.get(f"{platform.url}/api/gallery/my-videos").status_code == 401
    bad = httpx.get(f"{platform.url}/api/gallery/my-videos", headers={"Authorization": "Bearer x.y.z"})
    assert bad.status_code == 401


def test_each_service_reports_serving_and_lists_itself_by_reflection(platform: RunningPlatform) -> None:
    expected = {
        "identity": {"videoforge.identity.v1.IdentityService"},
        "gallery": {"videoforge.gallery.v1.GalleryService", "videoforge.gallery.v1.GalleryInternalService"},
        "job": {
            "videoforge.job.v1.JobService",
            "videoforge.job.v1.JobAdminService",
            "videoforge.job.v1.JobInternalService",
        },
        "streaming": {"videoforge.streaming.v1.StreamingService"},
        "transcoder": {"videoforge.transcoder.v1.TranscoderService"},
    }
    for name, services in expected.items():
        with platform.mesh_channel(name) as channel:
            health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert health.status == health_pb2.HealthCheckResponse.SERVING
            replies = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
            )
            listed = {s.name for reply in replies for s in reply.list_services_response.service}
            assert services <= listed, (name, listed)


def test_native_grpc_through_the_edge(platform: RunningPlatform) -> None:
    target = platform.url.removeprefix("http://")
    with grpc.insecure_channel(target) as channel:
        session = identity_pb2_grpc.IdentityServiceStub(channel).Register(
            identity_pb2.RegisterRequest(email=new_email(), password=PASSWORD), timeout=10
        )
        videos = gallery_pb2_grpc.GalleryServiceStub(channel).ListMyVideos(
            gallery_pb2.ListMyVideosRequest(),
            metadata=[("authorization", f"Bearer {session.access_token}")],
            timeout=10,
        )
    assert session.user.email and list(videos.videos) == []


def test_grpc_web_through_the_edge(platform: RunningPlatform) -> None:
    message = identity_pb2.LoginRequest(email=new_email(), password=PASSWORD).SerializeToString()
    reply = httpx.post(
        f"{platform.url}/videoforge.identity.v1.IdentityService/Login",
        content=b"\x00" + struct.pack(">I", len(message)) + message,
        headers={"content-type": "application/grpc-web+proto", "x-grpc-web": "1"},
    )
    assert reply.status_code == 200
    trailers = (
        reply.content[5 + struct.unpack(">I", reply.content[1:5])[0] :]
        if reply.content[:1] == b"\x00"
        else reply.content
    )
    assert b"grpc-status:16" in trailers.replace(b" ", b"") or reply.headers.get("grpc-status") == "16"


def test_operator_creates_an_admin_who_can_sign_in(platform: RunningPlatform) -> None:
    email = new_email()
    created = subprocess.run(
        [sys.executable, "-m", "videoforge", "users", "create", "--email", email, "--password", PASSWORD, "--admin",
         "--data-dir", str(platform.data_dir)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    login = httpx.post(f"{platform.url}/api/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200 and login.json()["user"]["role"] == "ROLE_ADMIN"


def test_sigterm_stops_every_process_and_a_second_up_reuses_the_data(tmp_path_factory: pytest.TempPathFactory) -> None:
    data_dir = tmp_path_factory.mktemp("vf-stop")
    first = start_platform(data_dir, free_port())
    # A fresh platform's public list is empty.
    assert httpx.get(f"{first.url}/api/gallery/videos").json()["videos"] == []
    email = new_email()
    assert register(first, email)["user"]["email"] == email
    assert stop_platform(first.process) == 0
    deadline = time.monotonic() + 10
    while processes_using(data_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_using(data_dir) == []
    second = start_platform(data_dir, free_port())
    try:
        again = httpx.post(f"{second.url}/api/auth/login", json={"email": email, "password": PASSWORD})
        assert again.status_code == 200
    finally:
        stop_platform(second.process)
