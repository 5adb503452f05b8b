"""The newest job event each video applied.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "videos", sa.Column("job_version", sa.BigInteger, nullable=False, server_default="0"), schema="gallery"
    )


def downgrade() -> None:
    op.drop_column("videos", "job_version", schema="gallery")
