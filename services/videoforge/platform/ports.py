"""Loopback ports for a one-machine platform: several may run side by side, so none may assume a port."""

from __future__ import annotations

import random
import socket
from collections import deque
from collections.abc import Collection, Iterator

# Handed out by `free_port`: below the ports Linux gives outgoing connections (32768 up by default), so that no
# client connecting meanwhile can take a port between its check and its server's bind. (The embedded S3 takes its
# ports below these.)
HANDED_OUT = range(30000, 32768)
_handed: deque[int] = deque(maxlen=512)


def port_is_free(host: str, port: int, *, reuse: bool = True) -> bool:
    """Whether a server could bind `port` now; with `reuse`, as servers bind (connections of a previous run
    lingering in TIME_WAIT don't make a port busy), otherwise as one that does not ask to reuse addresses."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        if reuse:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1", avoid: Collection[int] = ()) -> int:
    """A port free right now and not in `avoid` (ports promised to a server that has not bound them yet); the
    caller's server should bind it soon, before anything else takes it."""
    while True:
        port = random.choice(HANDED_OUT)
        # Free for any server, even one that does not reuse addresses: the caller's may not. Not one handed out
        # lately either: its server may not have bound it yet.
        if port not in avoid and port not in _handed and port_is_free(host, port, reuse=False):
            _handed.append(port)
            return port


def ports_from(first: int, host: str = "127.0.0.1", avoid: Collection[int] = ()) -> Iterator[int]:
    """Free ports counting up from `first`, skipping taken ones (so a second platform moves up past the first's)
    and those in `avoid`; any free ports when `first` is 0."""
    port = first
    while True:
        if not first:
            yield free_port(host, avoid)
            continue
        if port not in avoid and port_is_free(host, port):
            yield port
        port += 1
