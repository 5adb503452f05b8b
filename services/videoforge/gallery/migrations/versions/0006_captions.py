"""Captions of videos: one row per track, with what its packaging made.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "captions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("video_id", sa.String(32), sa.ForeignKey("gallery.videos.id", ondelete="CASCADE"), nullable=False),
        sa.Column("language", sa.String(35), nullable=False),
        sa.Column("label", sa.String(80), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("cue_count", sa.Integer, nullable=False),
        sa.Column("hls_playlist", sa.String(300), nullable=False),
        sa.Column("dash_adaptation_set", sa.Text, nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        schema="gallery",
    )
    op.create_index("captions_video_idx", "captions", ["video_id", "create_time"], schema="gallery")


def downgrade() -> None:
    op.drop_table("captions", schema="gallery")
