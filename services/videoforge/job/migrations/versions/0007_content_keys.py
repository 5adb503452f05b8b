"""Content keys: one per protected video, sealed with the platform's key before it is stored.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "content_keys",
        sa.Column("video_id", sa.String(32), primary_key=True),
        sa.Column("key_id", sa.LargeBinary, nullable=False),
        sa.Column("sealed_key", sa.LargeBinary, nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        schema="job",
    )


def downgrade() -> None:
    op.drop_table("content_keys", schema="job")
