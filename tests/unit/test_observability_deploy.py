"""What operators scrape, chart and scale on holds together offline: every pod serves its metrics where its
annotations say, the Grafana dashboard charts every metric family the platform exports, and the Prometheus-based
worker scaler builds, matches KEDA's CRD and asks for metrics that exist."""

from __future__ import annotations

import functools
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from prometheus_client import REGISTRY
from referencing import Registry

import videoforge.job.adapters.platform_gauges
import videoforge.kit.metrics
import videoforge.transcoder.observed_stages  # noqa: F401  (each module registers its metrics on import)
from tests.fixtures.envoy import envoy_binary
from tests.fixtures.mesh_pki import MeshPki
from tests.unit.test_deploy_manifests import (
    EDGE,
    KEDA_SCHEMAS,
    KUBERNETES,
    WORKER,
    config_data,
    kubernetes_definitions,
    pod_spec,
    render_script,
    videoforge_deployments,
)
from videoforge.gateway.envoy_config import render_envoy_config, write_envoy_config
from videoforge.kit.mesh_tls import EDGE as EDGE_IDENTITY

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "videoforge-dashboard.json"
PROMETHEUS_SCALING = ROOT / "deploy" / "prometheus-scaling"


def exported_families() -> set[str]:
    return {metric.name for metric in REGISTRY.collect() if metric.name.startswith("videoforge_")}


def test_every_videoforge_pod_serves_metrics_on_the_port_its_annotations_name() -> None:
    port = int(config_data()["METRICS_PORT"])
    assert config_data()["METRICS_HOST"] == "0.0.0.0", "Prometheus scrapes pods from outside them"
    assert set(videoforge_deployments()) >= {"identity", "gallery", "job", "streaming", "transcoder", WORKER}
    for deployment in videoforge_deployments():
        (container,) = pod_spec(deployment)["containers"]
        assert {"name": "metrics", "containerPort": port} in container["ports"], deployment
        template = next(
            document
            for document in yaml.safe_load_all((ROOT / "deploy" / "kubernetes" / f"{deployment}.yaml").read_text())
            if document and document["kind"] == "Deployment"
        )["spec"]["template"]
        annotations = template["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true", deployment
        assert int(annotations["prometheus.io/port"]) == port, deployment


def test_the_edge_pod_serves_only_its_prometheus_stats_to_the_cluster(mesh_pki: MeshPki, tmp_path: Path) -> None:
    stats_port, admin_port = int(config_data()["EDGE_STATS_PORT"]), int(config_data()["EDGE_ADMIN_PORT"])
    # The pod's mesh certificate paths, replaced by real files here, so Envoy can check the whole bootstrap.
    configured = render_script().settings_from(KUBERNETES / "config.yaml", {})
    settings = configured.model_copy(update=mesh_pki.settings(EDGE_IDENTITY))
    bootstrap = render_envoy_config(settings)
    assert bootstrap["admin"]["address"]["socket_address"] == {"address": "127.0.0.1", "port_value": admin_port}
    (listener,) = [item for item in bootstrap["static_resources"]["listeners"] if item["name"] == "edge_stats"]
    assert listener["address"]["socket_address"]["port_value"] == stats_port
    manager = listener["filter_chains"][0]["filters"][0]["typed_config"]
    (route,) = [route for host in manager["route_config"]["virtual_hosts"] for route in host["routes"]]
    assert route["match"]["path"] == "/stats/prometheus"
    (admin,) = [c for c in bootstrap["static_resources"]["clusters"] if c["name"] == route["route"]["cluster"]]
    endpoint = admin["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"]
    assert endpoint == {"address": "127.0.0.1", "port_value": admin_port}
    (container,) = pod_spec(EDGE)["containers"]
    assert {"name": "metrics", "containerPort": stats_port} in container["ports"]
    path = write_envoy_config(settings, tmp_path / "envoy.json")
    checked = subprocess.run(
        [envoy_binary(), "--mode", "validate", "--config-path", str(path), "--disable-hot-restart"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout[-2000:] + checked.stderr[-2000:]


@functools.cache
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def test_the_dashboard_charts_every_metric_family_and_the_edge() -> None:
    expressions = " ".join(target["expr"] for panel in dashboard()["panels"] for target in panel["targets"])
    charted = set(re.findall(r"videoforge_[a-z_]+", expressions))
    suffixes = ("_bucket", "_count", "_sum")
    charted = {next((name.removesuffix(s) for s in suffixes if name.endswith(s)), name) for name in charted}
    assert exported_families() - charted == set()
    assert charted - exported_families() == set(), "a panel charts a metric nothing exports"
    assert "envoy_" in expressions
    ids = [panel["id"] for panel in dashboard()["panels"]]
    assert len(ids) == len(set(ids))


@functools.cache
def prometheus_scaled() -> list[dict[str, Any]]:
    built = subprocess.run(
        ["kubectl", "kustomize", str(PROMETHEUS_SCALING)], capture_output=True, text=True, timeout=60, check=False
    )
    assert built.returncode == 0, built.stderr
    return [document for document in yaml.safe_load_all(built.stdout) if document]


def test_the_prometheus_scaled_workers_match_kedas_crd_and_ask_for_exported_metrics() -> None:
    (scaled,) = [document for document in prometheus_scaled() if document["kind"] == "ScaledObject"]
    definitions = kubernetes_definitions()
    registry: Registry[Any] = Registry().with_resource(definitions.contents["$id"], definitions)
    validator = jsonschema.Draft202012Validator(KEDA_SCHEMAS["ScaledObject"], registry=registry)
    assert [error.message for error in validator.iter_errors(scaled)] == []
    assert scaled["spec"]["scaleTargetRef"]["name"] == WORKER
    triggers = scaled["spec"]["triggers"]
    assert {trigger["type"] for trigger in triggers} == {"prometheus"}
    asked = {re.search(r"videoforge_[a-z_]+", trigger["metadata"]["query"]).group(0) for trigger in triggers}  # type: ignore[union-attr]
    assert asked == {"videoforge_queue_depth", "videoforge_queue_oldest_waiting_age_seconds"}
    assert asked <= exported_families()
    for trigger in triggers:
        assert float(trigger["metadata"]["threshold"]) > 0


@pytest.mark.parametrize("kind", ["Deployment", "Service", "ConfigMap"])
def test_the_prometheus_scaled_overlay_keeps_the_whole_platform(kind: str) -> None:
    base = subprocess.run(
        ["kubectl", "kustomize", str(ROOT / "deploy" / "kubernetes")], capture_output=True, text=True, timeout=60
    ).stdout
    expected = sorted(d["metadata"]["name"] for d in yaml.safe_load_all(base) if d and d["kind"] == kind)
    assert sorted(d["metadata"]["name"] for d in prometheus_scaled() if d["kind"] == kind) == expected
