"""Reads that frontends make: pages of a library, an item, its children, search, shelves.

Every function returns ``BrowseRow`` s: an item joined with its watch state, ready for the
bus layer to convert. They never touch the network.
"""

from __future__ import annotations  # array[int] in annotations (subscriptable only from 3.12)

import re
import sqlite3
import threading
from array import array
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, Row, Select, and_, desc, func, literal_column, select, text
from sqlalchemy.dialects import sqlite

from reeld.cache.schema import TOP_LEVEL_ONLY, items, watch_state
from reeld.errors import CacheError
from reeld.models.media import PLAYABLE_KINDS, ItemKind, sort_key

BrowseRow = Row[Any]
#: A row of a library page: the ``BROWSE_COLUMNS`` values by position (pages skip SQLAlchemy's Rows).
PageRow = Sequence[Any]

# Each sort follows one index (ix_items_by_*) exactly, ties broken by rowid, so any page is cheap.
SORTS: dict[str, tuple[Any, ...]] = {
    "title": (items.c.sort_title, items.c.id),
    "added": (desc(items.c.added_at), desc(items.c.id)),
    "year": (desc(items.c.year), desc(items.c.id)),
    "rating": (desc(items.c.rating), desc(items.c.id)),
}

PLAYABLE = sorted(str(kind) for kind in PLAYABLE_KINDS)


#: The columns of every ``BrowseRow``, in order: converters read rows by position (much cheaper
#: than by name, and ListItems converts thousands of values per call).
BROWSE_COLUMNS: tuple[str, ...] = (
    "source_id",
    "remote_id",
    "library_id",
    "parent_id",
    "kind",
    "title",
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
    "watched",
    "position_ms",
    "view_count",
    "last_viewed_at",
    "id",
    "genres",
    "content_rating",
    "studio",
    "original_title",
    "sort_name",
    "air_date",
    "provider_ids",
    "artist",
    "index_end",
    "artwork",  # image tags: the artwork cache's paths of the images kept at these tags
    # computed (CONTAINER_COUNTS): of shows and seasons only, else NULL
    "child_count",
    "leaf_count",
    "watched_leaf_count",
)
_ID = BROWSE_COLUMNS.index("id")
_WATCH_COLUMNS = frozenset({"watched", "position_ms", "view_count", "last_viewed_at"})

_CONTAINERS = f"items.kind IN ('{ItemKind.SHOW}', '{ItemKind.SEASON}')"
#: The episodes of a show (in its seasons, or right under it) or of a season.
_LEAVES_OF_ROW = (
    f"FROM items AS leaf WHERE leaf.source_id = items.source_id AND leaf.kind = '{ItemKind.EPISODE}' "
    "AND leaf.parent_id IN (SELECT below.remote_id FROM items AS below WHERE below.source_id = "
    f"items.source_id AND below.parent_id = items.remote_id AND below.kind = '{ItemKind.SEASON}' "
    "UNION ALL SELECT items.remote_id)"
)
#: Counts a frontend shows on a show or season, from the cache (so a SetWatched here counts at once):
#: correlated subqueries that SQLite evaluates for shows and seasons only, through ix_items_parent.
CONTAINER_COUNTS: dict[str, str] = {
    "child_count": f"CASE WHEN {_CONTAINERS} THEN (SELECT count(*) FROM items AS child "
    "WHERE child.source_id = items.source_id AND child.parent_id = items.remote_id) END",
    "leaf_count": f"CASE WHEN {_CONTAINERS} THEN (SELECT count(*) {_LEAVES_OF_ROW}) END",
    "watched_leaf_count": f"CASE WHEN {_CONTAINERS} THEN (SELECT count(*) {_LEAVES_OF_ROW} AND EXISTS ("
    "SELECT 1 FROM watch_state AS seen WHERE seen.source_id = leaf.source_id "
    "AND seen.remote_id = leaf.remote_id AND seen.watched)) END",
}


def _column(name: str) -> Any:
    if name in _WATCH_COLUMNS:
        return watch_state.c[name]
    if name in CONTAINER_COUNTS:
        return literal_column(CONTAINER_COUNTS[name])  # unlabelled: pages wrap the columns in json_array()
    return items.c[name]


def _with_watch_state() -> Select[Any]:
    return select(*(_column(name) for name in BROWSE_COLUMNS)).select_from(
        items.outerjoin(
            watch_state,
            and_(watch_state.c.source_id == items.c.source_id, watch_state.c.remote_id == items.c.remote_id),
        )
    )


