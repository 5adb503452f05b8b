"""What every process wires in for metrics and traces: the interceptors, and the start of both at launch."""

from __future__ import annotations

import grpc

from videoforge.kit.metrics import RpcMetricsInterceptor, serve_metrics
from videoforge.kit.settings import Settings
from videoforge.kit.tracing import (
    RpcClientTracingInterceptor,
    RpcTracingInterceptor,
    Shutdown,
    configure_tracing,
    tracing_enabled,
)


def server_observers() -> list[grpc.aio.ServerInterceptor]:
    # Tracing outermost: the metrics, the access log and the handler's own log lines all run inside the span.
    return [RpcTracingInterceptor(), RpcMetricsInterceptor()]


def client_observers() -> list[grpc.aio.ClientInterceptor]:
    """Traced calls when spans are recorded; none otherwise: gRPC's client interceptors cost more than the rest."""
    return [RpcClientTracingInterceptor()] if tracing_enabled() else []


def start_observability(settings: Settings, process_name: str) -> Shutdown:
    """Serves this process's metrics and installs its tracer; returns what flushes the traces at exit. Call it
    before opening channels: whether they trace is decided when they open."""
    serve_metrics(settings)
    return configure_tracing(settings, process_name)
