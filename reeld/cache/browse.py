"""Reads that frontends make: pages of a library, an item, its children, search, shelves.

Every function returns ``BrowseRow`` s: an item joined with its watch state, ready for the
bus layer to convert. They never touch the network.
"""

from __future__ import annotations  # array[int] in annotations (subscriptable only from 3.12)

import re
import sqlite3
import threading
import time
from array import array
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, Row, Select, and_, desc, func, literal_column, select, text
from sqlalchemy.dialects import sqlite

from reeld.cache.db import sqlite_problem
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


def _column(name: str, counts: bool) -> Any:
    if name in _WATCH_COLUMNS:
        return watch_state.c[name]
    if name in CONTAINER_COUNTS:
        # Unlabelled: pages wrap the columns in json_array(). Pages count in one go (_add_counts).
        return literal_column(CONTAINER_COUNTS[name] if counts else "NULL")
    return items.c[name]


def _with_watch_state(counts: bool = True) -> Select[Any]:
    return select(*(_column(name, counts) for name in BROWSE_COLUMNS)).select_from(
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
        self._counts: dict[str, SourceCounts] = {}
        self._lock = threading.Lock()

    def counts(self, generation: int, source_id: str) -> SourceCounts | None:
        """The source's container counts for ``generation``, if they were built for it."""
        with self._lock:
            counts = self._counts.get(source_id)
        return counts if counts is not None and counts.generation == generation else None

    def all_counts(self, generation: int) -> dict[str, SourceCounts]:
        """Every source's container counts built for ``generation`` (a search spans sources)."""
        with self._lock:
            return {source: c for source, c in self._counts.items() if c.generation == generation}

    def current(self, generation: int, source_id: str, library_id: str, sort: str) -> bool:
        cached = self._orders.get((source_id, library_id, sort))
        return cached is not None and cached[0] == generation

    def order(
        self, conn: Connection, generation: int, rebuild: bool, source_id: str, library_id: str, sort: str
    ) -> array[int] | None:
        key = (source_id, library_id, sort)
        with self._lock:
            cached = self._orders.get(key)
        if rebuild and self.counts(generation, source_id) is None:  # warmed with the orders
            counts = SourceCounts(conn, generation, source_id)
            with self._lock:
                self._counts[source_id] = counts
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
    counts: SourceCounts | None = None,
) -> Sequence[PageRow]:
    """A page of a library's top-level items; ``order`` (from a ``PageIndex``) makes it a slice,
    and ``counts`` (from there too) spare counting the episodes of its shows."""
    driver = conn.connection.driver_connection
    assert driver is not None
    if order is not None:
        page_ids = list(order[offset : offset + limit])
    else:
        # Page through the index alone first, then read just those rows with their watch state:
        # an OFFSET deep into a large library would otherwise do the join for every skipped row.
        page_ids = _one_value(driver, _PAGE_IDS_SQL[sort], (source_id, library_id, limit, offset))
    return rows_by_id(conn, page_ids, counts)


def rows_by_id(
    conn: Connection, item_ids: Sequence[int], counts: SourceCounts | Mapping[str, SourceCounts] | None = None
) -> Sequence[PageRow]:
    """The rows of items by row id, in the order of ``item_ids`` (ids no longer cached left out);
    the shows and seasons of ``counts``'s source (or sources, by id) are counted from it."""
    if not item_ids:
        return []
    driver = conn.connection.driver_connection
    assert driver is not None
    rows = _one_value(driver, _ROWS_BY_ID_SQL.format(marks=",".join("?" * len(item_ids))), item_ids)
    _add_counts(driver, rows, counts)
    by_id = {row[_ID]: row for row in rows}
    return [by_id[item_id] for item_id in item_ids if item_id in by_id]


_KIND, _SOURCE, _REMOTE = (BROWSE_COLUMNS.index(name) for name in ("kind", "source_id", "remote_id"))
_CHILDREN, _LEAVES, _WATCHED_LEAVES = (
    BROWSE_COLUMNS.index(name) for name in ("child_count", "leaf_count", "watched_leaf_count")
)
_CONTAINER_KINDS = frozenset({str(ItemKind.SHOW), str(ItemKind.SEASON)})