class PageIndex:
    """Per library and sort, the ordered ids of its top-level items, so a page at any offset is a
    slice rather than an index walk (a deep OFFSET into 100k items costs milliseconds).

    An order is valid for one cache generation. While a sync is writing, orders are not rebuilt:
    paging by OFFSET is cheaper than rebuilding an order that the next page would invalidate.
    Used from reader threads, hence the lock.
    """

    def __init__(self) -> None:
        self._orders: dict[tuple[str, str, str], tuple[int, array[int]]] = {}
        self._lock = threading.Lock()

    def current(self, generation: int, source_id: str, library_id: str, sort: str) -> bool:
        cached = self._orders.get((source_id, library_id, sort))
        return cached is not None and cached[0] == generation

    def order(
        self, conn: Connection, generation: int, rebuild: bool, source_id: str, library_id: str, sort: str
    ) -> array[int] | None:
        key = (source_id, library_id, sort)
        with self._lock:
            cached = self._orders.get(key)
        if cached is not None and cached[0] == generation:
            return cached[1]
        if not rebuild:
            return None
        ids = array("q", conn.execute(_top_level(source_id, library_id).order_by(*SORTS[sort])).scalars())
        with self._lock:
            self._orders[key] = (generation, ids)
        return ids


def _top_level(source_id: str, library_id: str) -> Select[Any]:
    # The literal (not a bound parameter) lets SQLite use the partial sort indexes.
    return select(items.c.id).where(
        items.c.source_id == source_id, items.c.library_id == library_id, TOP_LEVEL_ONLY
    )


def list_library(
    conn: Connection,
    source_id: str,
    library_id: str,
    offset: int,
    limit: int,
    sort: str,
    order: array[int] | None = None,
) -> Sequence[PageRow]:
    """A page of a library's top-level items; ``order`` (from a ``PageIndex``) makes it a slice."""
    driver = conn.connection.driver_connection
    assert driver is not None
    if order is not None:
        page_ids = list(order[offset : offset + limit])
    else:
        # Page through the index alone first, then read just those rows with their watch state:
        # an OFFSET deep into a large library would otherwise do the join for every skipped row.
        page_ids = _one_value(driver, _PAGE_IDS_SQL[sort], (source_id, library_id, limit, offset))
    return rows_by_id(conn, page_ids)


def rows_by_id(conn: Connection, item_ids: Sequence[int]) -> Sequence[PageRow]:
    """The rows of items by row id, in the order of ``item_ids`` (ids no longer cached left out)."""
    if not item_ids:
        return []
    driver = conn.connection.driver_connection
    assert driver is not None
    rows = _one_value(driver, _ROWS_BY_ID_SQL.format(marks=",".join("?" * len(item_ids))), item_ids)
    by_id = {row[_ID]: row for row in rows}
    return [by_id[item_id] for item_id in item_ids if item_id in by_id]


def one_value(conn: Connection, sql: str, parameters: Sequence[Any]) -> list[Any]:
    """The JSON array that ``sql`` aggregates its rows into, decoded (see ``_one_value``)."""
    driver = conn.connection.driver_connection
    assert driver is not None
    return _one_value(driver, sql, parameters)


def _one_value(driver: Any, sql: str, parameters: Sequence[Any]) -> list[Any]:
    """The JSON array that ``sql`` aggregates its rows into, decoded.

    Python's sqlite3 lets go of the GIL for every row it steps to. While a sync keeps other threads
    busy, taking it back waits for them to yield, up to a switch interval per row (CPython's 5 ms
    then): a page of 200 rows took 100-150 ms that way. One aggregated value is one step.
    """
    try:
        (value,) = driver.execute(sql, parameters).fetchone()
        return orjson.loads(value)
    except (orjson.JSONDecodeError, sqlite3.Error) as exc:  # a stored value JSON cannot hold
        raise CacheError(f"A page of the cache could not be read ({exc.__class__.__name__})") from exc


def _as_json_array(select_sql: str) -> str:
    """``select_sql`` (one statement, ``SELECT <columns> FROM …``) with its rows as one JSON array
    of arrays (or of values, for one column)."""
    columns, rest = select_sql.removeprefix("SELECT ").split(" \nFROM ", 1)
    row = f"json_array({columns})" if "," in columns else columns
    return f"SELECT json_group_array({row}) FROM {rest}"


def _page_ids_sql(sort: str) -> str:
    """The ids of one page in ``sort`` order (the ``SORTS`` terms, as SQL), by LIMIT and OFFSET."""
    order = ", ".join(str(term.compile(dialect=sqlite.dialect())) for term in SORTS[sort])
    return (
        "SELECT items.id FROM items WHERE items.source_id = ? AND items.library_id = ? "
        f"AND {TOP_LEVEL_ONLY.text} ORDER BY {order} LIMIT ? OFFSET ?"
    )


