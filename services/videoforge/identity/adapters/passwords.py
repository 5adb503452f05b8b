"""Argon2id password hashes, computed on a few threads of their own.

A hash takes tens of milliseconds of CPU and 64 MiB on purpose. On the event loop, a burst of sign-ins would
stall every other call of the service (key sets, refreshes) behind it; on unbounded threads it would take all
the cores and memory there are. argon2-cffi releases the GIL while it hashes, so threads run in parallel.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher as Argon2Hasher
from argon2.exceptions import InvalidHashError, VerificationError

from videoforge.identity.domain.ports import PasswordHasher


def default_concurrency() -> int:
    """Half the cores this process may use: the other half keeps answering everything else."""
    return max(1, len(os.sched_getaffinity(0)) // 2)


class Argon2PasswordHasher(PasswordHasher):
    def __init__(self, *, concurrency: int | None = None) -> None:
        self._argon2 = Argon2Hasher()
        # More callers than threads wait in the pool's queue, in order; the edge's sign-in limit bounds the queue.
        self._pool = ThreadPoolExecutor(concurrency or default_concurrency(), thread_name_prefix="argon2")

    async def hash(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._argon2.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._check, password_hash, password)

    def _check(self, password_hash: str, password: str) -> bool:
        try:
            return self._argon2.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
