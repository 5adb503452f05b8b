"""Channels between services, over mutual TLS; every call made on them passes its own deadline."""

from __future__ import annotations

import json

import grpc

from videoforge.kit.mesh_tls import MeshCredentials, server_name_options
from videoforge.kit.observability import client_observers

# A call waits, within its own deadline, for a service that is restarting instead of failing at once: after a
# restart the channel sits in reconnect backoff for a while, and without this every call made meanwhile answers
# UNAVAILABLE though the service is back. The short backoff ceiling lets the channel notice it is back soon.
_SERVICE_CONFIG = json.dumps({"methodConfig": [{"name": [{}], "waitForReady": True}]})
MAX_RECONNECT_BACKOFF_MS = 2000


def open_channel(address: str, *, server: str, credentials: MeshCredentials) -> grpc.aio.Channel:
    """A channel to the `server` identity's service at `address`, presenting this process's certificate."""
    # round_robin: behind a headless Kubernetes Service, calls spread over every pod, not the first one.
    options = [
        ("grpc.enable_retries", 1),
        ("grpc.lb_policy_name", "round_robin"),
        ("grpc.service_config", _SERVICE_CONFIG),
        ("grpc.initial_reconnect_backoff_ms", 250),
        ("grpc.max_reconnect_backoff_ms", MAX_RECONNECT_BACKOFF_MS),
        *server_name_options(server),
    ]
    return grpc.aio.secure_channel(
        address, credentials.channel_credentials(), options=options, interceptors=client_observers()
    )
