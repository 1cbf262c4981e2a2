"""Everything reeld reads from and writes to the cache, as plain functions of a connection.

Functions here are blocking: call them through ``Database.read`` / ``Database.write``.
"""

import functools
import json
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, Row, and_, case, delete, exists, func, insert, select, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from reeld.backends.base import KnownItem
from reeld.cache.schema import (
    TOP_LEVEL_ONLY,
    install_facts,
    items,
    libraries,
    library_sync,
    pending_actions,
    sources,
    watch_state,
)
from reeld.models.media import (
    PLAYABLE_KINDS,
    TOP_LEVEL_KINDS,
    Library,
    LibraryKind,
    MediaItem,
    WatchState,
    sort_key,
)
from reeld.models.source import ConnectionKind, Source

ROWS_PER_STATEMENT = 500
TOP_LEVEL = sorted(str(kind) for kind in TOP_LEVEL_KINDS)

# -- sources and libraries -----------------------------------------------------------------


def source_from_row(row: Row[Any]) -> Source:
    return Source(
        id=row.id,
        account_id=row.account_id,
        kind=row.kind,
        name=row.name,
        address=row.address,
        connection_kind=ConnectionKind(row.connection_kind),
        settings=json.loads(row.settings),
    )


def load_sources(conn: Connection) -> list[Source]:
    rows = conn.execute(select(sources).order_by(sources.c.position, sources.c.name))
    return [source_from_row(row) for row in rows]


def save_source(conn: Connection, source: Source) -> None:
    values = {
        "account_id": source.account_id,
        "kind": source.kind,
        "name": source.name,
        "address": source.address,
        "connection_kind": str(source.connection_kind),
        "settings": json.dumps(source.settings or {}, sort_keys=True),
    }
    stmt = sqlite_insert(sources).values(id=source.id, **values)
    conn.execute(stmt.on_conflict_do_update(index_elements=[sources.c.id], set_=values))


def delete_source(conn: Connection, source_id: str) -> None:
    """Forget a source and everything cached for it."""
    conn.execute(delete(items).where(items.c.source_id == source_id))
    conn.execute(delete(sources).where(sources.c.id == source_id))


@dataclass(frozen=True, slots=True)
class SourceTimes:
    last_sync: int
    last_full_sync: int


def source_times(conn: Connection) -> dict[str, SourceTimes]:
    rows = conn.execute(select(sources.c.id, sources.c.last_sync, sources.c.last_full_sync))
    return {row.id: SourceTimes(row.last_sync, row.last_full_sync) for row in rows}


def mark_source_synced(conn: Connection, source_id: str, when: int, full: bool) -> None:
    values: dict[str, int] = {"last_sync": when}
    if full:
        values["last_full_sync"] = when
    conn.execute(update(sources).where(sources.c.id == source_id).values(**values))


@dataclass(frozen=True, slots=True)
class CachedLibrary:
    source_id: str
    library: Library
    last_sync: int


def load_libraries(conn: Connection, source_id: str | None = None) -> list[CachedLibrary]:
    stmt = (
        select(libraries, func.coalesce(library_sync.c.last_sync, 0).label("last_sync"))
        .select_from(
            libraries.outerjoin(
                library_sync,
                and_(
                    library_sync.c.source_id == libraries.c.source_id,
                    library_sync.c.library_id == libraries.c.id,
                ),
            )
        )
        .order_by(libraries.c.source_id, libraries.c.position)
    )
    if source_id is not None:
        stmt = stmt.where(libraries.c.source_id == source_id)
    return [
        CachedLibrary(row.source_id, Library(row.id, row.title, LibraryKind(row.kind)), row.last_sync)
        for row in conn.execute(stmt)
    ]


