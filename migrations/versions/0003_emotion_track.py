"""jobs: the emotion per phrase (emotion_track) and the controller that decided the performance

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:  # batch: SQLite alters a table by copying it
        batch.add_column(sa.Column("emotion_track", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("controller", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("controller")
        batch.drop_column("emotion_track")
