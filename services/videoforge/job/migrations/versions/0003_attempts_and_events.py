"""Attempts numbered by the job service, leases on the job, runs, creation keys, and the job event log.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("delivery_token", sa.String(64), nullable=False, server_default=""), schema="job")
    op.add_column("jobs", sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True), schema="job")
    op.add_column("jobs", sa.Column("run", sa.Integer, nullable=False, server_default="0"), schema="job")
    op.add_column("jobs", sa.Column("request_id", sa.String(64), nullable=False, server_default=""), schema="job")
    op.create_index(
        "jobs_request_idx",
        "jobs",
        ["video_id", "request_id"],
        unique=True,
        schema="job",
        postgresql_where=sa.text("request_id <> ''"),
    )
    op.create_index(
        "jobs_working_idx",
        "jobs",
        ["lease_expires_at"],
        schema="job",
        postgresql_where=sa.text("state IN ('DOWNLOADING', 'PROCESSING', 'UPLOADING')"),
    )
    # Delivery to videos is by construction now (the event log), so the retell flag goes.
    op.drop_index("jobs_unsynced_idx", "jobs", schema="job")
    op.drop_column("jobs", "video_synced", schema="job")
    op.create_table(
        "video_versions",
        sa.Column("video_id", sa.String(32), primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
        schema="job",
    )
    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("video_id", sa.String(32), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema="job",
    )


def downgrade() -> None:
    op.drop_table("events", schema="job")
    op.drop_table("video_versions", schema="job")
    op.add_column("jobs", sa.Column("video_synced", sa.Boolean, nullable=False, server_default=sa.true()), schema="job")
    op.create_index("jobs_unsynced_idx", "jobs", ["id"], schema="job", postgresql_where=sa.text("NOT video_synced"))
    op.drop_index("jobs_working_idx", "jobs", schema="job")
    op.drop_index("jobs_request_idx", "jobs", schema="job")
    for column in ("request_id", "run", "lease_expires_at", "delivery_token"):
        op.drop_column("jobs", column, schema="job")
