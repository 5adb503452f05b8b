"""Renders the Envoy edge's bootstrap for Kubernetes: the `edge-config` ConfigMap the edge Deployment mounts.

The settings are the environment's, with the `data` of a ConfigMap manifest laid over them when one is
given (`--settings deploy/kubernetes/config.yaml`, what every pod reads). The ConfigMap holds
`envoy.yaml` and the API descriptor set (`videoforge.binpb`) it names; paths on this machine become the
paths Envoy sees in its pod.

    python deploy/render_edge_config.py --settings deploy/kubernetes/config.yaml --output edge-config.yaml
    kubectl apply --server-side -f edge-config.yaml   # too big for client-side apply's annotation
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import certifi
import yaml

from videoforge.gateway.envoy_config import render_envoy_config
from videoforge.gateway.public_api import DEFAULT_DESCRIPTOR
from videoforge.kit.settings import Settings

CONFIG_MAP_NAME = "edge-config"
CONFIG_DIR = "/etc/envoy"  # where the edge Deployment mounts the ConfigMap
BOOTSTRAP_KEY = "envoy.yaml"
DESCRIPTOR_KEY = "videoforge.binpb"
# The envoyproxy/envoy image's CA bundle (Ubuntu's ca-certificates), in place of certifi's on this machine.
IMAGE_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def settings_from(config_map: Path | None, environment: Mapping[str, str]) -> Settings:
    """Settings from `environment`, overridden by the ConfigMap manifest's `data` when one is given."""
    values = dict(environment)
    if config_map is not None:
        document = yaml.safe_load(config_map.read_text())
        if document.get("kind") != "ConfigMap":
            raise ValueError(f"{config_map} is not a ConfigMap manifest")
        values.update({key: str(value) for key, value in (document.get("data") or {}).items()})
    with _process_environment(values):
        return Settings()


@contextmanager
def _process_environment(values: Mapping[str, str]) -> Iterator[None]:
    """Runs the block with exactly `values` as the environment, which is where pydantic-settings reads."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def edge_config_map(settings: Settings, *, namespace: str) -> dict[str, Any]:
    """The ConfigMap manifest: the bootstrap for these settings, and the descriptor set it reads."""
    relocated = {
        str(DEFAULT_DESCRIPTOR.resolve()): f"{CONFIG_DIR}/{DESCRIPTOR_KEY}",
        certifi.where(): IMAGE_CA_BUNDLE,
    }
    bootstrap = _relocate(render_envoy_config(settings, descriptor=DEFAULT_DESCRIPTOR), relocated)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": CONFIG_MAP_NAME,
            "namespace": namespace,
            "labels": {
                "app.kubernetes.io/name": "videoforge",
                "app.kubernetes.io/component": "edge",
                "app.kubernetes.io/part-of": "videoforge",
            },
        },
        "data": {BOOTSTRAP_KEY: yaml.safe_dump(bootstrap, sort_keys=False)},
        "binaryData": {DESCRIPTOR_KEY: base64.b64encode(DEFAULT_DESCRIPTOR.read_bytes()).decode("ascii")},
    }


def _relocate(value: Any, paths: Mapping[str, str]) -> Any:
    """`value` with every string that is a key of `paths` replaced by its value, at any depth."""
    if isinstance(value, dict):
        return {key: _relocate(item, paths) for key, item in value.items()}
    if isinstance(value, list):
        return [_relocate(item, paths) for item in value]
    if isinstance(value, str):
        return paths.get(value, value)
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--settings", type=Path, help="a ConfigMap manifest whose data are settings")
    parser.add_argument("--namespace", default="videoforge")
    parser.add_argument("--output", type=Path, help="where to write the manifest (default: standard output)")
    args = parser.parse_args(argv)
    settings = settings_from(args.settings, os.environ)
    manifest = yaml.safe_dump(edge_config_map(settings, namespace=args.namespace), sort_keys=False)
    if args.output is None:
        sys.stdout.write(manifest)
    else:
        args.output.write_text(manifest)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
