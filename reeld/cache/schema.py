"""The cache's tables, as SQLAlchemy Core metadata.

The database itself is only ever created by the alembic migrations in ``migrations/``; a test
checks that they agree with this module. The full-text index (``items_fts``) and its triggers
are SQLite-specific and live in the migration alone.
"""

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

#: The alembic revision this code expects. Startup compares it with the database's and
#: imports alembic only when they differ (alembic costs ~0.1 s of cold start).
HEAD_REVISION = "0006"

metadata = MetaData()

#: What ListItems lists of a library (movies, shows, albums); a literal, so SQLite can match the
#: partial indexes that carry it.
TOP_LEVEL_ONLY = text("top_level = 1")

sources = Table(
    "sources",
    metadata,
    Column("id", String, primary_key=True),
    Column("account_id", String, nullable=False, index=True),
    Column("kind", String, nullable=False),
    Column("name", String, nullable=False),
    Column("address", String, nullable=False, server_default=""),
    Column("connection_kind", String, nullable=False, server_default=""),
    # JSON: what the backend needs to reconnect (addresses, server ids). Never a secret.
    Column("settings", Text, nullable=False, server_default="{}"),
    Column("position", Integer, nullable=False, server_default="0"),
    Column("last_sync", Integer, nullable=False, server_default="0"),
    Column("last_full_sync", Integer, nullable=False, server_default="0"),
)

libraries = Table(
    "libraries",
    metadata,
    Column("source_id", String, primary_key=True),
    Column("id", String, primary_key=True),
    Column("title", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("position", Integer, nullable=False, server_default="0"),
    ForeignKeyConstraint(["source_id"], ["sources.id"], ondelete="CASCADE"),
)

items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source_id", String, nullable=False),
    Column("remote_id", String, nullable=False),
    Column("library_id", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("title", String, nullable=False),
    Column("sort_title", String, nullable=False),
    Column("parent_id", String),
    Column("year", Integer),
    Column("summary", Text),
    Column("duration_ms", Integer),
    Column("idx", Integer),
    Column("parent_idx", Integer),
    Column("show_title", String),
    Column("added_at", Integer),
    Column("updated_at", Integer),
    Column("rating", Float),
    Column("thumb", String),
    Column("etag", String),
    Column("extra", Text),
    # 1 for what a library lists at its top level (movies, shows, albums), 0 for seasons and episodes.
    Column("top_level", Integer, nullable=False, server_default="0"),
    # The item keys of API 1.1 (migration 0005); NULL when unknown.
    Column("genres", Text),  # a JSON array of strings
    Column("content_rating", String),
    Column("studio", String),
    Column("original_title", String),
    # The sort title the server or file gives (the bus key sort_title); sort_title is the key derived from it.
    Column("sort_name", String),
    Column("air_date", String),  # ISO 8601 date
    Column("provider_ids", Text),  # a JSON object: {"imdb": "tt…", "tmdb": "…"}
    Column("artist", String),
    Column("index_end", Integer),  # the last episode of a multi-episode file
    # A JSON object of the server's image tag or path per kind ({"poster": …, "backdrop": …}), so the
    # artwork cache can tell a changed image from one it holds.
    Column("artwork", Text),
    UniqueConstraint("source_id", "remote_id", name="uq_items_source_remote"),
    ForeignKeyConstraint(
        ["source_id", "library_id"], ["libraries.source_id", "libraries.id"], ondelete="CASCADE"
    ),
    # One index per ListItems sort, so a page is read in index order whatever its offset; only of
    # top-level items (what ListItems lists), so seasons and episodes cost no sort-index writes.
    Index("ix_items_top_by_title", "source_id", "library_id", "sort_title", sqlite_where=TOP_LEVEL_ONLY),
    Index("ix_items_top_by_added", "source_id", "library_id", "added_at", sqlite_where=TOP_LEVEL_ONLY),
    Index("ix_items_top_by_year", "source_id", "library_id", "year", sqlite_where=TOP_LEVEL_ONLY),
    Index("ix_items_top_by_rating", "source_id", "library_id", "rating", sqlite_where=TOP_LEVEL_ONLY),
    Index("ix_items_library", "source_id", "library_id"),
    Index("ix_items_parent", "source_id", "parent_id"),
    Index("ix_items_added", "added_at"),
)

watch_state = Table(
    "watch_state",
    metadata,
    Column("source_id", String, primary_key=True),
    Column("remote_id", String, primary_key=True),
    Column("watched", Boolean, nullable=False, server_default="0"),
    Column("position_ms", Integer, nullable=False, server_default="0"),
    Column("view_count", Integer, nullable=False, server_default="0"),
    Column("last_viewed_at", Integer),
    ForeignKeyConstraint(["source_id"], ["sources.id"], ondelete="CASCADE"),
    Index("ix_watch_state_last_viewed", "last_viewed_at"),
)

library_sync = Table(
    "library_sync",
    metadata,
    Column("source_id", String, primary_key=True),
    Column("library_id", String, primary_key=True),
    Column("cursor", String),
    Column("last_sync", Integer, nullable=False, server_default="0"),
    Column("last_full_sync", Integer, nullable=False, server_default="0"),
    Column("last_error", Text),
    Column("error_count", Integer, nullable=False, server_default="0"),
    Column("total", Integer, nullable=False, server_default="0"),
    ForeignKeyConstraint(
        ["source_id", "library_id"], ["libraries.source_id", "libraries.id"], ondelete="CASCADE"
    ),
)

# Watch-state changes that could not reach their server yet, replayed in id order.
pending_actions = Table(
    "pending_actions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source_id", String, nullable=False),
    Column("remote_id", String, nullable=False),
    Column("action", String, nullable=False),
    Column("position_ms", Integer, nullable=False, server_default="0"),
    Column("state", String, nullable=False, server_default=""),
    Column("created_at", Integer, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text),
    ForeignKeyConstraint(["source_id"], ["sources.id"], ondelete="CASCADE"),
    Index("ix_pending_actions_item", "source_id", "remote_id"),
)

# Small key/value store for per-install facts (device ids, client identifiers).
install_facts = Table(
    "install_facts",
    metadata,
    Column("key", String, primary_key=True),
    Column("value", String, nullable=False),
)

# What a player needs of an item (tracks, chapters, markers: ``PlaybackInfo`` as JSON), kept once
# fetched so it answers offline. ``etag`` is the item's at that time: a changed file is fetched again.
playback_info = Table(
    "playback_info",
    metadata,
    Column("source_id", String, primary_key=True),
    Column("remote_id", String, primary_key=True),
    Column("etag", String),
    Column("fetched_at", Integer, nullable=False),
    Column("info", Text, nullable=False),
    ForeignKeyConstraint(
        ["source_id", "remote_id"], ["items.source_id", "items.remote_id"], ondelete="CASCADE"
    ),
)
