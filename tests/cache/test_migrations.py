"""The schema comes only from the migrations; they must build exactly what the models describe."""

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from reeld.cache import browse
from reeld.cache.db import (
    WAL_SIZE_LIMIT,
    WRITER_CHECKPOINT_PAGES,
    alembic_config,
    create_cache_engine,
    migrate,
)
from reeld.cache.schema import HEAD_REVISION, metadata

FTS_TABLES = {"items_fts", "items_fts_data", "items_fts_idx", "items_fts_docsize", "items_fts_config"}


def _ignore_fts(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    return not (type_ == "table" and name in FTS_TABLES)


def test_upgrade_from_empty_matches_models(tmp_path: Path) -> None:
    engine = create_cache_engine(tmp_path / "cache.db")
    migrate(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": _ignore_fts, "compare_type": True})
        diff = compare_metadata(context, metadata)
    assert diff == []


def test_head_revision_constant_is_alembic_head() -> None:
    # Startup skips importing alembic when the database is at HEAD_REVISION: it must be the real head.
    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD_REVISION


def test_database_file_is_private_and_pragmas_apply(tmp_path: Path) -> None:
    path = tmp_path / "state" / "cache.db"
    engine = create_cache_engine(path)
    migrate(engine)
    assert path.stat().st_mode & 0o777 == 0o600
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() > 0
        assert conn.execute(text("PRAGMA temp_store")).scalar() == 2  # MEMORY
        assert conn.execute(text("PRAGMA wal_autocheckpoint")).scalar() == 1000  # readers: the default


def test_the_writer_checkpoints_less_often_and_keeps_the_wal_small(tmp_path: Path) -> None:
    engine = create_cache_engine(tmp_path / "cache.db", writer=True)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA wal_autocheckpoint")).scalar() == WRITER_CHECKPOINT_PAGES
        assert conn.execute(text("PRAGMA journal_size_limit")).scalar() == WAL_SIZE_LIMIT


def test_downgrade_and_upgrade_again(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'c.db'}")
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
    assert "items_fts" in inspect(engine).get_table_names()


def test_library_pages_read_a_sort_index_in_order(tmp_path: Path) -> None:
    """Every ListItems sort pages through its partial index: no sort of the library per page."""
    engine = create_cache_engine(tmp_path / "cache.sqlite")
    migrate(engine)
    with engine.connect() as conn:
        for sort in browse.SORTS:
            rows = conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + browse._page_ids_sql(sort), ("src", "lib", 200, 100)
            )
            plan = " ".join(row[3] for row in rows)
            assert f"USING INDEX ix_items_top_by_{sort}" in plan and "TEMP B-TREE" not in plan, plan


def test_frontend_keys_migration_keeps_items_and_makes_the_next_sync_rewrite_them(tmp_path: Path) -> None:
    """0005 adds the 1.1 item columns; items cached before it keep everything and lose only their
    etag, so the next sync (which skips items whose etag it holds) fills the new keys in."""
    engine = create_engine(f"sqlite:///{tmp_path / 'c.db'}")
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0004")
        conn.execute(
            text("INSERT INTO sources (id, account_id, kind, name) VALUES ('s', 'a', 'jellyfin', 'S')")
        )
        conn.execute(
            text("INSERT INTO libraries (source_id, id, title, kind) VALUES ('s', 'l', 'L', 'movies')")
        )
        conn.execute(
            text(
                "INSERT INTO items (source_id, remote_id, library_id, kind, title, sort_title, etag, top_level) "
                "VALUES ('s', 'm1', 'l', 'movie', 'Heat', 'heat', 'e1', 1)"
            )
        )
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0005")
    with engine.connect() as conn:
        row = conn.execute(text("SELECT title, etag, genres, provider_ids, artwork FROM items")).one()
    assert tuple(row) == ("Heat", None, None, None, None)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0004")
    columns = {column["name"] for column in inspect(engine).get_columns("items")}
    assert "genres" not in columns and "artwork" not in columns and "title" in columns
