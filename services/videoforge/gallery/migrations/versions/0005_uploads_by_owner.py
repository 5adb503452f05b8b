"""Uploads by owner: the storage quota sums one user's uploads on every new upload.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("uploads_owner_idx", "uploads", ["owner_id"], schema="gallery")


def downgrade() -> None:
    op.drop_index("uploads_owner_idx", "uploads", schema="gallery")
