"""Sort indexes cover only top-level items; one plain index per library for counts and sweeps.

ListItems pages through a library's top level (movies, shows, albums); seasons and episodes,
most rows of a TV library, were written into four sort indexes no query reads. Partial indexes
leave them out, which makes a first sync's writes of a large TV library much cheaper. Counting a
library's items and listing its ids (sync bookkeeping) get an index of (source, library): rows
arrive library by library, so its writes are appends.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SORT_COLUMNS = {"title": "sort_title", "added": "added_at", "year": "year", "rating": "rating"}


def upgrade() -> None:
    op.create_index("ix_items_library", "items", ["source_id", "library_id"])
    for name, column in SORT_COLUMNS.items():
        op.drop_index(f"ix_items_by_{name}", table_name="items")
        op.create_index(
            f"ix_items_top_by_{name}",
            "items",
            ["source_id", "library_id", column],
            sqlite_where=sa.text("top_level = 1"),
        )


def downgrade() -> None:
    op.drop_index("ix_items_library", table_name="items")
    for name, column in SORT_COLUMNS.items():
        op.drop_index(f"ix_items_top_by_{name}", table_name="items")
        op.create_index(f"ix_items_by_{name}", "items", ["source_id", "library_id", "top_level", column])
