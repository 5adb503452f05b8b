"""Indexes that serve the public list in each order it offers, without sorting.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

PUBLIC = sa.text("visibility = 'public'")


def upgrade() -> None:
    op.drop_index("videos_public_recent_idx", table_name="videos", schema="gallery")
    op.create_index(
        "videos_public_recent_idx", "videos", [sa.text("create_time DESC"), "id"], schema="gallery",
        postgresql_where=PUBLIC,
    )  # fmt: skip
    op.create_index(
        "videos_public_views_idx", "videos", [sa.text("view_count DESC"), sa.text("create_time DESC")],
        schema="gallery", postgresql_where=PUBLIC,
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index("videos_public_views_idx", table_name="videos", schema="gallery")
    op.drop_index("videos_public_recent_idx", table_name="videos", schema="gallery")
    op.create_index("videos_public_recent_idx", "videos", ["visibility", sa.text("create_time DESC")], schema="gallery")
