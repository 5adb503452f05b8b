"""The job service's own history for the admin page: stage entries and queue samples.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stage_entries",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("job_id", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("entered_time", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        schema="job",
    )
    op.create_index("stage_entries_job_idx", "stage_entries", ["job_id", "entered_time"], schema="job")
    op.create_table(
        "queue_samples",
        sa.Column("sample_time", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("depth", sa.Integer, nullable=False),
        sa.Column("oldest_wait_seconds", sa.Float, nullable=False),
        schema="job",
    )


def downgrade() -> None:
    op.drop_table("queue_samples", schema="job")
    op.drop_table("stage_entries", schema="job")
