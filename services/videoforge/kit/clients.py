"""Channels between services, over mutual TLS; every call made on them passes its own deadline."""

from __future__ import annotations

import grpc

from videoforge.kit.mesh_tls import MeshCredentials, server_name_options
from videoforge.kit.observability import client_observers


def open_channel(address: str, *, server: str, credentials: MeshCredentials) -> grpc.aio.Channel:
    """A channel to the `server` identity's service at `address`, presenting this process's certificate."""
    # round_robin: behind a headless Kubernetes Service, calls spread over every pod, not the first one.
    options = [("grpc.enable_retries", 1), ("grpc.lb_policy_name", "round_robin"), *server_name_options(server)]
    return grpc.aio.secure_channel(
        address, credentials.channel_credentials(), options=options, interceptors=client_observers()
    )
