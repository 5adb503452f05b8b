"""The server factory every service uses: grpc.aio, health, reflection, interceptors, graceful stop."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import grpc
from grpc.aio import ServicerContext
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from videoforge.kit.caller_access import CallerAccessInterceptor
from videoforge.kit.interceptors import ServiceInterceptor
from videoforge.kit.mesh_tls import MeshCredentials
from videoforge.kit.observability import server_observers
from videoforge.kit.tokens import TokenVerifier

log = logging.getLogger("videoforge.server")

# A stale server must never silently share a port with a new one.
SERVER_OPTIONS = [("grpc.so_reuseport", 0), ("grpc.max_receive_message_length", 8 * 1024 * 1024)]


class MeshHealth(health.aio.HealthServicer):
    """grpcio's asyncio health service, which answers Check and Watch, and also List (every status at once),
    which it leaves unimplemented."""

    def __init__(self) -> None:
        super().__init__()
        self._statuses: dict[str, health_pb2.HealthCheckResponse.ServingStatus.ValueType] = {}

    async def set(self, service: str, status: health_pb2.HealthCheckResponse.ServingStatus.ValueType) -> None:
        await super().set(service, status)
        self._statuses[service] = status

    async def List(
        self, request: health_pb2.HealthListRequest, context: ServicerContext
    ) -> health_pb2.HealthListResponse:
        statuses = {name: health_pb2.HealthCheckResponse(status=status) for name, status in self._statuses.items()}
        return health_pb2.HealthListResponse(statuses=statuses)


@dataclass
class ServiceBinding:
    """A servicer and the function that adds it, with the full names health and reflection report."""

    register: Callable[[grpc.aio.Server], None]
    service_names: Iterable[str]


@dataclass
class RunningServer:
    server: grpc.aio.Server
    port: int
    health: MeshHealth
    service_names: list[str] = field(default_factory=list)
    probes: grpc.aio.Server | None = None

    async def stop(self, grace: float = 5.0) -> None:
        for name in [*self.service_names, ""]:
            await self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        if self.probes is not None:
            await self.probes.stop(grace)
        await self.server.stop(grace)


async def create_server(
    address: str,
    bindings: Iterable[ServiceBinding],
    *,
    verifier: TokenVerifier | None,
    credentials: MeshCredentials,
    health_port: int = 0,
) -> RunningServer:
    """Starts a server on `address` (`"[::]:0"` picks a port) with every binding SERVING.

    Callers must present a certificate of the mesh (`credentials` name its CA), and only the identities the
    allow-list names for a method reach it. With `health_port`, the same health answers also go out in
    plaintext on that port of the same host, and nothing else does: Kubernetes' gRPC probes speak no TLS.
    """
    interceptors = [*server_observers(), CallerAccessInterceptor(), ServiceInterceptor(verifier)]
    server = grpc.aio.server(interceptors=interceptors, options=SERVER_OPTIONS)
    health_servicer = MeshHealth()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names: list[str] = []
    for binding in bindings:
        binding.register(server)
        names.extend(binding.service_names)
    reflection.enable_server_reflection([*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    port = server.add_secure_port(address, credentials.server_credentials())
    if port == 0:
        raise OSError(f"cannot listen on {address}")
    await server.start()
    probes = await _serve_health_only(address, health_port, health_servicer) if health_port else None
    for name in [*names, ""]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info("serving %s on port %d", ", ".join(names), port)
    # What starting made lives as long as the process: kept out of the collector's sweeps, so the full
    # collections that steady traffic brings stay short instead of stalling calls.
    gc.freeze()
    return RunningServer(server, port, health_servicer, names, probes)


async def _serve_health_only(address: str, port: int, servicer: MeshHealth) -> grpc.aio.Server:
    server = grpc.aio.server(options=SERVER_OPTIONS)
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    probe_address = f"{address.rpartition(':')[0]}:{port}"
    if server.add_insecure_port(probe_address) == 0:
        raise OSError(f"cannot listen on {probe_address}")
    await server.start()
    return server


async def serve_until_signalled(
    running: RunningServer,
    *,
    on_draining: Callable[[], None] | None = None,
    on_stop: Callable[[], object] | None = None,
) -> None:
    """Waits for SIGTERM or SIGINT, then reports NOT_SERVING and lets in-flight calls finish (`on_draining` first
    ends those that would wait on purpose)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    waiter = asyncio.create_task(running.server.wait_for_termination())
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
    log.info("stopping")
    if on_draining is not None:
        on_draining()
    await running.stop()
    if on_stop is not None:
        result = on_stop()
        if asyncio.iscoroutine(result):
            await result
    for task in (waiter, stopper):
        task.cancel()
