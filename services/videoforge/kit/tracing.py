"""OpenTelemetry traces across the mesh: W3C `traceparent` in gRPC metadata and inside queue messages.

Spans are recorded only when somewhere takes them: OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set (the SDK's
other OTEL_EXPORTER_OTLP_* variables, headers say, apply too), JSON lines when TRACES_FILE is. Otherwise the
API's no-op tracer stays in place and calls between services carry no trace context (the client interceptor
alone would cost more than a trivial call's own work); a caller's `traceparent` still labels the log lines of
the service it reached, for a header parse per call.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import grpc
from grpc.aio import ClientCallDetails, Metadata, ServicerContext
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from videoforge.kit.metrics import status_code_name
from videoforge.kit.rpc_handlers import wrap_handler
from videoforge.kit.settings import Settings

TRACER_NAME = "videoforge"
# Where a queue message carries the trace of the request that enqueued it.
PAYLOAD_KEY = "trace_context"
# Calls that would each start a trace of their own every second or two, for nothing: health checks, reflection,
# and the gallery's long poll of job events (a trace a poll, with no user's request in it).
_UNTRACED_PREFIXES = (
    "/grpc.health.v1.",
    "/grpc.reflection.",
    "/videoforge.job.v1.JobInternalService/ListJobEvents",
    "/videoforge.job.v1.JobInternalService/AcknowledgeJobEvents",
)
_PROPAGATOR = TraceContextTextMapPropagator()

Shutdown = Callable[[], None]


def configure_tracing(settings: Settings, process_name: str) -> Shutdown:
    """Installs a recording tracer provider when an exporter is configured; returns what flushes it at exit."""
    exporters: list[SpanExporter] = []
    if settings.otel_exporter_otlp_endpoint:
        # Imported only when used: it brings its own gRPC channel and protobuf types.
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        exporters.append(OTLPSpanExporter(endpoint=settings.otel_exporter_otlp_endpoint))
    if settings.traces_file is not None:
        exporters.append(JsonLinesSpanExporter(settings.traces_file))
    if not exporters:
        return lambda: None
    provider = TracerProvider(resource=Resource.create({"service.name": f"videoforge-{process_name}"}))
    for exporter in exporters:
        # Batched on a thread of its own: a call never waits for an export.
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return provider.shutdown


class JsonLinesSpanExporter(SpanExporter):
    """Appends each finished span as one JSON line. Every process of a platform may share the file: each line
    goes out in a single append."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = [span.to_json(indent=None) + "\n" for span in spans]
        with self._lock:
            fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                for line in lines:
                    os.write(fd, line.encode())
            finally:
                os.close(fd)
        return SpanExportResult.SUCCESS


def tracing_enabled() -> bool:
    """Whether spans are being recorded here (a recording provider is installed)."""
    return isinstance(trace.get_tracer_provider(), TracerProvider)


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


# Queue messages.


def with_trace_context(payload: Mapping[str, Any]) -> dict[str, Any]:
    """`payload` carrying the current trace, so the worker that takes the message continues it. A payload that
    already carries one (an outbox row relayed later, outside any request) keeps it."""
    carried = dict(payload)
    if PAYLOAD_KEY not in carried:
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier)
        if carrier:
            carried[PAYLOAD_KEY] = carrier
    return carried


def trace_context_of(payload: Mapping[str, Any]) -> otel_context.Context:
    """The trace a queue message carries (an empty context when it carries none)."""
    carrier = payload.get(PAYLOAD_KEY)
    return _PROPAGATOR.extract(carrier if isinstance(carrier, dict) else {})


# Log lines.


class TraceIdLogFilter(logging.Filter):
    """Puts the current trace and span ids on every record, for the log formatter to print."""

    def filter(self, record: logging.LogRecord) -> bool:
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            record.trace_id = trace.format_trace_id(span_context.trace_id)
            record.span_id = trace.format_span_id(span_context.span_id)
        return True


# gRPC.


def _rpc_attributes(full_method: str) -> dict[str, str]:
    service, _, method = full_method.lstrip("/").rpartition("/")
    return {"rpc.system": "grpc", "rpc.service": service, "rpc.method": method}


