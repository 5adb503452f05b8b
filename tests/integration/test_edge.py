"""The Envoy edge in front of real gRPC servers: JSON, gRPC-Web and gRPC in; only public services out.

The upstreams are small grpc.aio servers with canned answers (this tests the edge, not the services), each
with gRPC health and reflection like the real ones. Run with ``-p tests.fixtures.envoy``.
"""

from __future__ import annotations

import asyncio
import json
import struct
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from google.api import httpbody_pb2
from google.protobuf.message import Message
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from tests.fixtures.envoy import EnvoyProcess, envoy_binary
from tests.fixtures.mesh_pki import MeshPki
from videoforge.gallery.v1 import gallery_pb2, gallery_pb2_grpc
from videoforge.gateway.edge_routes import UNROUTED_CLUSTER
from videoforge.gateway.envoy_config import render_envoy_config, write_envoy_config
from videoforge.gateway.public_api import PUBLIC_SERVICES
from videoforge.identity.v1 import identity_pb2, identity_pb2_grpc
from videoforge.job.v1 import job_pb2, job_pb2_grpc
from videoforge.kit.mesh_tls import EDGE
from videoforge.kit.settings import Settings
from videoforge.platform.ports import free_port
from videoforge.streaming.v1 import streaming_pb2_grpc
from videoforge.transcoder.v1 import transcoder_pb2, transcoder_pb2_grpc

CANNED_ERRORS = {
    "missing": grpc.StatusCode.NOT_FOUND,
    "invalid": grpc.StatusCode.INVALID_ARGUMENT,
    "forbidden": grpc.StatusCode.PERMISSION_DENIED,
    "anonymous": grpc.StatusCode.UNAUTHENTICATED,
    "busy": grpc.StatusCode.FAILED_PRECONDITION,
}
WATCH_PROGRESS = (0, 50, 100)
WATCH_PAUSE_SECONDS = 0.3
JWKS = b'{"keys":[]}'
SERVICE_CLUSTERS = ("identity", "gallery", "job", "streaming", "transcoder")
INTERNAL_METHODS = (
    "/videoforge.gallery.v1.GalleryInternalService/LookupVideo",
    "/videoforge.job.v1.JobInternalService/StartAttempt",
    "/videoforge.transcoder.v1.TranscoderService/ProbeMedia",
)


# Canned upstreams.


@dataclass
class Calls:
    """What reached the upstreams: (gRPC method name, request)."""

    received: list[tuple[str, Message]] = field(default_factory=list)

    def record(self, method: str, request: Message) -> None:
        self.received.append((method, request))

    def last(self, method: str) -> Message:
        return next(request for name, request in reversed(self.received) if name == method)

    def names(self) -> set[str]:
        return {name for name, _ in self.received}


class Identity(identity_pb2_grpc.IdentityServiceServicer):
    def __init__(self, calls: Calls) -> None:
        self.calls = calls

    async def Login(self, request: identity_pb2.LoginRequest, context: Any) -> identity_pb2.AuthSession:
        self.calls.record("Login", request)
        user = identity_pb2.User(id="u1", email=request.email, role=identity_pb2.ROLE_USER)
        return identity_pb2.AuthSession(access_token=f"token-for-{request.email}", token_type="Bearer", user=user)

    async def GetJwks(self, request: identity_pb2.GetJwksRequest, context: Any) -> httpbody_pb2.HttpBody:
        return httpbody_pb2.HttpBody(content_type="application/jwk-set+json", data=JWKS)


class Gallery(gallery_pb2_grpc.GalleryServiceServicer):
    def __init__(self, calls: Calls) -> None:
        self.calls = calls

    async def ListVideos(self, request: gallery_pb2.ListVideosRequest, context: Any) -> gallery_pb2.ListVideosResponse:
        self.calls.record("ListVideos", request)
        pagination = gallery_pb2.Pagination(page=request.page, limit=request.limit, total=1, total_pages=1)
        return gallery_pb2.ListVideosResponse(videos=[gallery_pb2.Video(title="found")], pagination=pagination)

    async def ListMyVideos(
        self, request: gallery_pb2.ListMyVideosRequest, context: Any
    ) -> gallery_pb2.ListVideosResponse:
        # About 2 MiB of JSON: more than a stream buffer, less than a gRPC message may carry.
        videos = [gallery_pb2.Video(name=f"videos/{n}", description="d" * 50_000) for n in range(40)]
        return gallery_pb2.ListVideosResponse(videos=videos)

    async def GetVideo(self, request: gallery_pb2.GetVideoRequest, context: Any) -> gallery_pb2.Video:
        self.calls.record("GetVideo", request)
        video_id = request.name.removeprefix("videos/")
        if video_id in CANNED_ERRORS:
            await context.abort(CANNED_ERRORS[video_id], f"{video_id}: canned error")
        return gallery_pb2.Video(name=f"videos/{video_id}", title="A video")


