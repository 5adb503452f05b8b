"""The ports `videoforge up` hands out: metrics ports consecutive from a start, past any that are taken, and never
a port promised to the edge."""

from __future__ import annotations

import contextlib
import socket
from itertools import islice
from pathlib import Path

from videoforge.kit.settings import Settings
from videoforge.platform.embedded_s3 import GRPC_PORT_OFFSET, _ports
from videoforge.platform.ports import free_port, ports_from
from videoforge.platform.supervisor import relocated_service_addresses


def test_ports_count_up_from_the_first_past_a_taken_one() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        first = taken.getsockname()[1]
        handed = list(islice(ports_from(first), 3))
    assert first not in handed
    assert first < handed[0] < handed[1] < handed[2]


def test_zero_hands_out_any_free_ports() -> None:
    handed = list(islice(ports_from(0), 3))
    assert all(port > 0 for port in handed)


def test_ports_promised_to_the_edge_are_never_handed_out() -> None:
    first = free_port()
    handed = list(islice(ports_from(first, avoid={first, first + 1}), 2))
    assert first not in handed and first + 1 not in handed


def test_a_service_moved_off_a_taken_default_port_does_not_take_the_edge_port() -> None:
    identity_port = int(Settings().identity_address.rpartition(":")[2])
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        with contextlib.suppress(OSError):  # already taken, say by a platform another test runs
            taken.bind(("127.0.0.1", identity_port))
            taken.listen()
        # Every port but the one handed out last is promised: the move must find another.
        promised = {free_port() for _ in range(50)}
        moved = relocated_service_addresses(Settings(), avoid=promised)
    port = int(moved["identity_address"].rpartition(":")[2])
    assert port != identity_port and port not in promised


def test_the_embedded_s3_takes_no_port_an_outgoing_connection_could_be_given(tmp_path: Path) -> None:
    low, _high = (int(n) for n in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    chosen = _ports(tmp_path / "ports.json", avoid=())
    assert all(port + GRPC_PORT_OFFSET < low for port in chosen.values()), chosen
    assert len({*chosen.values(), *(port + GRPC_PORT_OFFSET for port in chosen.values())}) == 2 * len(chosen)


def test_free_ports_lie_below_those_outgoing_connections_are_given() -> None:
    low, _high = (int(n) for n in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    handed = {free_port() for _ in range(20)}
    assert all(port < low for port in handed), handed


def test_a_port_handed_out_is_not_handed_out_again_before_its_server_could_bind_it() -> None:
    handed = [free_port() for _ in range(200)]
    assert len(set(handed)) == len(handed)