#: Aggregates consume a subquery's rows in the order it yields them, so the ids stay in page order.
_PAGE_IDS_SQL = {sort: f"SELECT json_group_array(id) FROM ({_page_ids_sql(sort)})" for sort in SORTS}

#: A page of rows by item id, as plain SQL run on the driver's cursor: ListItems runs it for every
#: page, and SQLAlchemy's statement caching and Row objects cost as much as the query itself.
_ROWS_BY_ID_SQL = _as_json_array(
    str(_with_watch_state().compile(dialect=sqlite.dialect())) + " WHERE items.id IN ({marks})"
)


def get_item(conn: Connection, source_id: str, remote_id: str) -> BrowseRow | None:
    stmt = _with_watch_state().where(items.c.source_id == source_id, items.c.remote_id == remote_id)
    return conn.execute(stmt).first()


def get_children(conn: Connection, source_id: str, remote_id: str) -> Sequence[BrowseRow]:
    stmt = (
        _with_watch_state()
        .where(items.c.source_id == source_id, items.c.parent_id == remote_id)
        .order_by(items.c.idx, items.c.sort_title, items.c.id)
    )
    return conn.execute(stmt).all()


_TOKEN = re.compile(r"\w+", re.UNICODE)


def fts_query(user_text: str) -> str | None:
    """Turn what a person typed into an FTS5 query: every word must match, the last as a prefix.

    Words are quoted, so FTS syntax in the input (``AND``, ``*``, quotes) is taken literally.
    """
    words = _TOKEN.findall(user_text)
    if not words:
        return None
    quoted = [f'"{word}"' for word in words]
    quoted[-1] += "*"
    return " ".join(quoted)


#: bm25 weights of the indexed columns: a word in an item's own title counts ten times one in its
#: show's title, so "dark" finds the show Dark before its thirty episodes.
_TITLE_WEIGHTS = "10.0, 1.0"


def search(conn: Connection, user_text: str, limit: int) -> Sequence[BrowseRow]:
    """Best matches first: the exact title, then titles that start with the text, then by relevance
    (bm25), shows and movies before episodes, episodes in their show's order, then by title."""
    query = fts_query(user_text)
    if query is None:
        return []
    typed = sort_key(" ".join(_TOKEN.findall(user_text)))
    matches = (
        select(
            literal_column("rowid").label("id"),
            literal_column(f"bm25(items_fts, {_TITLE_WEIGHTS})").label("score"),
        )
        .select_from(text("items_fts"))
        .where(text("items_fts MATCH :q"))
        .subquery("matches")
    )
    title = func.ltrim(items.c.sort_title)
    # Ranked on the items' own columns only, then the page's rows read by id: a word common to a
    # tenth of a 110k-item cache matches 11,000 items, and reading each one's watch state (and a
    # show's counts) before the sort took 70-150 ms of a reader thread; the ids alone, 20-40 ms.
    ranked = (
        select(items.c.id)
        .join(matches, matches.c.id == items.c.id)
        .order_by(
            title != typed,
            func.substr(title, 1, len(typed)) != typed,
            matches.c.score,
            items.c.kind == str(ItemKind.EPISODE),
            # A show's episodes match its title equally: in the show's order, not by their titles.
            items.c.show_title,
            items.c.parent_idx,
            items.c.idx,
            items.c.sort_title,
            items.c.id,
        )
        .limit(limit)
    )
    ids = list(conn.execute(ranked, {"q": query}).scalars())
    if not ids:
        return []
    found = {row.id: row for row in conn.execute(_with_watch_state().where(items.c.id.in_(ids)))}
    return [found[item_id] for item_id in ids if item_id in found]


def continue_watching(conn: Connection, limit: int) -> Sequence[BrowseRow]:
    stmt = (
        _with_watch_state()
        .where(watch_state.c.position_ms > 0, watch_state.c.watched.is_not(True), items.c.kind.in_(PLAYABLE))
        .order_by(desc(func.coalesce(watch_state.c.last_viewed_at, 0)), items.c.id)
        .limit(limit)
    )
    return conn.execute(stmt).all()


def recently_added(conn: Connection, limit: int) -> Sequence[BrowseRow]:
    stmt = (
        _with_watch_state()
        .where(items.c.kind.in_([str(ItemKind.MOVIE), str(ItemKind.EPISODE), str(ItemKind.ALBUM)]))
        .where(items.c.added_at.is_not(None))
        .order_by(desc(items.c.added_at), items.c.id)
        .limit(limit)
    )
    return conn.execute(stmt).all()
