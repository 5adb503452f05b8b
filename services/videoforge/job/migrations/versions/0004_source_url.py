"""Imported videos: the URL a job fetches its source from when it is not stored yet.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("source_url", sa.Text, nullable=False, server_default=""), schema="job")


def downgrade() -> None:
    op.drop_column("jobs", "source_url", schema="job")
