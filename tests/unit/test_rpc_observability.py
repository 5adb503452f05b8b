"""Metrics and traces of gRPC calls, over real channels between servers made by the services' own factory: one
trace across two hops, latency counted by method and code, and log lines that name the trace."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf.wrappers_pb2 import StringValue
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY

from tests.fixtures.mesh_pki import MeshPki
from tests.waiting import wait_until_async
from videoforge.kit import caller_access
from videoforge.kit.clients import open_channel
from videoforge.kit.errors import NotFound
from videoforge.kit.grpc_client_errors import translate_rpc_error
from videoforge.kit.mesh_tls import EDGE, GALLERY, JOB
from videoforge.kit.server import RunningServer, ServiceBinding, create_server
from videoforge.kit.tracing import JsonLinesSpanExporter, TraceIdLogFilter

SERVICE = "test.v1.Relay"
ANY_MESH = caller_access.ANY_MESH_IDENTITY


def _binding(handlers: dict[str, grpc.RpcMethodHandler]) -> ServiceBinding:
    generic = grpc.method_handlers_generic_handler(SERVICE, handlers)
    return ServiceBinding(lambda server: server.add_generic_rpc_handlers((generic,)), [SERVICE])


def _unary(behaviour: object) -> grpc.RpcMethodHandler:
    return grpc.unary_unary_rpc_method_handler(
        behaviour, request_deserializer=StringValue.FromString, response_serializer=StringValue.SerializeToString
    )


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """A recording tracer provider for this test only (the global one can be set once per process)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", provider)
    yield exporter
    provider.shutdown()


@pytest.fixture
async def relay(
    mesh_pki: MeshPki, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[grpc.aio.Channel, RunningServer]]:
    """Two servers: `Forward` on the front one (a gallery) calls `Echo` on the back one (a job service) over an
    ordinary mesh channel; the test calls the front as the edge does."""
    monkeypatch.setattr(caller_access, "ALLOWED_CALLERS", {**caller_access.ALLOWED_CALLERS, SERVICE: ANY_MESH})

    async def echo(request: StringValue, context: grpc.aio.ServicerContext) -> StringValue:
        if request.value == "missing":
            raise NotFound("No such thing.", "THING_NOT_FOUND")
        logging.getLogger("test.echo").info("echoing")
        return request

    back = await create_server(
        "127.0.0.1:0", [_binding({"Echo": _unary(echo)})], verifier=None, credentials=mesh_pki.credentials(JOB)
    )
    back_channel = open_channel(f"127.0.0.1:{back.port}", server=JOB, credentials=mesh_pki.credentials(GALLERY))
    stub = back_channel.unary_unary(
        f"/{SERVICE}/Echo",
        request_serializer=StringValue.SerializeToString,
        response_deserializer=StringValue.FromString,
    )

    async def forward(request: StringValue, context: grpc.aio.ServicerContext) -> StringValue:
        with translate_rpc_error():
            return await stub(request, timeout=5)

    front = await create_server(
        "127.0.0.1:0",
        [_binding({"Forward": _unary(forward)})],
        verifier=None,
        credentials=mesh_pki.credentials(GALLERY),
    )
    channel = open_channel(f"127.0.0.1:{front.port}", server=GALLERY, credentials=mesh_pki.credentials(EDGE))
    try:
        yield channel, front
    finally:
        for closing in (channel, back_channel):
            await closing.close()
        for server in (front, back):
            await server.stop(0)


def _call(channel: grpc.aio.Channel, method: str) -> grpc.aio.UnaryUnaryMultiCallable:
    return channel.unary_unary(
        f"/{SERVICE}/{method}",
        request_serializer=StringValue.SerializeToString,
        response_deserializer=StringValue.FromString,
    )


def _count(method: str, code: str) -> float:
    labels = {"grpc_service": SERVICE, "grpc_method": method, "grpc_code": code}
    return REGISTRY.get_sample_value("videoforge_rpc_server_duration_seconds_count", labels) or 0.0