def replace_libraries(conn: Connection, source_id: str, found: Sequence[Library]) -> list[str]:
    """Store a source's libraries as the server lists them; return the ids that went away."""
    cached = set(conn.execute(select(libraries.c.id).where(libraries.c.source_id == source_id)).scalars())
    for position, library in enumerate(found):
        values = {"title": library.title, "kind": str(library.kind), "position": position}
        stmt = sqlite_insert(libraries).values(source_id=source_id, id=library.remote_id, **values)
        conn.execute(stmt.on_conflict_do_update(index_elements=["source_id", "id"], set_=values))
    gone = sorted(cached - {library.remote_id for library in found})
    if gone:
        conn.execute(delete(items).where(items.c.source_id == source_id, items.c.library_id.in_(gone)))
        conn.execute(delete(libraries).where(libraries.c.source_id == source_id, libraries.c.id.in_(gone)))
    return gone


def item_counts(conn: Connection) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    """Items per source (all kinds) and top-level items per library."""
    per_source = {
        row.source_id: row.n
        for row in conn.execute(
            select(items.c.source_id, func.count().label("n")).group_by(items.c.source_id)
        )
    }
    per_library = {
        (row.source_id, row.library_id): row.n
        for row in conn.execute(
            select(items.c.source_id, items.c.library_id, func.count().label("n"))
            .where(TOP_LEVEL_ONLY)  # reads a partial sort index alone: 6 ms for 100k items, not 60
            .group_by(items.c.source_id, items.c.library_id)
        )
    }
    return per_source, per_library


# -- writing items --------------------------------------------------------------------------


_ITEM_COLUMNS = (
    "source_id",
    "remote_id",
    "library_id",
    "kind",
    "title",
    "sort_title",
    "parent_id",
    "year",
    "summary",
    "duration_ms",
    "idx",
    "parent_idx",
    "show_title",
    "added_at",
    "updated_at",
    "rating",
    "thumb",
    "etag",
    "extra",
    "top_level",
    "genres",
    "content_rating",
    "studio",
    "original_title",
    "sort_name",
    "air_date",
    "provider_ids",
    "artist",
    "index_end",
    "artwork",
)
_WATCH_COLUMNS = ("source_id", "remote_id", "watched", "position_ms", "view_count", "last_viewed_at")
_TOP_LEVEL_KINDS = frozenset(TOP_LEVEL)


def _item_values(source_id: str, item: MediaItem) -> tuple[Any, ...]:
    return (
        source_id,
        item.remote_id,
        item.library_id,
        str(item.kind),
        item.title,
        sort_key(item.sort_title or item.title),
        item.parent_id,
        item.year,
        item.summary,
        item.duration_ms,
        item.index,
        item.parent_index,
        item.show_title,
        item.added_at,
        item.updated_at,
        _finite(item.rating),
        item.thumb,
        item.etag,
        orjson.dumps(item.extra).decode() if item.extra else None,
        1 if item.kind in _TOP_LEVEL_KINDS else 0,
        _json_or_none(item.genres),
        item.content_rating,
        item.studio,
        item.original_title,
        item.sort_title,
        item.air_date,
        _json_or_none(item.provider_ids),
        item.artist,
        item.index_end,
        _json_or_none(item.artwork),
    )


def _json_or_none(value: list[str] | dict[str, str]) -> str | None:
    return orjson.dumps(value).decode() if value else None


def _finite(value: float | None) -> float | None:
    # SQLite stores an infinite rating (a server's "inf") as is, and cannot write it back out as JSON.
    return value if value is None or math.isfinite(value) else None


def _watch_values(source_id: str, state: WatchState) -> tuple[Any, ...]:
    return (
        source_id,
        state.remote_id,
        state.watched,
        state.position_ms,
        state.view_count,
        state.last_viewed_at,
    )


# Multi-row VALUES statements written out once per row count: several times faster than SQLAlchemy's
# executemany of single-row upserts, which is what a 100k-item sync spends its time on.
@functools.lru_cache(maxsize=32)
def _upsert_items_sql(rows: int) -> str:
    marks = "(" + ",".join("?" * len(_ITEM_COLUMNS)) + ")"
    updates = ", ".join(f"{c} = excluded.{c}" for c in _ITEM_COLUMNS if c not in ("source_id", "remote_id"))
    return (
        f"INSERT INTO items ({', '.join(_ITEM_COLUMNS)}) VALUES {','.join([marks] * rows)} "
        f"ON CONFLICT (source_id, remote_id) DO UPDATE SET {updates} "
        # An item whose etag did not change is not rewritten (nor reindexed).
        "WHERE excluded.etag IS NULL OR items.etag IS NOT excluded.etag"
    )


