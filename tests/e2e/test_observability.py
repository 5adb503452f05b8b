"""Metrics and traces of a running platform, as an operator finds them: `videoforge up --traces-file` prints where
every process's metrics are; after an upload is transcoded each endpoint answers with `videoforge_` metrics, the
edge's stats answer too, and one trace runs from the confirm call through the worker to the completion it
reports, with log lines that carry its id."""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from tests.fixtures.platform import RunningPlatform, start_platform, stop_platform
from tests.media_factory import MediaFactory
from tests.waiting import wait_until
from videoforge.client.edge import EdgeClient
from videoforge.platform.ports import free_port

pytestmark = pytest.mark.e2e
PROCESSES = ("identity", "gallery", "job", "streaming", "transcoder", "worker-1")


class Collector(trace_service_pb2_grpc.TraceServiceServicer):
    """An OpenTelemetry Collector's OTLP/gRPC trace endpoint, keeping what it is sent."""

    def __init__(self) -> None:
        self.requests: list[trace_service_pb2.ExportTraceServiceRequest] = []

    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.requests.append(request)
        return trace_service_pb2.ExportTraceServiceResponse()

    def spans(self) -> list[tuple[str, str, str]]:
        """(service.name, span name, trace id in hex) of every span received."""
        received = []
        for request in list(self.requests):
            for resource_spans in request.resource_spans:
                attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                for scope in resource_spans.scope_spans:
                    for span in scope.spans:
                        received.append((attributes["service.name"], span.name, span.trace_id.hex()))
        return received


