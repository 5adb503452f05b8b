"""Prometheus metrics: every process serves its own on METRICS_HOST:METRICS_PORT, all named `videoforge_*`.

Here: the endpoint, and the RPC latency every gRPC server records. The job service's gauges (queue, jobs by
state, bytes stored) and the worker's stage timings live beside the code that knows them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from grpc.aio import ServicerContext
from prometheus_client import Histogram, start_http_server

from videoforge.kit.rpc_handlers import wrap_handler
from videoforge.kit.settings import Settings

log = logging.getLogger(__name__)

RPC_SECONDS = Histogram(
    "videoforge_rpc_server_duration_seconds",
    "Time a gRPC server took to answer, by service, method and status code.",
    ["grpc_service", "grpc_method", "grpc_code"],
    # From a cached read (~1 ms) to a probe of a large upload (tens of seconds).
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)


def serve_metrics(settings: Settings) -> int | None:
    """Serves /metrics on `settings.metrics_host:metrics_port` from a thread; None when the port is 0.

    A port that is taken is logged, not fatal: a process without metrics still serves its users.
    """
    if not settings.metrics_port:
        return None
    try:
        start_http_server(settings.metrics_port, addr=settings.metrics_host)
    except OSError as error:
        log.error("cannot serve metrics on %s:%d: %s", settings.metrics_host, settings.metrics_port, error)
        return None
    log.info("metrics on http://%s:%d/metrics", settings.metrics_host, settings.metrics_port)
    return settings.metrics_port


def status_code_name(context: ServicerContext, error: BaseException | None) -> str:
    """The status the call ended with: what the handler set or aborted with, else what its error implies."""
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code.name
    if isinstance(code, int):
        return next((status.name for status in grpc.StatusCode if status.value[0] == code), "UNKNOWN")
    if error is None:
        return "OK"
    # Cancelled: the caller went away (or its deadline passed) while the handler ran; not a server fault.
    return "CANCELLED" if isinstance(error, (asyncio.CancelledError, GeneratorExit)) else "UNKNOWN"


class RpcMetricsInterceptor(grpc.aio.ServerInterceptor):
    """Records each call's latency under its service, method and final status code."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        service, _, method = handler_call_details.method.lstrip("/").rpartition("/")
        return wrap_handler(handler, self._unary(service, method), self._stream(service, method))

    @staticmethod
    def _unary(service: str, method: str) -> Callable[[Callable[..., Awaitable[Any]]], Callable[..., Awaitable[Any]]]:
        def wrap(behaviour: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
            async def timed(request: Any, context: ServicerContext) -> Any:
                started, error = time.perf_counter(), None
                try:
                    return await behaviour(request, context)
                except BaseException as raised:
                    error = raised
                    raise
                finally:
                    _observe(service, method, status_code_name(context, error), started)

            return timed

        return wrap

    @staticmethod
    def _stream(service: str, method: str) -> Callable[[Callable[..., AsyncIterator[Any]]], Callable[..., Any]]:
        def wrap(behaviour: Callable[..., AsyncIterator[Any]]) -> Callable[..., Any]:
            async def timed(request: Any, context: ServicerContext) -> AsyncIterator[Any]:
                started, error = time.perf_counter(), None
                try:
                    async for item in behaviour(request, context):
                        yield item
                except BaseException as raised:
                    error = raised
                    raise
                finally:
                    _observe(service, method, status_code_name(context, error), started)

            return timed

        return wrap


def _observe(service: str, method: str, code: str, started: float) -> None:
    RPC_SECONDS.labels(service, method, code).observe(time.perf_counter() - started)
