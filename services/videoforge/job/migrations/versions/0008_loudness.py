"""Loudness: what the transcode measured of the source's audio and of what it published.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("loudness", JSONB, nullable=True), schema="job")


def downgrade() -> None:
    op.drop_column("jobs", "loudness", schema="job")