@pytest.fixture(scope="module")
def collector() -> Iterator[tuple[Collector, int]]:
    server = grpc.server(ThreadPoolExecutor(max_workers=4))
    kept = Collector()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(kept, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield kept, port
    finally:
        server.stop(0)


@pytest.fixture(scope="module")
def observed(
    tmp_path_factory: pytest.TempPathFactory, collector: tuple[Collector, int]
) -> Iterator[tuple[RunningPlatform, dict[str, str]]]:
    """A platform writing traces to its data dir and to an OTLP collector, and the lines `up` printed about where
    its metrics are."""
    stats_port = free_port()
    otlp = f"http://127.0.0.1:{collector[1]}"
    environment = {"EDGE_STATS_PORT": str(stats_port), "OTEL_EXPORTER_OTLP_ENDPOINT": otlp}
    running = start_platform(tmp_path_factory.mktemp("observed"), free_port(), "--traces-file", environment=environment)
    try:
        yield running, {**_printed_locations(running), "stats port": str(stats_port)}
    finally:
        stop_platform(running.process)


def _printed_locations(running: RunningPlatform) -> dict[str, str]:
    """`Metrics of NAME: URL`, `Edge stats: URL` and `Traces (JSON lines): PATH`, as printed once it is up."""
    assert running.process.stdout is not None
    os.set_blocking(running.process.stdout.fileno(), False)
    text = ""

    def printed() -> bool:
        nonlocal text
        text += (running.process.stdout.read() or b"").decode()  # type: ignore[union-attr]
        return "Traces (JSON lines):" in text

    wait_until(printed, timeout=10)
    return dict(re.findall(r"^(Metrics of [\w-]+|Edge stats|Traces \(JSON lines\)): (\S+)$", text, re.MULTILINE))


@pytest.fixture(scope="module")
async def transcoded(observed: tuple[RunningPlatform, dict[str, str]], media_factory: MediaFactory) -> dict[str, Any]:
    running, _ = observed
    client = EdgeClient(running.url)
    client.register(f"observer-{uuid.uuid4().hex[:8]}@example.com", "observe-pass-1")
    clip = await media_factory.no_audio(seconds=2)
    video = client.upload(clip, title="observed")
    job = client.wait_for_job(video["latestJob"]["jobId"], timeout=300)
    assert job["status"] == "COMPLETED"
    return {"video": video, "job": job}


def _scrape(url: str) -> dict[str, float]:
    """Sample name with labels -> value, for the `videoforge_` samples of a metrics endpoint."""
    text = httpx.get(url, timeout=5).text
    samples = {}
    for line in text.splitlines():
        if line.startswith("videoforge_"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def _total(samples: dict[str, float], prefix: str) -> float:
    return sum(value for name, value in samples.items() if name.startswith(prefix))


def test_up_prints_where_each_process_serves_its_metrics_and_the_edge_its_stats(
    observed: tuple[RunningPlatform, dict[str, str]],
) -> None:
    running, printed = observed
    for name in PROCESSES:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/metrics", printed[f"Metrics of {name}"]), name
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/stats/prometheus", printed["Edge stats"])
    assert Path(printed["Traces (JSON lines)"]) == running.data_dir.resolve() / "traces.jsonl"
    ports = [int(url.split(":")[2].split("/")[0]) for url in printed.values() if url.startswith("http")]
    assert len(set(ports)) == len(ports), "every process has a port of its own"


def test_every_service_counts_its_rpcs_by_method_and_code(
    observed: tuple[RunningPlatform, dict[str, str]], transcoded: dict[str, Any]
) -> None:
    _, printed = observed
    calls = {}
    for name in ("identity", "gallery", "job", "transcoder"):
        samples = _scrape(printed[f"Metrics of {name}"])
        calls[name] = {
            re.search(r'grpc_method="(\w+)"', sample).group(1)  # type: ignore[union-attr]
            for sample, value in samples.items()
            if sample.startswith("videoforge_rpc_server_duration_seconds_count") and 'grpc_code="OK"' in sample
            and value > 0 and "grpc.health" not in sample
        }  # fmt: skip
    assert "Register" in calls["identity"]
    assert "ConfirmUpload" in calls["gallery"]
    assert {"CreateJob", "StartAttempt", "CompleteAttempt"} <= calls["job"]
    assert "ProbeMedia" in calls["transcoder"]
    # Streaming has served only health checks so far: its endpoint still answers with the histogram.
    assert _total(_scrape(printed["Metrics of streaming"]), "videoforge_rpc_server_duration_seconds_count") > 0


def test_the_job_service_exports_jobs_by_state_the_queue_and_bytes_stored(
    observed: tuple[RunningPlatform, dict[str, str]], transcoded: dict[str, Any]
) -> None:
    _, printed = observed
    url = printed["Metrics of job"]
    # The gauges are refreshed every few seconds from the job service's own records.
    samples = wait_until(lambda: (s := _scrape(url)) and s.get('videoforge_jobs{state="COMPLETED"}', 0) >= 1 and s, 15)
    assert samples["videoforge_queue_depth"] == 0
    assert samples["videoforge_queue_oldest_waiting_age_seconds"] == 0
    assert samples['videoforge_jobs{state="FAILED"}'] == 0
    assert samples['videoforge_stored_bytes{kind="outputs"}'] > 0
    assert samples['videoforge_stored_bytes{kind="sources"}'] > 0


def test_the_worker_exports_stage_durations_and_encode_speed(
    observed: tuple[RunningPlatform, dict[str, str]], transcoded: dict[str, Any]
) -> None:
    _, printed = observed
    samples = _scrape(printed["Metrics of worker-1"])
    for stage in ("download", "probe", "encode", "package", "extras", "upload"):
        assert samples[f'videoforge_transcode_stage_duration_seconds_count{{stage="{stage}"}}'] >= 1, stage
    assert samples["videoforge_encode_speed_ratio_count"] >= 1
    assert samples["videoforge_encode_speed_ratio_sum"] > 0


def test_the_edge_serves_its_own_stats_in_prometheus_format(
    observed: tuple[RunningPlatform, dict[str, str]], transcoded: dict[str, Any]
) -> None:
    _, printed = observed
    text = httpx.get(printed["Edge stats"], timeout=5).text
    requests = re.findall(r'^envoy_cluster_upstream_rq_total\{envoy_cluster_name="gallery"\} (\d+)$', text, re.M)
    assert requests and int(requests[0]) > 0


def test_the_edge_runs_one_worker_thread_beside_the_services_by_default(
    observed: tuple[RunningPlatform, dict[str, str]],
) -> None:
    _, printed = observed
    text = httpx.get(printed["Edge stats"], timeout=5).text
    assert re.findall(r"^envoy_server_concurrency\{\} (\d+)$", text, re.M) == ["1"]


def test_the_edge_stats_port_passes_on_its_prometheus_stats_and_nothing_else_of_the_admin(
    observed: tuple[RunningPlatform, dict[str, str]],
) -> None:
    running, printed = observed
    stats = f"http://127.0.0.1:{printed['stats port']}"
    answer = httpx.get(f"{stats}/stats/prometheus", timeout=5)
    assert answer.status_code == 200 and "envoy_cluster_upstream_rq_total" in answer.text
    for method, path in (("POST", "/quitquitquit"), ("GET", "/config_dump"), ("POST", "/stats/prometheus")):
        assert httpx.request(method, f"{stats}{path}", timeout=5).status_code == 404, path
    # The public port has no such route (the web app may answer the path with its page, never with stats).
    assert "envoy_" not in httpx.get(f"{running.url}/stats/prometheus", timeout=5).text
    assert httpx.get(f"{running.url}/healthz", timeout=5).status_code == 200


def _finished_spans(traces: Path) -> list[dict[str, Any]]:
    """The spans written so far: whole lines only, as processes may be appending meanwhile."""
    text = traces.read_text() if traces.exists() else ""
    return [json.loads(line) for line in text.split("\n")[:-1]]


def test_one_trace_spans_confirm_the_worker_and_the_completion_and_log_lines_carry_it(
    observed: tuple[RunningPlatform, dict[str, str]], transcoded: dict[str, Any]
) -> None:
    running, printed = observed
    traces = Path(printed["Traces (JSON lines)"])

    def job_trace() -> list[dict[str, Any]]:
        spans = _finished_spans(traces)
        confirms = [s for s in spans if s["name"].endswith("/ConfirmUpload") and s["kind"] == "SpanKind.SERVER"]
        if not confirms:
            return []
        trace_id = confirms[-1]["context"]["trace_id"]
        in_trace = [s for s in spans if s["context"]["trace_id"] == trace_id]
        # Spans are written in batches every few seconds: wait for the completion's.
        done = any(s["name"].endswith("/CompleteAttempt") and s["kind"] == "SpanKind.SERVER" for s in in_trace)
        return in_trace if done else []

    spans = wait_until(job_trace, timeout=20, step=0.5)
    # Polls and health checks make no traces of their own: the file holds what users' requests did.
    every_name = {span["name"] for span in _finished_spans(traces)}
    assert not {name for name in every_name if name.endswith(("/ListJobEvents", "/Check"))}
    services = {s["resource"]["attributes"]["service.name"] for s in spans}
    names = {s["name"] for s in spans}
    assert {"videoforge-gallery", "videoforge-job", "videoforge-worker"} <= services
    assert {"transcode job", "stage download", "stage encode", "stage package", "stage upload"} <= names
    assert {
        "videoforge.job.v1.JobInternalService/CreateJob",
        "videoforge.job.v1.JobInternalService/StartAttempt",
    } <= names
    (delivery,) = [s for s in spans if s["name"] == "transcode job"]
    assert delivery["attributes"]["videoforge.job_id"] == transcoded["job"]["id"]
    trace_id = spans[0]["context"]["trace_id"].removeprefix("0x")
    for process in ("gallery", "job", "worker-1"):
        lines = [json.loads(line) for line in running.log(process).splitlines() if line.startswith("{")]
        assert any(line.get("trace_id") == trace_id for line in lines), process


def test_spans_also_go_over_otlp_when_a_collector_is_configured(
    collector: tuple[Collector, int], transcoded: dict[str, Any]
) -> None:
    kept, _ = collector

    def completion_received() -> set[str]:
        spans = kept.spans()
        confirms = {trace for _, name, trace in spans if name.endswith("/ConfirmUpload")}
        return {service for service, name, trace in spans if trace in confirms} >= {
            "videoforge-gallery", "videoforge-job", "videoforge-worker"
        } and confirms  # fmt: skip

    assert wait_until(completion_received, timeout=20, step=0.5)