@functools.lru_cache(maxsize=32)
def _upsert_watch_sql(rows: int) -> str:
    marks = "(" + ",".join("?" * len(_WATCH_COLUMNS)) + ")"
    fields = _WATCH_COLUMNS[2:]
    return (
        f"INSERT INTO watch_state ({', '.join(_WATCH_COLUMNS)}) VALUES {','.join([marks] * rows)} "
        f"ON CONFLICT (source_id, remote_id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in fields)} "
        f"WHERE ({' OR '.join(f'watch_state.{c} IS NOT excluded.{c}' for c in fields)}) "
        # A change a person made here that has not reached the server yet wins over the server's view.
        "AND NOT EXISTS (SELECT 1 FROM pending_actions p "
        "WHERE p.source_id = watch_state.source_id AND p.remote_id = watch_state.remote_id)"
    )


def _execute_rows(conn: Connection, make_sql: Any, rows: Sequence[tuple[Any, ...]]) -> int:
    """Rows written (an upsert whose WHERE finds nothing changed writes none)."""
    changed = 0
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        chunk = rows[start : start + ROWS_PER_STATEMENT]
        result = conn.exec_driver_sql(make_sql(len(chunk)), tuple(value for row in chunk for value in row))
        changed += max(result.rowcount, 0)
    return changed


@dataclass(frozen=True, slots=True)
class Written:
    """What a write changed: item rows, and watch states (which may belong to the same items)."""

    items: int = 0
    watch_states: int = 0

    def __add__(self, other: "Written") -> "Written":
        return Written(self.items + other.items, self.watch_states + other.watch_states)


def upsert_items(conn: Connection, source_id: str, page: Sequence[MediaItem]) -> Written:
    """Store items and their watch states; how many of each changed."""
    items_changed = _execute_rows(conn, _upsert_items_sql, [_item_values(source_id, item) for item in page])
    watch = [item.watch for item in page if item.watch is not None]
    return Written(items_changed, upsert_watch_states(conn, source_id, watch))


def upsert_watch_states(conn: Connection, source_id: str, states: Sequence[WatchState]) -> int:
    """Store watch states; how many changed. Most items of a library were never played: their
    state is the default, which needs no row (reads treat a missing row as unwatched); such states
    only reset rows that exist, which saves inserting a row per item on a first sync."""
    played = [_watch_values(source_id, state) for state in states if not _is_default(state)]
    changed = _execute_rows(conn, _upsert_watch_sql, played)
    unplayed = [state.remote_id for state in states if _is_default(state)]
    for start in range(0, len(unplayed), ROWS_PER_STATEMENT):
        chunk = unplayed[start : start + ROWS_PER_STATEMENT]
        changed += max(conn.exec_driver_sql(_reset_watch_sql(len(chunk)), (source_id, *chunk)).rowcount, 0)
    return changed


def _is_default(state: WatchState) -> bool:
    return (
        not state.watched and not state.position_ms and not state.view_count and state.last_viewed_at is None
    )


@functools.lru_cache(maxsize=32)
def _reset_watch_sql(rows: int) -> str:
    return (
        "UPDATE watch_state SET watched = 0, position_ms = 0, view_count = 0, last_viewed_at = NULL "
        f"WHERE source_id = ? AND remote_id IN ({','.join('?' * rows)}) "
        "AND (watched OR position_ms OR view_count OR last_viewed_at IS NOT NULL) "
        "AND NOT EXISTS (SELECT 1 FROM pending_actions p "
        "WHERE p.source_id = watch_state.source_id AND p.remote_id = watch_state.remote_id)"
    )