async def test_one_trace_spans_the_caller_and_both_hops_and_log_lines_name_it(
    spans: InMemorySpanExporter, relay: tuple[grpc.aio.Channel, RunningServer], caplog: pytest.LogCaptureFixture
) -> None:
    channel, _ = relay
    caplog.handler.addFilter(TraceIdLogFilter())
    caplog.set_level(logging.INFO)

    with trace.get_tracer("test").start_as_current_span("user action") as root:
        answer = await _call(channel, "Forward")(StringValue(value="hello"), timeout=5)

    assert answer.value == "hello"
    trace_id = root.get_span_context().trace_id
    finished: list[ReadableSpan] = list(spans.get_finished_spans())
    kinds = sorted((span.name, span.kind.name) for span in finished if span.name != "user action")
    assert kinds == [
        (f"{SERVICE}/Echo", "CLIENT"),
        (f"{SERVICE}/Echo", "SERVER"),
        (f"{SERVICE}/Forward", "CLIENT"),
        (f"{SERVICE}/Forward", "SERVER"),
    ]
    assert {span.context.trace_id for span in finished} == {trace_id}
    by_kind = {(span.name, span.kind.name): span for span in finished}
    # Each hop's server span is the child of its caller's client span.
    for method in ("Forward", "Echo"):
        client, server = by_kind[(f"{SERVICE}/{method}", "CLIENT")], by_kind[(f"{SERVICE}/{method}", "SERVER")]
        assert server.parent is not None and server.parent.span_id == client.context.span_id
    echoed = [record for record in caplog.records if record.name == "test.echo"]
    assert [record.trace_id for record in echoed] == [trace.format_trace_id(trace_id)]  # type: ignore[attr-defined]
    access = [record for record in caplog.records if record.name == "videoforge.rpc"]
    assert access and {record.trace_id for record in access} == {trace.format_trace_id(trace_id)}  # type: ignore[attr-defined]


async def test_latency_is_counted_by_method_and_the_code_the_call_ended_with(
    relay: tuple[grpc.aio.Channel, RunningServer],
) -> None:
    channel, _ = relay
    before = {code: _count("Echo", code) for code in ("OK", "NOT_FOUND")}

    await _call(channel, "Forward")(StringValue(value="x"), timeout=5)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _call(channel, "Forward")(StringValue(value="missing"), timeout=5)

    assert refused.value.code() == grpc.StatusCode.NOT_FOUND
    assert _count("Echo", "OK") == before["OK"] + 1
    # An abort sends its status before the handler unwinds: a refusal is counted a moment after the caller has it.
    await wait_until_async(lambda: _count("Echo", "NOT_FOUND") == before["NOT_FOUND"] + 1, timeout=2)
    # The front server passed the refusal on: its own call ended NOT_FOUND too, and nothing counted INTERNAL.
    await wait_until_async(lambda: _count("Forward", "NOT_FOUND") >= 1, timeout=2)
    assert _count("Forward", "INTERNAL") == 0


async def test_without_a_recording_provider_a_callers_trace_labels_the_log_lines_of_the_service_it_reached(
    relay: tuple[grpc.aio.Channel, RunningServer], caplog: pytest.LogCaptureFixture
) -> None:
    channel, _ = relay
    caplog.handler.addFilter(TraceIdLogFilter())
    caplog.set_level(logging.INFO)
    traceparent = f"00-{0x1234:032x}-{0x5678:016x}-01"

    await _call(channel, "Forward")(StringValue(value="hello"), timeout=5, metadata=(("traceparent", traceparent),))

    forwarded = [r for r in caplog.records if r.name == "videoforge.rpc" and r.getMessage().startswith(f"/{SERVICE}/F")]
    assert [record.trace_id for record in forwarded] == [f"{0x1234:032x}"]  # type: ignore[attr-defined]
    # Nothing is recorded, so nothing is passed on: the next hop's lines carry no trace.
    echoed = [record for record in caplog.records if record.name == "test.echo"]
    assert len(echoed) == 1 and not hasattr(echoed[0], "trace_id")


def test_the_traces_file_holds_one_json_span_per_line(tmp_path: Path) -> None:
    path = tmp_path / "traces.jsonl"
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("outer"), tracer.start_as_current_span("inner"):
        pass

    JsonLinesSpanExporter(path).export(exporter.get_finished_spans())

    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["name"] for line in lines] == ["inner", "outer"]
    assert lines[0]["context"]["trace_id"] == lines[1]["context"]["trace_id"]
