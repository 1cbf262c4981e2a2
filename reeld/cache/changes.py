"""Which items a write changed, whatever wrote it: a sync, a live update, a sweep, a watch change.

Temporary triggers on the writer's connection note every item row inserted, updated or deleted,
and every watch state that changed, in a temporary table; the write's own transaction then reads
and empties it. No query function has to report what it touched, so no cause of a change can be
forgotten, and an upsert that found nothing new (its WHERE kept the row) notes nothing.

Only the writer connection has the triggers (they are ``TEMP``): readers and migrations pay nothing.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

#: Past this many ids in one library, a write reports "reload" instead of the ids: a first sync
#: writes 100k items, and a client re-lists the library faster than it reads 100k ids.
MAX_IDS = 500

# A show's and a season's counts (child, episode, unwatched) change with their episodes: a row
# added, removed or watched notes its parent and grandparent too (same library), as ``COUNTS``.
# ``removed``: 0 the item was written, 1 it was deleted, 2 its counts changed.
WRITTEN, DELETED, COUNTS = 0, 1, 2
_PARENTS_OF_NEW = """
        INSERT INTO item_changes SELECT NEW.source_id, NEW.library_id, NEW.parent_id, 2
            WHERE NEW.parent_id IS NOT NULL;
        INSERT INTO item_changes SELECT source_id, library_id, parent_id, 2 FROM main.items
            WHERE source_id = NEW.source_id AND remote_id = NEW.parent_id AND parent_id IS NOT NULL;"""
_ITEM_AND_PARENTS_OF_STATE = """
        INSERT INTO item_changes SELECT source_id, library_id, remote_id, 0 FROM main.items
            WHERE source_id = {row}.source_id AND remote_id = {row}.remote_id
        UNION ALL SELECT source_id, library_id, parent_id, 2 FROM main.items
            WHERE source_id = {row}.source_id AND remote_id = {row}.remote_id AND parent_id IS NOT NULL
        UNION ALL SELECT grand.source_id, grand.library_id, grand.parent_id, 2
            FROM main.items AS item JOIN main.items AS grand
                ON grand.source_id = item.source_id AND grand.remote_id = item.parent_id
            WHERE item.source_id = {row}.source_id AND item.remote_id = {row}.remote_id
                AND grand.parent_id IS NOT NULL;"""

_SETUP = (
    """CREATE TEMP TABLE IF NOT EXISTS item_changes (
        source_id TEXT NOT NULL, library_id TEXT NOT NULL, remote_id TEXT NOT NULL, removed INTEGER NOT NULL
    )""",
    f"""CREATE TEMP TRIGGER IF NOT EXISTS item_inserted AFTER INSERT ON main.items BEGIN
        INSERT INTO item_changes VALUES (NEW.source_id, NEW.library_id, NEW.remote_id, 0);{_PARENTS_OF_NEW}
    END""",
    """CREATE TEMP TRIGGER IF NOT EXISTS item_updated AFTER UPDATE ON main.items BEGIN
        INSERT INTO item_changes VALUES (NEW.source_id, NEW.library_id, NEW.remote_id, 0);
    END""",
    f"""CREATE TEMP TRIGGER IF NOT EXISTS item_deleted AFTER DELETE ON main.items BEGIN
        INSERT INTO item_changes VALUES (OLD.source_id, OLD.library_id, OLD.remote_id, 1);
        {_PARENTS_OF_NEW.replace("NEW.", "OLD.").strip()}
    END""",
    # A watch state names no library: its item does (a state may come before its item: then none).
    f"""CREATE TEMP TRIGGER IF NOT EXISTS watch_inserted AFTER INSERT ON main.watch_state BEGIN
        {_ITEM_AND_PARENTS_OF_STATE.format(row="NEW").strip()}
    END""",
    f"""CREATE TEMP TRIGGER IF NOT EXISTS watch_updated AFTER UPDATE ON main.watch_state BEGIN
        {_ITEM_AND_PARENTS_OF_STATE.format(row="NEW").strip()}
    END""",
    f"""CREATE TEMP TRIGGER IF NOT EXISTS watch_deleted AFTER DELETE ON main.watch_state BEGIN
        {_ITEM_AND_PARENTS_OF_STATE.format(row="OLD").strip()}
    END""",
)


@dataclass(slots=True)
class LibraryChanges:
    """What one write changed in one library: remote ids, or ``reload`` when there were too many."""

    source_id: str
    library_id: str
    changed: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)
    reload: bool = False


def install_triggers(conn: Any) -> None:
    """Give the writer's connection its change triggers (TEMP objects live as long as it does).

    Only once the schema is migrated: a migration that rebuilds the items table would trip on them."""
    for statement in _SETUP:
        conn.exec_driver_sql(statement)


def take_changes(conn: Any) -> list[LibraryChanges]:
    """What the transaction on ``conn`` changed so far, per library; empties the record.

    A library with more than ``MAX_IDS`` changed rows is counted, not listed: its ids are never read.
    """
    sizes = conn.exec_driver_sql(
        "SELECT source_id, library_id, count(*) FROM temp.item_changes GROUP BY source_id, library_id"
    ).fetchall()
    if not sizes:
        return []
    by_library: dict[tuple[str, str], LibraryChanges] = {}
    small: list[tuple[str, str]] = []
    for source_id, library_id, count in sizes:
        by_library[(source_id, library_id)] = LibraryChanges(source_id, library_id, reload=count > MAX_IDS)
        if count <= MAX_IDS:
            small.append((source_id, library_id))
    if small:
        rows = conn.exec_driver_sql(
            "SELECT source_id, library_id, remote_id, removed FROM temp.item_changes"
            " WHERE (source_id, library_id) IN (" + ",".join("(?, ?)" for _ in small) + ") ORDER BY rowid",
            tuple(value for key in small for value in key),
        ).fetchall()
        _sort_rows(by_library, rows)
    conn.exec_driver_sql("DELETE FROM temp.item_changes")
    return list(by_library.values())


def _sort_rows(by_library: dict[tuple[str, str], LibraryChanges], rows: Iterable[Any]) -> None:
    """Rows in the order written: the last word on an item wins (deleted then written again, as a
    re-classified file is, is changed; written then deleted is removed), except that counts that
    changed (an episode of a show deleted with it) never bring back an item deleted."""
    for source_id, library_id, remote_id, what in rows:
        changes = by_library[(source_id, library_id)]
        if what == DELETED:
            changes.changed.discard(remote_id)
            changes.removed.add(remote_id)
        elif what == WRITTEN or remote_id not in changes.removed:
            changes.removed.discard(remote_id)
            changes.changed.add(remote_id)