def reconcile_watched(conn: Connection, source_id: str, library_id: str, watched_ids: frozenset[str]) -> None:
    """Make the library's watched flags match the server's complete list of watched playable items,
    sparing pending changes. Shows and seasons are left alone: their flag is derived from their
    episodes, and a list of watched episodes says nothing about it."""
    not_pending = ~exists().where(
        pending_actions.c.source_id == watch_state.c.source_id,
        pending_actions.c.remote_id == watch_state.c.remote_id,
    )
    in_library = select(items.c.remote_id).where(
        items.c.source_id == source_id,
        items.c.library_id == library_id,
        items.c.kind.in_([str(kind) for kind in PLAYABLE_KINDS]),
    )
    stale = conn.execute(
        select(watch_state.c.remote_id).where(
            watch_state.c.source_id == source_id,
            watch_state.c.watched.is_(True),
            watch_state.c.remote_id.in_(in_library),
            not_pending,
        )
    ).scalars()
    unwatched = [rid for rid in stale if rid not in watched_ids]
    for start in range(0, len(unwatched), ROWS_PER_STATEMENT):
        conn.execute(
            update(watch_state)
            .where(
                watch_state.c.source_id == source_id,
                watch_state.c.remote_id.in_(unwatched[start : start + ROWS_PER_STATEMENT]),
            )
            .values(watched=False)
        )
    ids = sorted(watched_ids)
    for start in range(0, len(ids), ROWS_PER_STATEMENT):
        chunk = ids[start : start + ROWS_PER_STATEMENT]
        known = set(
            conn.execute(
                select(watch_state.c.remote_id).where(
                    watch_state.c.source_id == source_id, watch_state.c.remote_id.in_(chunk), not_pending
                )
            ).scalars()
        )
        conn.execute(
            update(watch_state)
            .where(
                watch_state.c.source_id == source_id,
                watch_state.c.remote_id.in_(known),
                watch_state.c.watched.is_(False),
            )
            .values(watched=True, position_ms=0)
        )
        missing = [rid for rid in chunk if rid not in known]
        upsert_watch_states(conn, source_id, [WatchState(rid, watched=True, view_count=1) for rid in missing])


def with_descendants(conn: Connection, source_id: str, remote_ids: Sequence[str]) -> list[str]:
    """The cached items among ``remote_ids`` and everything below them (a show's seasons and episodes)."""
    found: list[str] = []
    for start in range(0, len(remote_ids), ROWS_PER_STATEMENT):
        chunk = remote_ids[start : start + ROWS_PER_STATEMENT]
        marks = ",".join(f":r{i}" for i in range(len(chunk)))
        params: dict[str, Any] = {f"r{i}": rid for i, rid in enumerate(chunk)}
        params["source"] = source_id
        found.extend(
            conn.execute(
                text(
                    f"""WITH RECURSIVE below(rid) AS (
                        SELECT remote_id FROM items WHERE source_id = :source AND remote_id IN ({marks})
                        UNION SELECT i.remote_id FROM items i JOIN below b ON i.parent_id = b.rid
                        WHERE i.source_id = :source)
                    SELECT rid FROM below"""
                ),
                params,
            ).scalars()
        )
    return found


def copy_watch_states(conn: Connection, source_id: str, moved: Mapping[str, str]) -> None:
    """Give items that moved (old id -> new id) the watch state of where they were."""
    for old_id, new_id in moved.items():
        conn.exec_driver_sql(
            "INSERT OR REPLACE INTO watch_state "
            "(source_id, remote_id, watched, position_ms, view_count, last_viewed_at) "
            "SELECT source_id, ?, watched, position_ms, view_count, last_viewed_at FROM watch_state "
            "WHERE source_id = ? AND remote_id = ?",
            (new_id, source_id, old_id),
        )


def delete_items(conn: Connection, source_id: str, remote_ids: Iterable[str]) -> int:
    """Delete items and everything below them (a show's seasons and episodes)."""
    ids = list(remote_ids)
    removed = 0
    for start in range(0, len(ids), ROWS_PER_STATEMENT):
        doomed_ids = with_descendants(conn, source_id, ids[start : start + ROWS_PER_STATEMENT])
        for sub in range(0, len(doomed_ids), ROWS_PER_STATEMENT):
            part = doomed_ids[sub : sub + ROWS_PER_STATEMENT]
            removed += conn.execute(
                delete(items).where(items.c.source_id == source_id, items.c.remote_id.in_(part))
            ).rowcount
            conn.execute(
                delete(watch_state).where(
                    watch_state.c.source_id == source_id, watch_state.c.remote_id.in_(part)
                )
            )
    return removed


