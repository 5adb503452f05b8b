"""The body every component's ``migrations/env.py`` runs: online migrations on the caller's connection."""

from __future__ import annotations

from alembic import context


def run_migrations() -> None:
    config = context.config
    connection = config.attributes["connection"]
    schema = config.attributes["schema"]
    context.configure(connection=connection, version_table_schema=schema, include_schemas=True)
    with context.begin_transaction():
        context.run_migrations()
