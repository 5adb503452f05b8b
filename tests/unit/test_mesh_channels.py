"""A mesh channel outlives a restart of the service it calls: calls made while it is down wait for it within their
deadline instead of failing at once, and the first call after it is back goes through."""

from __future__ import annotations

import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.fixtures.mesh_pki import MeshPki
from videoforge.kit.clients import MAX_RECONNECT_BACKOFF_MS, open_channel
from videoforge.kit.mesh_tls import GALLERY, JOB
from videoforge.kit.server import create_server
from videoforge.platform.ports import free_port


async def test_a_call_waits_for_a_restarting_service_and_reaches_it_once_it_is_back(mesh_pki: MeshPki) -> None:
    address = f"127.0.0.1:{free_port()}"
    channel = open_channel(address, server=JOB, credentials=mesh_pki.credentials(GALLERY))
    health = health_pb2_grpc.HealthStub(channel)
    try:
        # Nobody listens: the call waits out its deadline (it does not answer UNAVAILABLE at once), and meanwhile
        # the channel has failed to connect several times, as it does while a service restarts.
        started = time.monotonic()
        with pytest.raises(grpc.aio.AioRpcError) as waited:
            await health.Check(health_pb2.HealthCheckRequest(), timeout=3)
        assert waited.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert time.monotonic() - started >= 2.5

        server = await create_server(address, [], verifier=None, credentials=mesh_pki.credentials(JOB))
        try:
            answered = time.monotonic()
            reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=10)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
            assert time.monotonic() - answered < MAX_RECONNECT_BACKOFF_MS / 1000 * 1.5 + 1
        finally:
            await server.stop(0)
    finally:
        await channel.close()