def known_items(conn: Connection, source_id: str) -> dict[str, KnownItem]:
    """What the cache holds of a source, every library: a file may move between libraries."""
    rows = conn.execute(
        select(items.c.remote_id, items.c.etag, items.c.parent_id, items.c.library_id).where(
            items.c.source_id == source_id
        )
    )
    return {row.remote_id: KnownItem(row.etag, row.parent_id, row.library_id) for row in rows}


# CROSS JOIN keeps SQLite from scanning every item (most never played) and probing watch_state
# for each: it walks the source's watch-state rows and looks their items up.
_WATCH_SETS_SQL = (
    "SELECT i.library_id, w.remote_id, w.watched, w.position_ms FROM watch_state AS w CROSS JOIN items AS i "
    "ON i.source_id = w.source_id AND i.remote_id = w.remote_id "
    "WHERE w.source_id = ? AND (w.watched = 1 OR w.position_ms > 0) "
    f"AND i.kind IN ({', '.join(repr(str(kind)) for kind in sorted(PLAYABLE_KINDS))})"
)


@dataclass(frozen=True, slots=True)
class WatchSets:
    """A library's playable items the cache holds as watched, and those with a resume point."""

    watched: frozenset[str] = frozenset()
    in_progress: frozenset[str] = frozenset()


def watch_sets(conn: Connection, source_id: str) -> dict[str, WatchSets]:
    """Every library's ``WatchSets``, by library id, in one pass over the source's watch state."""
    watched: dict[str, set[str]] = {}
    in_progress: dict[str, set[str]] = {}
    driver = conn.connection.driver_connection
    assert driver is not None
    # The driver's own cursor: tens of thousands of plain tuples, a third cheaper than Result rows.
    for library_id, remote_id, is_watched, position_ms in driver.execute(_WATCH_SETS_SQL, (source_id,)):
        if is_watched:
            watched.setdefault(library_id, set()).add(remote_id)
        if position_ms:
            in_progress.setdefault(library_id, set()).add(remote_id)
    return {
        library_id: WatchSets(
            frozenset(watched.get(library_id, ())), frozenset(in_progress.get(library_id, ()))
        )
        for library_id in watched.keys() | in_progress.keys()
    }


def count_items(conn: Connection, source_id: str, library_id: str) -> int:
    stmt = select(func.count()).where(items.c.source_id == source_id, items.c.library_id == library_id)
    return int(conn.execute(stmt).scalar_one())


def library_count_among(
    conn: Connection, source_id: str, library_id: str, remote_ids: Sequence[str]
) -> tuple[int, int]:
    """How many items of the library the cache holds, and how many of ``remote_ids`` are among them.

    Two counts, not one snapshot: a batch of the same sync committed in between (an incremental
    listing of thousands of changes) can skew them by that batch, for one sync's deletion check."""
    among = 0
    for start in range(0, len(remote_ids), ROWS_PER_STATEMENT):
        chunk = remote_ids[start : start + ROWS_PER_STATEMENT]
        among += conn.execute(
            select(func.count()).where(
                items.c.source_id == source_id, items.c.library_id == library_id, items.c.remote_id.in_(chunk)
            )
        ).scalar_one()
    return count_items(conn, source_id, library_id), among


def cached_remote_ids(conn: Connection, source_id: str, library_id: str) -> set[str]:
    rows = conn.execute(
        select(items.c.remote_id).where(items.c.source_id == source_id, items.c.library_id == library_id)
    )
    return set(rows.scalars())


@dataclass(frozen=True, slots=True)
class LibrarySyncState:
    cursor: str | None
    last_sync: int
    last_full_sync: int
    last_error: str | None
    error_count: int
    total: int


def library_sync_state(conn: Connection, source_id: str, library_id: str) -> LibrarySyncState | None:
    row = conn.execute(
        select(library_sync).where(
            library_sync.c.source_id == source_id, library_sync.c.library_id == library_id
        )
    ).first()
    if row is None:
        return None
    return LibrarySyncState(
        row.cursor, row.last_sync, row.last_full_sync, row.last_error, row.error_count, row.total
    )


