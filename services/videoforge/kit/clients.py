"""Channels between services: every call has a deadline; reads retry UNAVAILABLE (gRPC service config)."""

from __future__ import annotations

import json
from collections.abc import Iterable

import grpc


def _service_config(read_services: Iterable[str]) -> str:
    # Like googleapis' transcoder config: Get*/List*/Lookup* retry UNAVAILABLE; mutations only time out.
    return json.dumps(
        {
            "methodConfig": [
                {
                    "name": [{"service": name} for name in read_services],
                    "retryPolicy": {
                        "maxAttempts": 4,
                        "initialBackoff": "0.1s",
                        "maxBackoff": "2s",
                        "backoffMultiplier": 2,
                        "retryableStatusCodes": ["UNAVAILABLE"],
                    },
                }
            ]
        }
    )


def open_channel(address: str, *, retry_services: Iterable[str] = ()) -> grpc.aio.Channel:
    # round_robin: behind a headless Kubernetes Service, calls spread over every pod, not the first one.
    options: list[tuple[str, object]] = [("grpc.enable_retries", 1), ("grpc.lb_policy_name", "round_robin")]
    services = list(retry_services)
    if services:
        options.append(("grpc.service_config", _service_config(services)))
    return grpc.aio.insecure_channel(address, options=options)

