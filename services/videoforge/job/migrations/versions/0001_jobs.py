"""Jobs, their assets, and each video's published output.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("video_id", sa.String(32), nullable=False),
        sa.Column("owner_id", sa.String(32), nullable=False),
        sa.Column("input_source", sa.String(300), nullable=False),
        sa.Column("output_formats", JSONB, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("progress", sa.Integer, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("media", JSONB, nullable=False),
        sa.Column("error", JSONB, nullable=True),
        sa.Column("renditions", JSONB, nullable=False),
        sa.Column("output_prefix", sa.String(300), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=True),
        schema="job",
    )
    op.create_index("jobs_owner_idx", "jobs", ["owner_id", "create_time"], schema="job")
    op.create_index("jobs_video_idx", "jobs", ["video_id"], schema="job")
    op.create_index("jobs_state_idx", "jobs", ["state", "end_time"], schema="job")
    op.create_table(
        "assets",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("job_id", sa.String(32), nullable=False, index=True),
        sa.Column("video_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("quality", sa.String(16), nullable=False),
        sa.Column("key", sa.String(400), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        schema="job",
    )
    op.create_table(
        "publications",
        sa.Column("video_id", sa.String(32), primary_key=True),
        sa.Column("job_id", sa.String(32), nullable=False),
        schema="job",
    )


def downgrade() -> None:
    op.drop_table("publications", schema="job")
    op.drop_table("assets", schema="job")
    op.drop_table("jobs", schema="job")
