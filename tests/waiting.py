"""Waiting for something a running system will do soon, with a deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any


def wait_until(condition: Callable[[], Any], timeout: float, step: float = 0.2) -> Any:
    """The first truthy value `condition` returns within `timeout` seconds; AssertionError otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(step)
    raise AssertionError(f"not true within {timeout} s")


async def wait_until_async(condition: Callable[[], Any], timeout: float, step: float = 0.01) -> Any:
    """`wait_until` for a test on the event loop: what it waits for runs on that loop, so it sleeps there."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        await asyncio.sleep(step)
    raise AssertionError(f"not true within {timeout} s")