def record_library_sync(
    conn: Connection,
    source_id: str,
    library_id: str,
    *,
    cursor: str | None,
    full: bool,
    total: int,
    when: int | None = None,
) -> None:
    now = when if when is not None else int(time.time())
    values: dict[str, Any] = {"cursor": cursor, "last_sync": now, "last_error": None, "error_count": 0}
    if full:
        values["last_full_sync"] = now
        values["total"] = total
    stmt = sqlite_insert(library_sync).values(source_id=source_id, library_id=library_id, **values)
    conn.execute(stmt.on_conflict_do_update(index_elements=["source_id", "library_id"], set_=values))


#: A library's ``last_full_sync`` while a full listing asked for is owed (0 reads "never").
FULL_SYNC_OWED = -1


def owe_full_sync(conn: Connection, source_id: str) -> None:
    """A full listing of every library of the source is owed (asked for, not done yet), until each
    library's next full listing: the next sync lists them in full, even after a crash."""
    conn.execute(
        update(library_sync)
        .where(library_sync.c.source_id == source_id)
        .values(last_full_sync=FULL_SYNC_OWED)
    )


def full_sync_owed(conn: Connection, source_id: str) -> bool:
    """Whether a full listing asked for still waits for a library of the source."""
    owed = select(library_sync.c.library_id).where(
        library_sync.c.source_id == source_id, library_sync.c.last_full_sync == FULL_SYNC_OWED
    )
    return conn.execute(owed.limit(1)).first() is not None


def record_library_error(conn: Connection, source_id: str, library_id: str, error: str) -> int:
    """Remember why a library's sync failed; return how many times in a row it has."""
    stmt = sqlite_insert(library_sync).values(
        source_id=source_id, library_id=library_id, last_error=error, error_count=1
    )
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["source_id", "library_id"],
            set_={"last_error": error, "error_count": library_sync.c.error_count + 1},
        )
    )
    return int(
        conn.execute(
            select(library_sync.c.error_count).where(
                library_sync.c.source_id == source_id, library_sync.c.library_id == library_id
            )
        ).scalar_one()
    )


# -- local watch state and the pending-actions queue ----------------------------------------


@dataclass(frozen=True, slots=True)
class PendingAction:
    id: int
    source_id: str
    remote_id: str
    action: str  # "watched", "unwatched" or "progress"
    position_ms: int
    state: str
    #: False once a sync has removed the item: the server no longer has it.
    item_cached: bool = True


def _mark_all(conn: Connection, source_id: str, remote_ids: Sequence[str], watched: bool, now: int) -> None:
    """Mark items watched (a view more for those that were not) or unwatched, resume points cleared."""
    current = watch_state.c
    if watched:
        changes: dict[str, Any] = {
            "watched": True,
            "position_ms": 0,
            "view_count": case((current.watched.is_(True), current.view_count), else_=current.view_count + 1),
            "last_viewed_at": case((current.watched.is_(True), current.last_viewed_at), else_=now),
        }
        fresh: dict[str, Any] = {"watched": True, "position_ms": 0, "view_count": 1, "last_viewed_at": now}
    else:
        changes = {"watched": False, "position_ms": 0, "view_count": 0}
        fresh = {"watched": False, "position_ms": 0, "view_count": 0, "last_viewed_at": None}
    for start in range(0, len(remote_ids), ROWS_PER_STATEMENT):
        chunk = remote_ids[start : start + ROWS_PER_STATEMENT]
        stmt = sqlite_insert(watch_state).values(
            [{"source_id": source_id, "remote_id": rid, **fresh} for rid in chunk]
        )
        conn.execute(stmt.on_conflict_do_update(index_elements=["source_id", "remote_id"], set_=changes))


