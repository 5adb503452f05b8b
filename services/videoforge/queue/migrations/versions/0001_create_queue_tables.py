"""Create the queue's messages, dead letters and outbox.

Revision ID: queue_0001
Revises:
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "queue_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "queue"


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        # One live message per job: enqueueing a job that is already queued is a no-op.
        sa.Column("job_id", sa.Text, nullable=False, unique=True),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        # When a waiting message becomes claimable, or when a leased message's lease ends.
        sa.Column("visible_at", sa.DateTime(timezone=True), nullable=False),
        # Set while leased, NULL while waiting: tells a lease from a retry backoff.
        sa.Column("leased_by", sa.Text),
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=SCHEMA,
    )
    op.create_index("messages_visible_at_idx", "messages", ["visible_at", "id"], schema=SCHEMA)
    # Finds the few messages out of attempts without scanning the whole backlog on every claim.
    op.create_index("messages_attempts_idx", "messages", ["attempts"], schema=SCHEMA)
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("job_id", sa.Text, nullable=False),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("dead_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=SCHEMA,
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("job_id", sa.Text, nullable=False),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("delay_seconds", sa.Float, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("outbox", schema=SCHEMA)
    op.drop_table("dead_letters", schema=SCHEMA)
    op.drop_table("messages", schema=SCHEMA)