def _add_counts(
    driver: Any, rows: list[list[Any]], counts: SourceCounts | Mapping[str, SourceCounts] | None = None
) -> None:
    """Fill in the counts of the shows and seasons among ``rows``: from ``counts`` for its source,
    else with two queries for them all (per row, as the single-item reads count, a page of 200
    shows took several times longer)."""
    built = counts if isinstance(counts, Mapping) else {counts.source_id: counts} if counts else {}
    by_source: dict[str, list[list[Any]]] = {}
    for row in rows:
        if row[_KIND] not in _CONTAINER_KINDS:
            continue
        if (known := built.get(row[_SOURCE])) is not None:
            known.fill(row)
        else:
            by_source.setdefault(row[_SOURCE], []).append(row)
    for source_id, containers in by_source.items():
        for start in range(0, len(containers), _COUNTED_PER_QUERY):
            _count_below(driver, source_id, containers[start : start + _COUNTED_PER_QUERY])


#: Containers counted per statement (their seasons go into the next statement's IN list).
_COUNTED_PER_QUERY = 500


def _count_below(driver: Any, source_id: str, containers: list[list[Any]]) -> None:
    parents = [row[_REMOTE] for row in containers]
    children = _one_value(
        driver,
        "SELECT json_group_array(json_array(parent_id, remote_id, kind)) FROM items "
        f"WHERE source_id = ? AND parent_id IN ({','.join('?' * len(parents))})",
        (source_id, *parents),
    )
    child_count: dict[str, int] = {}
    seasons_of: dict[str, str] = {}  # season -> its show, for the shows among ``containers``
    for parent, remote_id, kind in children:
        child_count[parent] = child_count.get(parent, 0) + 1
        if kind == ItemKind.SEASON:
            seasons_of[remote_id] = parent
    leaf_parents = [*parents, *seasons_of]
    leaves: dict[str, tuple[int, int]] = {}
    for start in range(0, len(leaf_parents), ROWS_PER_COUNT):
        chunk = leaf_parents[start : start + ROWS_PER_COUNT]
        for parent, total, watched in _one_value(
            driver,
            "SELECT json_group_array(json_array(parent_id, n, seen)) FROM (SELECT e.parent_id AS parent_id, "
            "count(*) AS n, sum(coalesce(w.watched, 0)) AS seen FROM items AS e LEFT JOIN watch_state AS w "
            "ON w.source_id = e.source_id AND w.remote_id = e.remote_id "
            f"WHERE e.source_id = ? AND e.kind = '{ItemKind.EPISODE}' "
            f"AND e.parent_id IN ({','.join('?' * len(chunk))}) GROUP BY e.parent_id)",
            (source_id, *chunk),
        ):
            leaves[parent] = (total, watched)
    per_show: dict[str, tuple[int, int]] = {}
    for season, show in seasons_of.items():
        total, watched = leaves.get(season, (0, 0))
        shown_total, shown_watched = per_show.get(show, (0, 0))
        per_show[show] = (shown_total + total, shown_watched + watched)
    for row in containers:
        remote_id = row[_REMOTE]
        direct_total, direct_watched = leaves.get(remote_id, (0, 0))  # episodes right under it
        below_total, below_watched = per_show.get(remote_id, (0, 0))
        row[_CHILDREN] = child_count.get(remote_id, 0)
        row[_LEAVES] = direct_total + below_total
        row[_WATCHED_LEAVES] = direct_watched + below_watched


#: Parents per statement of episode counts (SQLite takes up to 32766 parameters).
ROWS_PER_COUNT = 2000


