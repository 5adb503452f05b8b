"""Operator tasks that work on the database directly, with or without the platform running."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from videoforge.identity.adapters.passwords import Argon2PasswordHasher
from videoforge.identity.adapters.repository import PostgresUserRepository
from videoforge.identity.bootstrap import MIGRATIONS
from videoforge.identity.domain.accounts import User
from videoforge.identity.service_layer.accounts import create_user as create_account
from videoforge.kit.db import create_engine_for, migrate
from videoforge.kit.settings import Settings


@contextmanager
def database_url(settings: Settings) -> Iterator[str]:
    """DATABASE_URL, or the embedded server (left running if `videoforge up` already had it running)."""
    if settings.database_url:
        yield settings.database_url
        return
    from videoforge.platform.embedded_postgres import start_embedded_postgres

    already_running = (settings.data_dir / "postgres" / "postmaster.pid").exists()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    server = start_embedded_postgres(settings.data_dir)
    try:
        yield server.url
    finally:
        if not already_running:
            server.stop()


def create_user(email: str, password: str, *, admin: bool, data_dir: Path | None) -> User:
    settings = Settings(**({"data_dir": data_dir} if data_dir else {}))
    with database_url(settings) as url:
        migrate(url, "identity", MIGRATIONS)

        async def create() -> User:
            engine = create_engine_for(url)
            try:
                role = "admin" if admin else "user"
                return await create_account(
                    PostgresUserRepository(engine), Argon2PasswordHasher(), email, password, role=role
                )
            finally:
                await engine.dispose()

        return asyncio.run(create())
