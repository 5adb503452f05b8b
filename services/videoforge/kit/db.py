"""PostgreSQL access: one async engine per process and per-schema Alembic migrations."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def sqlalchemy_url(url: str) -> str:
    """Names psycopg 3 as the driver for a plain ``postgresql://`` URL (pgserver and RDS both give one)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def create_engine_for(url: str, *, pool_size: int = 5) -> AsyncEngine:
    # pool_pre_ping: a restarted database must not surface as errors on the first request after it.
    return create_async_engine(sqlalchemy_url(url), pool_size=pool_size, pool_pre_ping=True)


def migrate(url: str, schema: str, migrations: Path) -> None:
    """Brings ``schema`` to the newest revision in ``migrations``; each component versions its own schema."""
    engine = create_engine(sqlalchemy_url(url))
    try:
        with engine.begin() as connection:
            # Processes start together: the lock makes them take turns, since even CREATE SCHEMA IF NOT
            # EXISTS fails when two run at once.
            connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:schema))"), {"schema": schema})
            connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            config = Config()
            config.set_main_option("script_location", str(migrations))
            config.attributes["connection"] = connection
            config.attributes["schema"] = schema
            command.upgrade(config, "head")
    finally:
        engine.dispose()