class SourceCounts:
    """A source's children and episodes, watched or not, per show and season, for one cache
    generation: built off the request path with the paging orders (three passes over indexes and
    the watched rows), after which a page of shows is counted by lookups."""

    def __init__(self, conn: Connection, generation: int, source_id: str) -> None:
        self.generation, self.source_id = generation, source_id
        driver = conn.connection.driver_connection
        assert driver is not None
        where = (source_id,)
        self.children: dict[str, int] = dict(_one_value(driver, _CHILDREN_SQL, where))
        self.watched_episodes: dict[str, int] = dict(_one_value(driver, _WATCHED_EPISODES_SQL, where))
        self.seasons: dict[str, list[str]] = {}
        for show, season in _one_value(driver, _SEASONS_SQL, where):
            self.seasons.setdefault(show, []).append(season)

    def fill(self, row: list[Any]) -> None:
        """A show's or season's counts, as ``_count_below`` counts them. The children of a season
        are its episodes; a show's are its seasons, and episodes right under it."""
        remote_id = row[_REMOTE]
        seasons = self.seasons.get(remote_id, ())
        children = self.children.get(remote_id, 0)
        row[_CHILDREN] = children
        row[_LEAVES] = children - len(seasons) + sum(self.children.get(season, 0) for season in seasons)
        row[_WATCHED_LEAVES] = self.watched_episodes.get(remote_id, 0) + sum(
            self.watched_episodes.get(season, 0) for season in seasons
        )


_CHILDREN_SQL = (
    "SELECT json_group_array(json_array(parent_id, n)) FROM (SELECT parent_id, count(*) AS n FROM items "
    "WHERE source_id = ? AND parent_id IS NOT NULL GROUP BY parent_id)"
)
_WATCHED_EPISODES_SQL = (
    "SELECT json_group_array(json_array(parent_id, n)) FROM (SELECT e.parent_id AS parent_id, count(*) AS n "
    "FROM watch_state AS w CROSS JOIN items AS e ON e.source_id = w.source_id AND e.remote_id = w.remote_id "
    f"WHERE w.source_id = ? AND w.watched AND e.kind = '{ItemKind.EPISODE}' GROUP BY e.parent_id)"
)
_SEASONS_SQL = (
    "SELECT json_group_array(json_array(parent_id, remote_id)) FROM items "
    f"WHERE source_id = ? AND kind = '{ItemKind.SEASON}' AND parent_id IS NOT NULL"
)


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
    except orjson.JSONDecodeError as exc:  # a stored value JSON cannot hold
        raise CacheError("A page of the cache could not be read: a stored value is damaged") from exc
    except sqlite3.Error as exc:
        raise CacheError(f"A page of the cache could not be read: {sqlite_problem(exc)}") from exc


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
    str(_with_watch_state(counts=False).compile(dialect=sqlite.dialect())) + " WHERE items.id IN ({marks})"
)


def get_item(conn: Connection, source_id: str, remote_id: str) -> BrowseRow | None:
    stmt = _with_watch_state().where(items.c.source_id == source_id, items.c.remote_id == remote_id)
    return conn.execute(stmt).first()


def get_children(conn: Connection, source_id: str, remote_id: str) -> Sequence[PageRow]:
    stmt = (
        select(items.c.id)
        .where(items.c.source_id == source_id, items.c.parent_id == remote_id)
        # parent_idx first: an album's tracks by disc, then track (the same season for episodes).
        .order_by(items.c.parent_idx, items.c.idx, items.c.sort_title, items.c.id)
    )
    return rows_by_id(conn, _ids_in_order(conn, stmt))


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


