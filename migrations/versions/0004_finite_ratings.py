"""Ratings are finite numbers or unknown.

Pages of a library are read as JSON built by SQLite, which cannot write an infinite number back
out; a server's "inf" rating, stored as is before, would make every page that holds it unreadable.
New writes store it as unknown (NULL); this does the same for the ratings already stored.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # 9e999 is how SQL spells infinity (the literal overflows to it).
    op.get_bind().execute(sa.text("UPDATE items SET rating = NULL WHERE rating IN (9e999, -9e999)"))


def downgrade() -> None:
    pass  # the infinite ratings are not worth restoring
