"""Initial cache schema: sources, libraries, items with full-text search, watch state,
per-library sync state, the pending-actions queue and install facts.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

FTS_SQL = [
    # External-content FTS5 index over titles. No prefix indexes: they tripled the cost of writing,
    # and a prefix query over a few hundred thousand titles is fast without them.
    """CREATE VIRTUAL TABLE items_fts USING fts5(
        title, show_title, content='items', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER items_fts_insert AFTER INSERT ON items BEGIN
        INSERT INTO items_fts(rowid, title, show_title) VALUES (new.id, new.title, new.show_title);
    END""",
    """CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN
        INSERT INTO items_fts(items_fts, rowid, title, show_title)
        VALUES ('delete', old.id, old.title, old.show_title);
    END""",
    # Upserts set every column; only reindex when a title really changed.
    """CREATE TRIGGER items_fts_update AFTER UPDATE OF title, show_title ON items
    WHEN old.title IS NOT new.title OR old.show_title IS NOT new.show_title BEGIN
        INSERT INTO items_fts(items_fts, rowid, title, show_title)
        VALUES ('delete', old.id, old.title, old.show_title);
        INSERT INTO items_fts(rowid, title, show_title) VALUES (new.id, new.title, new.show_title);
    END""",
]


def upgrade() -> None:
    op.create_table(
        "sources",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("account_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("address", sa.String(), nullable=False, server_default=""),
        sa.Column("connection_kind", sa.String(), nullable=False, server_default=""),
        sa.Column("settings", sa.Text(), nullable=False, server_default="{}"),
        sa.Column("position", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_sync", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_full_sync", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_index("ix_sources_account_id", "sources", ["account_id"])
    op.create_table(
        "libraries",
        sa.Column("source_id", sa.String(), primary_key=True),
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False, server_default="0"),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], ondelete="CASCADE"),
    )
    op.create_table(
        "items",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source_id", sa.String(), nullable=False),
        sa.Column("remote_id", sa.String(), nullable=False),
        sa.Column("library_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("sort_title", sa.String(), nullable=False),
        sa.Column("parent_id", sa.String()),
        sa.Column("year", sa.Integer()),
        sa.Column("summary", sa.Text()),
        sa.Column("duration_ms", sa.Integer()),
        sa.Column("idx", sa.Integer()),
        sa.Column("parent_idx", sa.Integer()),
        sa.Column("show_title", sa.String()),
        sa.Column("added_at", sa.Integer()),
        sa.Column("updated_at", sa.Integer()),
        sa.Column("rating", sa.Float()),
        sa.Column("thumb", sa.String()),
        sa.Column("etag", sa.String()),
        sa.Column("extra", sa.Text()),
        sa.Column("top_level", sa.Integer(), nullable=False, server_default="0"),
        sa.UniqueConstraint("source_id", "remote_id", name="uq_items_source_remote"),
        sa.ForeignKeyConstraint(
            ["source_id", "library_id"], ["libraries.source_id", "libraries.id"], ondelete="CASCADE"
        ),
    )
    for column in ("title", "added", "year", "rating"):
        sort_column = "sort_title" if column == "title" else "added_at" if column == "added" else column
        op.create_index(
            f"ix_items_by_{column}", "items", ["source_id", "library_id", "top_level", sort_column]
        )
    op.create_index("ix_items_parent", "items", ["source_id", "parent_id"])
    op.create_index("ix_items_added", "items", ["added_at"])
    op.create_table(
        "watch_state",
        sa.Column("source_id", sa.String(), primary_key=True),
        sa.Column("remote_id", sa.String(), primary_key=True),
        sa.Column("watched", sa.Boolean(), nullable=False, server_default="0"),
        sa.Column("position_ms", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("view_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_viewed_at", sa.Integer()),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], ondelete="CASCADE"),
    )
    op.create_index("ix_watch_state_last_viewed", "watch_state", ["last_viewed_at"])
    op.create_table(
        "library_sync",
        sa.Column("source_id", sa.String(), primary_key=True),
        sa.Column("library_id", sa.String(), primary_key=True),
        sa.Column("cursor", sa.String()),
        sa.Column("last_sync", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_full_sync", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text()),
        sa.Column("error_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("total", sa.Integer(), nullable=False, server_default="0"),
        sa.ForeignKeyConstraint(
            ["source_id", "library_id"], ["libraries.source_id", "libraries.id"], ondelete="CASCADE"
        ),
    )
    op.create_table(
        "pending_actions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("source_id", sa.String(), nullable=False),
        sa.Column("remote_id", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("position_ms", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("state", sa.String(), nullable=False, server_default=""),
        sa.Column("created_at", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text()),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], ondelete="CASCADE"),
    )
    op.create_index("ix_pending_actions_item", "pending_actions", ["source_id", "remote_id"])
    op.create_table(
        "install_facts",
        sa.Column("key", sa.String(), primary_key=True),
        sa.Column("value", sa.String(), nullable=False),
    )
    for statement in FTS_SQL:
        op.execute(statement)


def downgrade() -> None:
    for name in ("items_fts_update", "items_fts_delete", "items_fts_insert"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP TABLE IF EXISTS items_fts")
    for table in (
        "install_facts",
        "pending_actions",
        "library_sync",
        "watch_state",
        "items",
        "libraries",
        "sources",
    ):
        op.drop_table(table)