class GalleryInternal(gallery_pb2_grpc.GalleryInternalServiceServicer):
    def __init__(self, calls: Calls) -> None:
        self.calls = calls

    async def LookupVideo(self, request: gallery_pb2.LookupVideoRequest, context: Any) -> gallery_pb2.Video:
        self.calls.record("LookupVideo", request)
        return gallery_pb2.Video(name="videos/internal")


class Jobs(job_pb2_grpc.JobServiceServicer):
    def __init__(self, calls: Calls) -> None:
        self.calls = calls

    async def WatchJob(self, request: job_pb2.WatchJobRequest, context: Any) -> AsyncIterator[job_pb2.Job]:
        self.calls.record("WatchJob", request)
        for index, progress in enumerate(WATCH_PROGRESS):
            if index:
                await asyncio.sleep(WATCH_PAUSE_SECONDS)
            yield job_pb2.Job(name=f"jobs/{request.name}", progress=progress)


class JobInternal(job_pb2_grpc.JobInternalServiceServicer):
    def __init__(self, calls: Calls) -> None:
        self.calls = calls

    async def StartAttempt(self, request: job_pb2.StartAttemptRequest, context: Any) -> job_pb2.Job:
        self.calls.record("StartAttempt", request)
        return job_pb2.Job()


class Transcoder(transcoder_pb2_grpc.TranscoderServiceServicer):
    def __init__(self, calls: Calls) -> None:
        self.calls = calls

    async def ProbeMedia(self, request: transcoder_pb2.ProbeMediaRequest, context: Any) -> transcoder_pb2.MediaInfo:
        self.calls.record("ProbeMedia", request)
        return transcoder_pb2.MediaInfo()


Registration = Callable[[grpc.aio.Server], None]


@dataclass
class Upstreams:
    calls: Calls
    mesh_pki: MeshPki
    addresses: dict[str, str] = field(default_factory=dict)
    health: dict[str, health.aio.HealthServicer] = field(default_factory=dict)
    servers: list[grpc.aio.Server] = field(default_factory=list)

    async def start(self, name: str, registrations: list[Registration], service_names: list[str]) -> None:
        """A server like the real ones: the servicers, gRPC health (SERVING) and reflection, over mutual TLS."""
        server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
        for register in registrations:
            register(server)
        health_servicer = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        reflection.enable_server_reflection([*service_names, health.SERVICE_NAME], server)
        port = server.add_secure_port("127.0.0.1:0", self.mesh_pki.server_credentials(name))
        await server.start()
        await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
        self.servers.append(server)
        self.addresses[name] = f"127.0.0.1:{port}"
        self.health[name] = health_servicer


@pytest.fixture(scope="module")
async def upstreams(mesh_pki: MeshPki) -> AsyncIterator[Upstreams]:
    calls = Calls()
    running = Upstreams(calls, mesh_pki)
    identity = Identity(calls)
    gallery, gallery_internal = Gallery(calls), GalleryInternal(calls)
    jobs, job_internal = Jobs(calls), JobInternal(calls)
    try:
        await running.start(
            "identity",
            [lambda s: identity_pb2_grpc.add_IdentityServiceServicer_to_server(identity, s)],
            ["videoforge.identity.v1.IdentityService"],
        )
        await running.start(
            "gallery",
            [
                lambda s: gallery_pb2_grpc.add_GalleryServiceServicer_to_server(gallery, s),
                lambda s: gallery_pb2_grpc.add_GalleryInternalServiceServicer_to_server(gallery_internal, s),
            ],
            ["videoforge.gallery.v1.GalleryService", "videoforge.gallery.v1.GalleryInternalService"],
        )
        await running.start(
            "job",
            [
                lambda s: job_pb2_grpc.add_JobServiceServicer_to_server(jobs, s),
                lambda s: job_pb2_grpc.add_JobInternalServiceServicer_to_server(job_internal, s),
            ],
            ["videoforge.job.v1.JobService", "videoforge.job.v1.JobInternalService"],
        )
        await running.start(
            "streaming",
            [
                lambda s: streaming_pb2_grpc.add_StreamingServiceServicer_to_server(
                    streaming_pb2_grpc.StreamingServiceServicer(), s
                )
            ],
            ["videoforge.streaming.v1.StreamingService"],
        )
        await running.start(
            "transcoder",
            [lambda s: transcoder_pb2_grpc.add_TranscoderServiceServicer_to_server(Transcoder(calls), s)],
            ["videoforge.transcoder.v1.TranscoderService"],
        )
        yield running
    finally:
        await asyncio.gather(*(server.stop(0) for server in running.servers))


