"""Videos with full-text search, and the uploads they come from.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SEARCH_DOCUMENT = "to_tsvector('simple', coalesce(title, '') || ' ' || coalesce(description, ''))"


def upgrade() -> None:
    op.create_table(
        "videos",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("owner_id", sa.String(32), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("visibility", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("source_key", sa.String(300), nullable=False),
        sa.Column("media", JSONB, nullable=False),
        sa.Column("view_count", sa.BigInteger, nullable=False, server_default=sa.text("0")),
        sa.Column("latest_job", JSONB, nullable=False),
        sa.Column("published_job_id", sa.String(32), nullable=False, server_default=""),
        sa.Column("extra", JSONB, nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("search", TSVECTOR, sa.Computed(SEARCH_DOCUMENT, persisted=True)),
        schema="gallery",
    )
    op.create_index("videos_search_idx", "videos", ["search"], postgresql_using="gin", schema="gallery")
    op.create_index("videos_public_recent_idx", "videos", ["visibility", sa.text("create_time DESC")], schema="gallery")
    op.create_index("videos_owner_idx", "videos", ["owner_id", sa.text("create_time DESC")], schema="gallery")
    op.create_table(
        "uploads",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("owner_id", sa.String(32), nullable=False),
        sa.Column("filename", sa.String(300), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("multipart_upload_id", sa.String(300), nullable=False, server_default=""),
        sa.Column("video_id", sa.String(32), nullable=True),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        schema="gallery",
    )


def downgrade() -> None:
    op.drop_table("uploads", schema="gallery")
    op.drop_table("videos", schema="gallery")
