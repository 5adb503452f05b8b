"""What metrics and traces cost a call: a trivial unary call through the services' own server factory and mesh
channel, with the observers taken out (the baseline), as every process runs by default (metrics, no traces
exporter), and with every span recorded and written to a traces file, measured in one run on this machine.

    python -m bench.observability_bench [--calls 2000] [--rounds 5]

Reports CPU microseconds per call (client and server share the process, so both sides count), best of the
rounds; ratios are against the baseline. Traces are switched on last: a process installs its tracer once.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import grpc
from google.protobuf.wrappers_pb2 import StringValue

from videoforge.kit import caller_access, clients, server
from videoforge.kit.clients import open_channel
from videoforge.kit.mesh_tls import EDGE, GALLERY, MeshCredentials
from videoforge.kit.server import ServiceBinding, create_server
from videoforge.kit.settings import Settings
from videoforge.kit.tracing import configure_tracing
from videoforge.platform.mesh_certificates import ensure_mesh_certificates

SERVICE = "bench.v1.Echo"
SERIALIZED = {"request_serializer": StringValue.SerializeToString, "response_deserializer": StringValue.FromString}


async def echo(request: StringValue, context: grpc.aio.ServicerContext) -> StringValue:
    return request


async def cpu_per_call(credentials: dict[str, MeshCredentials], calls: int) -> float:
    handler = grpc.unary_unary_rpc_method_handler(
        echo, request_deserializer=StringValue.FromString, response_serializer=StringValue.SerializeToString
    )
    generic = grpc.method_handlers_generic_handler(SERVICE, {"Say": handler})
    binding = ServiceBinding(lambda s: s.add_generic_rpc_handlers((generic,)), [SERVICE])
    running = await create_server("127.0.0.1:0", [binding], verifier=None, credentials=credentials[GALLERY])
    channel = open_channel(f"127.0.0.1:{running.port}", server=GALLERY, credentials=credentials[EDGE])
    say = channel.unary_unary(f"/{SERVICE}/Say", **SERIALIZED)
    for _ in range(200):  # warm up: connection, handshake, caches
        await say(StringValue(value="x"), timeout=5)
    started = time.process_time()
    for _ in range(calls):
        await say(StringValue(value="x"), timeout=5)
    spent = time.process_time() - started
    await channel.close()
    await running.stop(0)
    return spent / calls * 1e6


def best_of(rounds: int, credentials: dict[str, MeshCredentials], calls: int) -> float:
    return min(asyncio.run(cpu_per_call(credentials, calls)) for _ in range(rounds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    # The bench's own service, open to any identity of the mesh, as the allow-list would name a real one.
    caller_access.ALLOWED_CALLERS = {**caller_access.ALLOWED_CALLERS, SERVICE: caller_access.ANY_MESH_IDENTITY}
    with tempfile.TemporaryDirectory() as folder:
        files = ensure_mesh_certificates(Path(folder) / "mesh")
        credentials = {
            name: MeshCredentials.from_files(files[name].ca_file, files[name].cert_file, files[name].key_file)
            for name in (GALLERY, EDGE)
        }
        with_observers = server.server_observers, clients.client_observers
        server.server_observers, clients.client_observers = list, list  # type: ignore[assignment]
        baseline = best_of(args.rounds, credentials, args.calls)
        server.server_observers, clients.client_observers = with_observers  # type: ignore[assignment]
        default = best_of(args.rounds, credentials, args.calls)
        flush = configure_tracing(Settings(traces_file=Path(folder) / "traces.jsonl"), "bench")
        traced = best_of(args.rounds, credentials, args.calls)
        flush()
    print(f"{'':32} CPU µs/call  ratio")
    for name, value in (
        ("no observers (baseline)", baseline),
        ("metrics, no traces exporter", default),
        ("metrics, spans to a traces file", traced),
    ):
        print(f"{name:32} {value:11.1f}  {value / baseline:5.2f}")


if __name__ == "__main__":
    main()
