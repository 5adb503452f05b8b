"""What the mesh's mutual TLS costs a call: the same gRPC health check over plaintext (the baseline), over mutual
TLS, and through the services' own server factory (mutual TLS plus the caller allow-list and the other
interceptors), measured in one run on this machine.

    python -m bench.mesh_tls_bench [--calls 3000] [--connections 100]

Reports, for each: the median and p99 of calls one after another on a warm connection, and the time to open a
new connection and make its first call (the handshake); ratios are against plaintext.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from videoforge.kit.mesh_tls import GALLERY, JOB, MeshCredentials, server_name_options
from videoforge.kit.server import create_server
from videoforge.platform.mesh_certificates import ensure_mesh_certificates

REQUEST = health_pb2.HealthCheckRequest()


@dataclass(frozen=True)
class Figures:
    name: str
    p50_us: float
    p99_us: float
    connect_ms: float


async def bare_server(credentials: grpc.ServerCredentials | None) -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    address = "127.0.0.1:0"
    port = server.add_secure_port(address, credentials) if credentials else server.add_insecure_port(address)
    await server.start()
    await servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    return server, port


async def measure(name: str, open_channel: Callable[[], grpc.aio.Channel], calls: int, connections: int) -> Figures:
    async with open_channel() as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for _ in range(200):  # warm up: connection, handshake, caches
            await stub.Check(REQUEST)
        latencies = []
        for _ in range(calls):
            started = time.perf_counter()
            await stub.Check(REQUEST)
            latencies.append(time.perf_counter() - started)
    connects = []
    for _ in range(connections):
        started = time.perf_counter()
        async with open_channel() as fresh:
            await health_pb2_grpc.HealthStub(fresh).Check(REQUEST)
        connects.append(time.perf_counter() - started)
    latencies.sort()
    return Figures(
        name,
        statistics.median(latencies) * 1e6,
        latencies[int(len(latencies) * 0.99)] * 1e6,
        statistics.median(connects) * 1e3,
    )


async def run(calls: int, connections: int) -> list[Figures]:
    files = ensure_mesh_certificates(Path(tempfile.mkdtemp(prefix="vf-mesh-bench-")), [GALLERY, JOB])

    def credentials(identity: str) -> MeshCredentials:
        chosen = files[identity]
        return MeshCredentials.from_files(chosen.ca_file, chosen.cert_file, chosen.key_file)

    server_side, client_side = credentials(JOB), credentials(GALLERY)

    def tls_channel(port: int) -> Callable[[], grpc.aio.Channel]:
        return lambda: grpc.aio.secure_channel(
            f"127.0.0.1:{port}", client_side.channel_credentials(), options=server_name_options(JOB)
        )

    plain, plain_port = await bare_server(None)
    tls, tls_port = await bare_server(server_side.server_credentials())
    kit = await create_server("127.0.0.1:0", [], verifier=None, credentials=server_side)
    cases: list[tuple[str, Callable[[], grpc.aio.Channel], Callable[[], Awaitable[object]]]] = [
        ("plaintext", lambda: grpc.aio.insecure_channel(f"127.0.0.1:{plain_port}"), lambda: plain.stop(0)),
        ("mutual TLS", tls_channel(tls_port), lambda: tls.stop(0)),
        ("service server (mTLS + every interceptor)", tls_channel(kit.port), lambda: kit.stop(0)),
    ]
    results = []
    try:
        for name, channel, _ in cases:
            results.append(await measure(name, channel, calls, connections))
    finally:
        for _, _, stop in cases:
            await stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--connections", type=int, default=100)
    args = parser.parse_args()
    results = asyncio.run(run(args.calls, args.connections))
    base = results[0]
    print(f"{'':42} {'p50 µs':>8} {'p99 µs':>8} {'connect ms':>11}   ratios p50 / p99 / connect")
    for figures in results:
        print(
            f"{figures.name:42} {figures.p50_us:8.0f} {figures.p99_us:8.0f} {figures.connect_ms:11.2f}   "
            f"{figures.p50_us / base.p50_us:.2f} / {figures.p99_us / base.p99_us:.2f} / "
            f"{figures.connect_ms / base.connect_ms:.2f}"
        )


if __name__ == "__main__":
    main()