class RecentSearches:
    """The ranked ids of recent searches, so the same search again reads only its rows.

    Ranking is the cost of a search: a word in a tenth of a 110k-item cache's titles matches 11,000
    items, and scoring and ordering them all takes 30-40 ms of CPU, against under 1 ms to read the
    50 rows it answers with. Busy frontends repeat searches (several clients, or one re-running a
    query after every change it hears of). Only the ids are kept; rows, watch state included, are
    always read fresh. Ids are reused while the cache generation is the same, and while a sync
    writes (the generation moves with every page that changed an item) for a while:
    ``REUSE_WHILE_WRITING_S``, or ``REUSE_PER_COST`` times as long as the ranking took, up to
    ``REUSE_AT_MOST_S``. An item the sync adds joins the answers that much later; in exchange,
    ranking one search again, however often it is asked, takes at most 1/``REUSE_PER_COST`` of a
    core (under 20 busy clients during a 110k-item sync, re-ranking common words each second took
    a third of the readers' time). Used from reader threads, hence the lock.
    """

    #: How long ranked ids are reused across writes, at least.
    REUSE_WHILE_WRITING_S = 1.0
    #: ... and how many times as long as ranking them took, up to ``REUSE_AT_MOST_S``.
    REUSE_PER_COST = 200
    REUSE_AT_MOST_S = 10.0
    #: Searches kept (the least recently used go first).
    SIZE = 256

    def __init__(self) -> None:
        #: (query, limit) -> (generation, reusable until (monotonic), ids)
        self._ranked: OrderedDict[tuple[str, int], tuple[int, float, list[int]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, generation: int, query: str, limit: int) -> list[int] | None:
        with self._lock:
            kept = self._ranked.get((query, limit))
            if kept is None:
                return None
            kept_generation, reusable_until, ids = kept
            if kept_generation != generation and time.monotonic() > reusable_until:
                return None
            self._ranked.move_to_end((query, limit))
            return ids

    def put(self, generation: int, query: str, limit: int, ids: list[int], cost_s: float = 0.0) -> None:
        """Keep ``ids``, ranked for ``generation`` in ``cost_s`` seconds."""
        reuse_s = min(max(self.REUSE_WHILE_WRITING_S, cost_s * self.REUSE_PER_COST), self.REUSE_AT_MOST_S)
        with self._lock:
            self._ranked[(query, limit)] = (generation, time.monotonic() + reuse_s, ids)
            self._ranked.move_to_end((query, limit))
            while len(self._ranked) > self.SIZE:
                self._ranked.popitem(last=False)


#: A word that may be a year (1880-2099): it finds items of that year as well as titles holding it.
_YEAR = re.compile(r"18[89]\d|19\d\d|20\d\d")


def text_terms(user_text: str) -> tuple[str | None, list[int]] | None:
    """What a person typed, as ``Search`` matches it: an FTS5 query of the words that are not
    years (the last as a prefix if it was typed last: the text so far), and the years among them;
    None when no word could match anything."""
    words = _TOKEN.findall(user_text)
    if not words:
        return None
    years = [int(word) for word in words if _YEAR.fullmatch(word)]
    query = fts_query(" ".join(word for word in words if not _YEAR.fullmatch(word)))
    if query is not None and _YEAR.fullmatch(words[-1]):
        query = query.removesuffix("*")
    return query, years


def text_condition(user_text: str) -> tuple[str, list[Any]]:
    """SQL over ``items`` for the items ``Search`` finds for ``user_text``, and its parameters."""
    terms = text_terms(user_text)
    if terms is None:
        return "0", []
    query, years = terms
    conditions: list[str] = []
    params: list[Any] = []
    if query is not None:
        conditions.append(f"items.id IN ({_FTS_ROWIDS})")
        params.append(query)
    for year in years:
        conditions.append(f"(items.year = ? OR items.id IN ({_FTS_ROWIDS}))")
        params += [year, f'"{year}"']
    return " AND ".join(conditions), params


_FTS_ROWIDS = "SELECT rowid FROM items_fts WHERE items_fts MATCH ?"


def search(
    conn: Connection,
    user_text: str,
    limit: int,
    recent: RecentSearches | None = None,
    generation: int = 0,
    counts: Mapping[str, SourceCounts] | None = None,
) -> Sequence[PageRow]:
    """Best matches first: the exact title, then titles that start with the text, then by relevance
    (bm25), shows and movies before episodes, episodes in their show's order, then by title. A
    year among the words ("blade runner 1982") matches an item of that year or a title holding it.

    ``recent`` keeps the ranking for the cache's ``generation``, for the same search again;
    ``counts`` (a ``PageIndex``'s) spare counting the episodes of the shows found."""
    terms = text_terms(user_text)
    if terms is None:
        return []
    query, years = terms
    key = f"{query or ''}|{','.join(map(str, years))}"
    ids = recent.get(generation, key, limit) if recent is not None else None
    if ids is None:
        started = time.thread_time()
        ids = _ranked_ids(conn, query, years, sort_key(" ".join(_TOKEN.findall(user_text))), limit)
        if recent is not None:
            recent.put(generation, key, limit, ids, time.thread_time() - started)
    # One aggregated read, shows counted in one go (as a page): per-row fetches with correlated
    # counts were 40 % of the readers' time under 20 busy clients.
    return rows_by_id(conn, ids, counts)


def _ranked_ids(conn: Connection, query: str | None, years: list[int], typed: str, limit: int) -> list[int]:
    """The ids of the best ``limit`` matches of the FTS ``query`` and ``years`` (``typed``: the text
    as a sort key).

    Ranked on the items' own columns only: reading each match's watch state (and a show's counts)
    before the sort took a reader 70-150 ms for a word that 11,000 items match."""
    title = func.ltrim(items.c.sort_title)
    ranked = select(items.c.id)
    scores: list[Any] = []  # years alone: nothing to score
    if query is not None:
        matches = (
            select(
                literal_column("rowid").label("id"),
                literal_column(f"bm25(items_fts, {_TITLE_WEIGHTS})").label("score"),
            )
            .select_from(text("items_fts"))
            .where(text("items_fts MATCH :q").bindparams(q=query))
            .subquery("matches")
        )
        ranked, scores = ranked.join(matches, matches.c.id == items.c.id), [matches.c.score]
    for number, year in enumerate(years):
        in_title: Select[Any] = (
            select(literal_column("rowid"))
            .select_from(text("items_fts"))
            .where(text(f"items_fts MATCH :year{number}").bindparams(**{f"year{number}": f'"{year}"'}))
        )
        ranked = ranked.where((items.c.year == year) | items.c.id.in_(in_title))
    ranked = ranked.order_by(
        title != typed,
        func.substr(title, 1, len(typed)) != typed,
        *scores,
        items.c.kind == str(ItemKind.EPISODE),
        # A show's episodes match its title equally: in the show's order, not by their titles.
        items.c.show_title,
        items.c.parent_idx,
        items.c.idx,
        items.c.sort_title,
        items.c.id,
    ).limit(limit)
    return _ids_in_order(conn, ranked)


def _ids_in_order(conn: Connection, ordered: Select[Any]) -> list[int]:
    """The item ids ``ordered`` selects, in its order, read as one aggregated value (as pages are,
    ``_one_value``): fetched row by row, each id waited to take the GIL back while a sync kept the
    other threads busy."""
    in_order = select(func.json_group_array(literal_column("id"))).select_from(ordered.subquery())
    ids: list[int] = orjson.loads(conn.execute(in_order).scalar_one())
    return ids


def _ids_with_watch_state() -> Select[Any]:
    return select(items.c.id).select_from(
        items.outerjoin(
            watch_state,
            and_(watch_state.c.source_id == items.c.source_id, watch_state.c.remote_id == items.c.remote_id),
        )
    )


def continue_watching(conn: Connection, limit: int) -> Sequence[PageRow]:
    stmt = (
        _ids_with_watch_state()
        .where(watch_state.c.position_ms > 0, watch_state.c.watched.is_not(True), items.c.kind.in_(PLAYABLE))
        .order_by(desc(func.coalesce(watch_state.c.last_viewed_at, 0)), items.c.id)
        .limit(limit)
    )
    return rows_by_id(conn, _ids_in_order(conn, stmt))


def recently_added(conn: Connection, limit: int) -> Sequence[PageRow]:
    stmt = (
        select(items.c.id)
        .where(items.c.kind.in_([str(ItemKind.MOVIE), str(ItemKind.EPISODE), str(ItemKind.ALBUM)]))
        .where(items.c.added_at.is_not(None))
        .order_by(desc(items.c.added_at), items.c.id)
        .limit(limit)
    )
    return rows_by_id(conn, _ids_in_order(conn, stmt))