@pytest.fixture(scope="module")
def edge_settings(upstreams: Upstreams, mesh_pki: MeshPki) -> Settings:
    return Settings(
        **mesh_pki.settings(EDGE),
        identity_address=upstreams.addresses["identity"],
        gallery_address=upstreams.addresses["gallery"],
        job_address=upstreams.addresses["job"],
        streaming_address=upstreams.addresses["streaming"],
        transcoder_address=upstreams.addresses["transcoder"],
        edge_host="127.0.0.1",
        edge_port=free_port(),
        edge_admin_port=0,
    )


@pytest.fixture(scope="module")
def envoy_config_path(edge_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_envoy_config(edge_settings, tmp_path_factory.mktemp("edge") / "envoy.yaml")


@pytest.fixture
async def edge(envoy: EnvoyProcess, edge_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=edge_settings.edge_url, timeout=10) as client:
        yield client


@pytest.fixture
async def edge_channel(envoy: EnvoyProcess, edge_settings: Settings) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(f"{edge_settings.edge_host}:{edge_settings.edge_port}") as channel:
        yield channel


async def wait_for_status(client: httpx.AsyncClient, path: str, status: int, timeout: float = 10) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        response = await client.get(path)
        if response.status_code == status or time.monotonic() > deadline:
            return response
        await asyncio.sleep(0.1)


def grpc_web_frame(message: Message) -> bytes:
    payload = message.SerializeToString()
    return struct.pack(">BI", 0, len(payload)) + payload


def grpc_web_frames(body: bytes) -> Iterator[tuple[int, bytes]]:
    """(flags, payload) of each frame; flag 0x80 marks the trailers frame."""
    offset = 0
    while offset < len(body):
        flags, length = struct.unpack(">BI", body[offset : offset + 5])
        yield flags, body[offset + 5 : offset + 5 + length]
        offset += 5 + length


# The route table, as rendered.


def rendered_routes(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    manager = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    return {route["name"]: route for route in manager["route_config"]["virtual_hosts"][0]["routes"]}


def test_streaming_methods_have_no_timeout_and_every_service_route_has_one(mesh_pki: MeshPki) -> None:
    routes = rendered_routes(render_envoy_config(Settings(**mesh_pki.settings(EDGE))))

    watch = routes["videoforge.job.v1.JobService/WatchJob"]["route"]
    assert (watch["timeout"], watch["idle_timeout"]) == ("0s", "0s")
    services = [route for name, route in routes.items() if name.endswith("Service")]
    assert len(services) == len(PUBLIC_SERVICES)
    assert all(route["route"]["timeout"] == "15s" for route in services)
    assert not [name for name in routes if "Internal" in name or "Transcoder" in name]


def test_every_forwarding_route_names_a_defined_cluster(mesh_pki: MeshPki) -> None:
    config = render_envoy_config(Settings(**mesh_pki.settings(EDGE)))
    clusters = {cluster["name"] for cluster in config["static_resources"]["clusters"]}

    forwarded_to = {route["route"]["cluster"] for route in rendered_routes(config).values() if "route" in route}
    assert forwarded_to - clusters == {UNROUTED_CLUSTER}


def test_a_bootstrap_naming_services_by_dns_passes_envoy_validation(tmp_path: Path, mesh_pki: MeshPki) -> None:
    names = {f"{service}_address": f"{service}:5006{n}" for n, service in enumerate(SERVICE_CLUSTERS, start=1)}
    config = write_envoy_config(Settings(**names, **mesh_pki.settings(EDGE)), tmp_path / "envoy.json")

    validation = subprocess.run(
        [envoy_binary(), "--mode", "validate", "-c", str(config), "-l", "warning"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert validation.returncode == 0, validation.stdout + validation.stderr
    clusters = json.loads(config.read_text())["static_resources"]["clusters"]
    assert {cluster["type"] for cluster in clusters} == {"STRICT_DNS"}


def test_every_service_cluster_presents_the_edge_certificate_and_checks_the_service_name(mesh_pki: MeshPki) -> None:
    edge_files = mesh_pki.files[EDGE]
    config = render_envoy_config(Settings(**mesh_pki.settings(EDGE)))
    clusters = {cluster["name"]: cluster for cluster in config["static_resources"]["clusters"]}

    # The streaming cluster is also the media check's (ext_authz): it gets the same mutual TLS.
    assert set(SERVICE_CLUSTERS) <= set(clusters)
    for name in SERVICE_CLUSTERS:
        tls = clusters[name]["transport_socket"]["typed_config"]
        context = tls["common_tls_context"]
        assert tls["@type"].endswith("UpstreamTlsContext") and tls["sni"] == name
        assert context["alpn_protocols"] == ["h2"]
        assert context["tls_certificates"] == [
            {
                "certificate_chain": {"filename": str(edge_files.cert_file)},
                "private_key": {"filename": str(edge_files.key_file)},
            }
        ]
        validation = context["validation_context"]
        assert validation["trusted_ca"] == {"filename": str(edge_files.ca_file)}
        assert validation["match_typed_subject_alt_names"] == [{"san_type": "DNS", "matcher": {"exact": name}}]


def test_an_edge_without_its_mesh_certificate_is_not_rendered() -> None:
    with pytest.raises(ValueError, match="MESH_CA_FILE"):
        render_envoy_config(Settings())


# Health.


async def test_healthz_is_503_while_a_service_is_not_serving_and_200_once_all_are(
    edge: httpx.AsyncClient, upstreams: Upstreams
) -> None:
    assert (await wait_for_status(edge, "/healthz", 200)).status_code == 200
    transcoder = upstreams.health["transcoder"]

    await transcoder.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    try:
        response = await wait_for_status(edge, "/healthz", 503)
        assert response.status_code == 503
        assert response.json() == {
            "code": 14,
            "message": "Not every service is serving",
            "error": "Not every service is serving",
        }
    finally:
        await transcoder.set("", health_pb2.HealthCheckResponse.SERVING)

    assert (await wait_for_status(edge, "/healthz", 200)).status_code == 200


# JSON.


async def test_login_json_reaches_the_servicer_and_answers_in_camel_case(
    edge: httpx.AsyncClient, upstreams: Upstreams
) -> None:
    response = await edge.post("/api/auth/login", json={"email": "ann@example.com", "password": "secret-pw"})

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["accessToken"] == "token-for-ann@example.com"
    assert body["tokenType"] == "Bearer"
    assert body["refreshToken"] == ""  # zero values are printed, not dropped
    assert body["user"]["role"] == "ROLE_USER"  # enums by name
    request = upstreams.calls.last("Login")
    assert (request.email, request.password) == ("ann@example.com", "secret-pw")


async def test_query_parameters_fill_the_request_and_unknown_ones_are_ignored(
    edge: httpx.AsyncClient, upstreams: Upstreams
) -> None:
    response = await edge.get("/v1/videos?search=two+words&page=2&limit=5&utm_source=mail")

    assert response.status_code == 200
    assert response.json()["pagination"] == {
        "page": 2,
        "limit": 5,
        "total": 1,
        "totalPages": 1,
        "totalCapped": False,
    }
    request = upstreams.calls.last("ListVideos")
    assert (request.search, request.page, request.limit) == ("two words", 2, 5)


async def test_a_path_variable_fills_its_field(edge: httpx.AsyncClient, upstreams: Upstreams) -> None:
    response = await edge.get("/v1/videos/v42")

    assert response.status_code == 200
    assert response.json()["name"] == "videos/v42"
    assert upstreams.calls.last("GetVideo").name == "videos/v42"


@pytest.mark.parametrize(
    ("video", "status"),
    [("missing", 404), ("invalid", 400), ("forbidden", 403), ("anonymous", 401), ("busy", 400)],
)
async def test_service_errors_become_http_statuses_with_a_json_message(
    edge: httpx.AsyncClient, video: str, status: int
) -> None:
    response = await edge.get(f"/v1/videos/{video}")

    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["code"] == CANNED_ERRORS[video].value[0]
    assert body["message"] == f"{video}: canned error"


async def test_malformed_json_is_a_400_with_a_readable_message(edge: httpx.AsyncClient) -> None:
    response = await edge.post(
        "/api/auth/login", content=b'{"email": "ann@example.com",', headers={"content-type": "application/json"}
    )

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["code"] == 3
    assert body["message"]


async def test_a_body_over_one_mebibyte_is_refused_with_413(edge: httpx.AsyncClient) -> None:
    response = await edge.post("/api/auth/login", json={"email": "a" * (1024 * 1024), "password": "x"})

    assert response.status_code == 413
    assert response.json()["code"] == 8


async def test_a_response_larger_than_the_stream_buffer_still_arrives(edge: httpx.AsyncClient) -> None:
    response = await edge.get("/api/gallery/my-videos")

    assert response.status_code == 200
    assert len(response.json()["videos"]) == 40


async def test_an_http_body_answer_passes_through_with_its_own_content_type(edge: httpx.AsyncClient) -> None:
    response = await edge.get("/.well-known/jwks.json")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/jwk-set+json"
    assert response.content == JWKS


async def test_an_unknown_path_is_a_json_404_that_does_not_echo_the_query(edge: httpx.AsyncClient) -> None:
    response = await edge.get("/x/y?token=secret")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"code": 5, "message": "No route for GET /x/y", "error": "No route for GET /x/y"}


async def test_watching_a_job_streams_each_change_as_it_happens(edge: httpx.AsyncClient, upstreams: Upstreams) -> None:
    arrivals: list[tuple[float, dict[str, Any]]] = []
    async with edge.stream("GET", "/api/jobs/j7/watch") as response:
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line.strip():
                arrivals.append((time.monotonic(), json.loads(line)))
    ended = time.monotonic()

    assert [job["progress"] for _, job in arrivals] == list(WATCH_PROGRESS)
    assert all(job["name"] == "jobs/j7" for _, job in arrivals)
    first_arrival = arrivals[0][0]
    assert ended - first_arrival > WATCH_PAUSE_SECONDS * (len(WATCH_PROGRESS) - 1) * 0.8
    assert upstreams.calls.last("WatchJob").name == "j7"


async def test_cors_preflight_allows_any_origin_and_the_grpc_web_headers(edge: httpx.AsyncClient) -> None:
    response = await edge.options(
        "/api/auth/login",
        headers={
            "origin": "https://app.example.com",
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type, x-grpc-web",
        },
    )

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "x-grpc-web" in response.headers["access-control-allow-headers"]


async def test_cross_origin_answers_expose_the_grpc_status_headers(edge: httpx.AsyncClient) -> None:
    response = await edge.get("/v1/videos/v1", headers={"origin": "https://app.example.com"})

    assert response.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "grpc-status" in response.headers["access-control-expose-headers"]


# gRPC-Web and gRPC.


async def test_grpc_web_unary_call_returns_the_message_and_an_ok_trailer(edge: httpx.AsyncClient) -> None:
    response = await edge.post(
        "/videoforge.gallery.v1.GalleryService/GetVideo",
        content=grpc_web_frame(gallery_pb2.GetVideoRequest(name="v9")),
        headers={"content-type": "application/grpc-web+proto", "x-grpc-web": "1"},
    )

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/grpc-web+proto"
    (data_flags, data), (trailer_flags, trailers) = grpc_web_frames(response.content)
    assert (data_flags, trailer_flags) == (0x00, 0x80)
    assert gallery_pb2.Video.FromString(data).name == "videos/v9"
    assert "grpc-status:0" in trailers.decode().replace(" ", "")


async def test_native_grpc_calls_pass_through_with_their_status(edge_channel: grpc.aio.Channel) -> None:
    gallery = gallery_pb2_grpc.GalleryServiceStub(edge_channel)

    video = await gallery.GetVideo(gallery_pb2.GetVideoRequest(name="v3"), timeout=5)
    assert video.name == "videos/v3"
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await gallery.GetVideo(gallery_pb2.GetVideoRequest(name="missing"), timeout=5)
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize("method", INTERNAL_METHODS)
async def test_internal_services_are_not_routed_over_grpc(
    edge_channel: grpc.aio.Channel, upstreams: Upstreams, method: str
) -> None:
    call = edge_channel.unary_unary(method)

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call(b"", timeout=5)
    assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert method.rsplit("/", 1)[1] not in upstreams.calls.names()


@pytest.mark.parametrize("method", INTERNAL_METHODS)
async def test_internal_services_are_not_routed_over_grpc_web_or_json(
    edge: httpx.AsyncClient, upstreams: Upstreams, method: str
) -> None:
    grpc_web = await edge.post(
        method, content=struct.pack(">BI", 0, 0), headers={"content-type": "application/grpc-web+proto"}
    )
    as_json = await edge.post(method, json={})

    assert grpc_web.headers["grpc-status"] == str(grpc.StatusCode.UNIMPLEMENTED.value[0])
    assert as_json.status_code == 404
    assert as_json.json()["code"] == 5
    assert method.rsplit("/", 1)[1] not in upstreams.calls.names()
