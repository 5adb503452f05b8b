"""Whether the video has been told a job's latest state; a sweep retells it when it has not.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("video_synced", sa.Boolean, nullable=False, server_default=sa.true()), schema="job")
    op.create_index("jobs_unsynced_idx", "jobs", ["id"], schema="job", postgresql_where=sa.text("NOT video_synced"))


def downgrade() -> None:
    op.drop_index("jobs_unsynced_idx", table_name="jobs", schema="job")
    op.drop_column("jobs", "video_synced", schema="job")