class RpcTracingInterceptor(grpc.aio.ServerInterceptor):
    """A SERVER span per call, child of the caller's `traceparent`, current while the handler runs."""

    def __init__(self, provider: trace.TracerProvider | None = None) -> None:
        self._provider = provider

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if method.startswith(_UNTRACED_PREFIXES):
            return handler
        carrier = {item.key: _text(item.value) for item in handler_call_details.invocation_metadata or ()}
        if "traceparent" not in carrier and not tracing_enabled():
            return handler  # nothing to record, and no caller's trace for the log lines
        parent = _PROPAGATOR.extract(carrier)
        return wrap_handler(handler, self._unary(method, parent), self._stream(method, parent))

    def _tracer(self) -> trace.Tracer:
        return trace.get_tracer(TRACER_NAME, tracer_provider=self._provider)

    def _unary(self, method: str, parent: otel_context.Context) -> Callable[..., Any]:
        def wrap(behaviour: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
            async def traced(request: Any, context: ServicerContext) -> Any:
                with self._tracer().start_as_current_span(
                    method.lstrip("/"), context=parent, kind=SpanKind.SERVER, attributes=_rpc_attributes(method),
                    record_exception=False, set_status_on_exception=False,
                ) as span:  # fmt: skip
                    error = None
                    try:
                        return await behaviour(request, context)
                    except BaseException as raised:
                        error = raised
                        raise
                    finally:
                        _end_server_span(span, status_code_name(context, error))

            return traced

        return wrap

    def _stream(self, method: str, parent: otel_context.Context) -> Callable[..., Any]:
        def wrap(behaviour: Callable[..., AsyncIterator[Any]]) -> Callable[..., Any]:
            async def traced(request: Any, context: ServicerContext) -> AsyncIterator[Any]:
                span = self._tracer().start_span(
                    method.lstrip("/"), context=parent, kind=SpanKind.SERVER, attributes=_rpc_attributes(method)
                )
                error = None
                try:
                    # Current only while the handler itself runs: a stream's items are sent from between steps.
                    stream = behaviour(request, context)
                    while True:
                        with trace.use_span(span, end_on_exit=False, record_exception=False):
                            try:
                                item = await anext(stream)
                            except StopAsyncIteration:
                                break
                        yield item
                except BaseException as raised:
                    error = raised
                    raise
                finally:
                    _end_server_span(span, status_code_name(context, error))
                    span.end()

            return traced

        return wrap


def _end_server_span(span: trace.Span, code: str) -> None:
    span.set_attribute("rpc.grpc.status_code", grpc.StatusCode[code].value[0])
    # Server spans mark only faults of the server as errors; a caller's bad request is not one.
    if code in ("UNKNOWN", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "DEADLINE_EXCEEDED", "UNIMPLEMENTED"):
        span.set_status(Status(StatusCode.ERROR, code))


class RpcClientTracingInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    """A CLIENT span per unary call, whose `traceparent` goes out in the call's metadata."""

    def __init__(self, provider: trace.TracerProvider | None = None) -> None:
        self._provider = provider

    async def intercept_unary_unary(
        self,
        continuation: Callable[[ClientCallDetails, Any], Any],
        client_call_details: ClientCallDetails,
        request: Any,
    ) -> Any:
        method = _text(client_call_details.method)
        if method.startswith(_UNTRACED_PREFIXES):
            return await continuation(client_call_details, request)
        tracer_ = trace.get_tracer(TRACER_NAME, tracer_provider=self._provider)
        with tracer_.start_as_current_span(
            method.lstrip("/"), kind=SpanKind.CLIENT, attributes=_rpc_attributes(method),
            record_exception=False, set_status_on_exception=False,
        ) as span:  # fmt: skip
            metadata = Metadata(*tuple(client_call_details.metadata or ()))
            carrier: dict[str, str] = {}
            _PROPAGATOR.inject(carrier)
            for key, value in carrier.items():
                metadata.add(key, value)
            call = await continuation(client_call_details._replace(metadata=metadata), request)
            code = await call.code()
            span.set_attribute("rpc.grpc.status_code", code.value[0])
            if code != grpc.StatusCode.OK:
                span.set_status(Status(StatusCode.ERROR, code.name))
            return call


def _text(value: str | bytes) -> str:
    return value if isinstance(value, str) else value.decode()
