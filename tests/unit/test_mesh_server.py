"""The service server factory over mutual TLS: plaintext is refused on the service port, and the optional
probe port answers health checks in plaintext and nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.fixtures.mesh_pki import MeshPki
from videoforge.kit.mesh_tls import GALLERY, TRANSCODER
from videoforge.kit.server import RunningServer, ServiceBinding, create_server
from videoforge.platform.ports import free_port
from videoforge.transcoder.v1 import transcoder_pb2, transcoder_pb2_grpc

SERVICE = transcoder_pb2.DESCRIPTOR.services_by_name["TranscoderService"].full_name


@pytest.fixture
def probe_port() -> int:
    return free_port()


@pytest.fixture
async def server(mesh_pki: MeshPki, probe_port: int) -> AsyncIterator[RunningServer]:
    servicer = transcoder_pb2_grpc.TranscoderServiceServicer()  # every method UNIMPLEMENTED: enough here
    binding = ServiceBinding(
        lambda s: transcoder_pb2_grpc.add_TranscoderServiceServicer_to_server(servicer, s), [SERVICE]
    )
    running = await create_server(
        "127.0.0.1:0", [binding], verifier=None, credentials=mesh_pki.credentials(TRANSCODER), health_port=probe_port
    )
    try:
        yield running
    finally:
        await running.stop(0)


async def test_the_service_port_refuses_plaintext_and_answers_mutual_tls(
    server: RunningServer, mesh_pki: MeshPki
) -> None:
    address = f"127.0.0.1:{server.port}"
    async with grpc.aio.insecure_channel(address) as plain:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await health_pb2_grpc.HealthStub(plain).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    async with mesh_pki.aio_channel(address, server=TRANSCODER, caller=GALLERY) as channel:
        answer = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


async def test_the_probe_port_answers_health_in_plaintext_and_nothing_else(
    server: RunningServer, probe_port: int
) -> None:
    assert server.probes is not None
    async with grpc.aio.insecure_channel(f"127.0.0.1:{probe_port}") as plain:
        answer = await health_pb2_grpc.HealthStub(plain).Check(
            health_pb2.HealthCheckRequest(service=SERVICE), timeout=5
        )
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await transcoder_pb2_grpc.TranscoderServiceStub(plain).ProbeMedia(
                transcoder_pb2.ProbeMediaRequest(), timeout=5
            )
    assert answer.status == health_pb2.HealthCheckResponse.SERVING
    assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_health_lists_every_service_it_serves(server: RunningServer, mesh_pki: MeshPki) -> None:
    async with mesh_pki.aio_channel(f"127.0.0.1:{server.port}", server=TRANSCODER, caller=GALLERY) as channel:
        listed = await health_pb2_grpc.HealthStub(channel).List(health_pb2.HealthListRequest(), timeout=5)
    assert {name: answer.status for name, answer in listed.statuses.items()} == {
        "": health_pb2.HealthCheckResponse.SERVING,
        SERVICE: health_pb2.HealthCheckResponse.SERVING,
    }
