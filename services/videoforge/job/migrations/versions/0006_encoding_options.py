"""Encoding options: the video codecs a job's ladders use, and the protection of its output.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("codecs", JSONB, nullable=False, server_default='["h264"]'), schema="job")
    op.add_column("jobs", sa.Column("protection", sa.String(16), nullable=False, server_default=""), schema="job")


def downgrade() -> None:
    op.drop_column("jobs", "protection", schema="job")
    op.drop_column("jobs", "codecs", schema="job")
