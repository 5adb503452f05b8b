"""The ports `videoforge up` hands out for metrics: consecutive from a start, past any that are taken."""

from __future__ import annotations

import socket
from itertools import islice

from videoforge.platform.ports import ports_from


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
