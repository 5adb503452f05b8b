"""Tasks run side by side that fail as one of them failed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


@contextlib.asynccontextmanager
async def failing_as_the_first() -> AsyncIterator[asyncio.TaskGroup]:
    """An asyncio.TaskGroup: when one task fails the others are cancelled, and none runs on after the caller gave
    up. Its failure is raised as the first failed task's own exception rather than an ExceptionGroup, as callers
    tell failures apart by their type."""
    try:
        async with asyncio.TaskGroup() as group:
            yield group
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