def apply_watch_change(
    conn: Connection,
    source_id: str,
    remote_id: str,
    *,
    watched: bool | None = None,
    position_ms: int | None = None,
    queue: PendingAction | None = None,
) -> None:
    """Apply a person's change to the cache at once, and queue it for the server if asked."""
    now = int(time.time())
    current = conn.execute(
        select(watch_state).where(watch_state.c.source_id == source_id, watch_state.c.remote_id == remote_id)
    ).first()
    state: dict[str, Any] = {
        "watched": bool(current.watched) if current else False,
        "position_ms": current.position_ms if current else 0,
        "view_count": current.view_count if current else 0,
        "last_viewed_at": current.last_viewed_at if current else None,
    }
    if position_ms is not None:
        state["position_ms"] = position_ms
        state["last_viewed_at"] = now
    if watched is not None:  # after the position: played to the end is watched, from the start
        state["watched"] = watched
        state["position_ms"] = 0
        if watched:
            state["view_count"] = max(1, int(state["view_count"]) + (0 if current and current.watched else 1))
            state["last_viewed_at"] = now
        else:
            state["view_count"] = 0
    stmt = sqlite_insert(watch_state).values(source_id=source_id, remote_id=remote_id, **state)
    conn.execute(stmt.on_conflict_do_update(index_elements=["source_id", "remote_id"], set_=state))
    if watched is not None:
        # A show or season marked watched is marked with everything in it, as its server does it.
        below = [rid for rid in with_descendants(conn, source_id, [remote_id]) if rid != remote_id]
        _mark_all(conn, source_id, below, watched, now)
    if queue is not None:
        if queue.action == "progress" and queue.state in _PASSING_STATES:
            _drop_superseded_progress(conn, source_id, remote_id)
        conn.execute(
            insert(pending_actions).values(
                source_id=source_id,
                remote_id=remote_id,
                action=queue.action,
                position_ms=queue.position_ms,
                state=queue.state,
                created_at=now,
            )
        )


#: Progress reports that a later one replaces: only where playback stands now matters to a server.
_PASSING_STATES = ("playing", "paused")


def _drop_superseded_progress(conn: Connection, source_id: str, remote_id: str) -> None:
    """Drop the item's queued playing/paused reports that nothing else follows: an hour watched
    offline would otherwise replay as hundreds of requests. A report of a stop, and any change
    queued after it, stay, in order."""
    of_item = (pending_actions.c.source_id == source_id) & (pending_actions.c.remote_id == remote_id)
    passing = (pending_actions.c.action == "progress") & pending_actions.c.state.in_(_PASSING_STATES)
    last_other = (
        select(func.coalesce(func.max(pending_actions.c.id), 0)).where(of_item, ~passing).scalar_subquery()
    )
    conn.execute(delete(pending_actions).where(of_item, passing, pending_actions.c.id > last_other))


def pending_for_source(conn: Connection, source_id: str) -> list[PendingAction]:
    cached = exists().where(
        items.c.source_id == pending_actions.c.source_id, items.c.remote_id == pending_actions.c.remote_id
    )
    rows = conn.execute(
        select(pending_actions, cached.label("item_cached"))
        .where(pending_actions.c.source_id == source_id)
        .order_by(pending_actions.c.id)
    )
    return [
        PendingAction(r.id, r.source_id, r.remote_id, r.action, r.position_ms, r.state, bool(r.item_cached))
        for r in rows
    ]


def pending_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(pending_actions)).scalar_one())


def pending_counts(conn: Connection) -> dict[str, int]:
    """Per source, how many watch changes wait in the queue."""
    rows = conn.execute(
        select(pending_actions.c.source_id, func.count()).group_by(pending_actions.c.source_id)
    )
    return {source_id: int(count) for source_id, count in rows}


def finish_pending(conn: Connection, action_id: int) -> None:
    conn.execute(delete(pending_actions).where(pending_actions.c.id == action_id))


def fail_pending(conn: Connection, action_id: int, error: str) -> None:
    conn.execute(
        update(pending_actions)
        .where(pending_actions.c.id == action_id)
        .values(attempts=pending_actions.c.attempts + 1, last_error=error)
    )


# -- install facts ----------------------------------------------------------------------------


def install_fact(conn: Connection, key: str, make: Any) -> str:
    """The stored value of ``key``, created with ``make()`` the first time."""
    value = conn.execute(select(install_facts.c.value).where(install_facts.c.key == key)).scalar()
    if value is None:
        value = str(make())
        conn.execute(insert(install_facts).values(key=key, value=value))
    return str(value)
