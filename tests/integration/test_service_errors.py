"""What any service answers for hostile requests and for its own faults, over a real gRPC channel.

The servicer here fails the way a database driver does, with the statement in the exception's text; the subject
under test is the interceptor every service is built with.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import grpc
import pytest

from tests.fixtures.mesh_pki import MeshPki
from videoforge.identity.v1 import identity_pb2, identity_pb2_grpc
from videoforge.kit.mesh_tls import EDGE, IDENTITY
from videoforge.kit.server import ServiceBinding, create_server

LEAK = "SELECT password_hash FROM identity.users WHERE email = 'a@x.io'"


class FailingIdentity(identity_pb2_grpc.IdentityServiceServicer):
    async def Login(self, request: identity_pb2.LoginRequest, context: object) -> identity_pb2.Session:
        raise RuntimeError(LEAK)


@pytest.fixture
async def stub(mesh_pki: MeshPki) -> AsyncIterator[identity_pb2_grpc.IdentityServiceStub]:
    servicer = FailingIdentity()
    binding = ServiceBinding(lambda s: identity_pb2_grpc.add_IdentityServiceServicer_to_server(servicer, s), [])
    running = await create_server("127.0.0.1:0", [binding], verifier=None, credentials=mesh_pki.credentials(IDENTITY))
    try:
        async with mesh_pki.aio_channel(f"127.0.0.1:{running.port}", server=IDENTITY, caller=EDGE) as channel:
            yield identity_pb2_grpc.IdentityServiceStub(channel)
    finally:
        await running.stop(0)


async def test_an_unexpected_error_answers_internal_with_a_reference_and_is_logged_in_full(
    stub: identity_pb2_grpc.IdentityServiceStub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="videoforge.rpc")
    request = identity_pb2.LoginRequest(email="a@x.io", password="x")

    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await stub.Login(request, metadata=[("x-request-id", "req-1234")])

    assert failure.value.code() == grpc.StatusCode.INTERNAL
    assert failure.value.details() == "internal error, reference req-1234"
    [record] = [r for r in caplog.records if r.getMessage() == "unhandled error"]
    assert getattr(record, "request_id", "") == "req-1234"
    assert record.exc_info is not None and LEAK in str(record.exc_info[1])


async def test_a_nul_character_is_refused_before_the_servicer_runs(
    stub: identity_pb2_grpc.IdentityServiceStub,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refusal:
        await stub.Login(identity_pb2.LoginRequest(email="a\x00@x.io", password="x"))

    assert refusal.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert refusal.value.details() == "email: must not contain NUL characters"
