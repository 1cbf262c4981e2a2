"""Playback info of API 1.1: an item's tracks, chapters and markers, kept once fetched.

A new table ``playback_info`` (one row per item, the info as JSON, with the item's etag when it
was fetched); rows go with their item.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "playback_info",
        sa.Column("source_id", sa.String(), nullable=False),
        sa.Column("remote_id", sa.String(), nullable=False),
        sa.Column("etag", sa.String(), nullable=True),
        sa.Column("fetched_at", sa.Integer(), nullable=False),
        sa.Column("info", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id", "remote_id"], ["items.source_id", "items.remote_id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("source_id", "remote_id"),
    )


def downgrade() -> None:
    op.drop_table("playback_info")
