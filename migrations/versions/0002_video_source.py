"""jobs: a video as the face source (video_key; image_key becomes optional)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:  # batch: SQLite alters a column by copying the table
        batch.add_column(sa.Column("video_key", sa.String(300), nullable=True))
        batch.alter_column("image_key", existing_type=sa.String(300), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.alter_column("image_key", existing_type=sa.String(300), nullable=False)
        batch.drop_column("video_key")
