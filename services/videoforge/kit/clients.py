"""Channels between services; every call made on them passes its own deadline."""

from __future__ import annotations

import grpc

from videoforge.kit.observability import client_observers


def open_channel(address: str) -> grpc.aio.Channel:
    # round_robin: behind a headless Kubernetes Service, calls spread over every pod, not the first one.
    options = [("grpc.enable_retries", 1), ("grpc.lb_policy_name", "round_robin")]
    return grpc.aio.insecure_channel(address, options=options, interceptors=client_observers())
