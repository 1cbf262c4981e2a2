"""API 1.1 browsing: a library filtered and sorted with a total (``Library.Query``), and Next Up.

Like ``browse``, every function is a blocking read of the cache (run it through ``Database.read``)
and returns rows of ``browse.BROWSE_COLUMNS``; nothing here touches the network.
"""

from __future__ import annotations  # array[int] in annotations (subscriptable only from 3.12)

import bisect
import itertools
import random
import threading
from array import array
from collections import OrderedDict
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection

from reeld.cache import browse
from reeld.cache.schema import TOP_LEVEL_ONLY
from reeld.errors import InvalidArgument
from reeld.models.browsing import FILTER_TYPES, QUERY_SORTS
from reeld.models.media import TOP_LEVEL_KINDS, ItemKind
from reeld.validation import check_text

_TYPE_NAMES = {"s": "a string (s)", "b": "a boolean (b)", "u": "an unsigned number (u)", "t": "a time (t)"}

#: What a sort orders by, first to last (ties broken by row id): each ascending as written; the
#: sorts that ListItems has run as ListItems runs them (newest, best first), a ``-`` reverses.
_ORDERS: dict[str, tuple[str, ...]] = {
    "title": ("items.sort_title",),
    "added": ("items.added_at DESC",),
    "year": ("items.year DESC",),
    "rating": ("items.rating DESC",),
    "last_viewed": ("ws.last_viewed_at DESC",),
    "random": ("(items.id * 2654435761 + {seed}) % 4294967296",),
}
SORTS: tuple[str, ...] = QUERY_SORTS
assert set(_ORDERS) == set(SORTS), "every sort has an order"
#: One shuffle per daemon run: pages of a random order follow on from each other.
_RANDOM_SEED = random.randrange(1 << 31)


@dataclass(frozen=True, slots=True)
class LibraryFilter:
    """What ``Library.Query`` keeps; ``None`` is "any". Without ``kind``, the library's top level
    (what ListItems lists); with it, items of that kind at any depth (a library's episodes)."""

    kind: str | None = None
    watched: bool | None = None
    in_progress: bool | None = None
    genre: str | None = None
    year_min: int | None = None
    year_max: int | None = None
    added_since: int | None = None
    text: str | None = None


def library_filter(values: Mapping[str, tuple[str, Any]]) -> LibraryFilter:
    """A filter from ``{key: (D-Bus signature, value)}``; ``InvalidArgument`` naming every unknown
    key and every value of another type."""
    unknown = sorted(key for key in values if key not in FILTER_TYPES)
    if unknown:
        names = ", ".join(repr(key[:50]) for key in unknown[:5])
        raise InvalidArgument(f"unknown filter key {names}; expected: {', '.join(FILTER_TYPES)}")
    wrong = [
        f"{key!r} takes {_TYPE_NAMES[FILTER_TYPES[key]]}, not {_TYPE_NAMES.get(signature, signature)}"
        for key, (signature, _) in sorted(values.items())
        if signature != FILTER_TYPES[key]
    ]
    if wrong:
        raise InvalidArgument("filter " + "; ".join(wrong))
    given = {key: value for key, (_, value) in values.items()}
    for key in ("kind", "genre", "text"):
        if key in given:
            check_text(given[key], f"filter {key!r}", 200)
    if "kind" in given and given["kind"] not in tuple(ItemKind):
        kinds = ", ".join(str(kind) for kind in ItemKind)
        raise InvalidArgument(f"unknown kind {given['kind'][:50]!r} in filter; expected one of: {kinds}")
    return LibraryFilter(**given)


def parse_sort(sort: str) -> tuple[str, bool]:
    """``"-added"`` → ``("added", True)``: the sort and whether it is reversed. Empty is title."""
    reverse = sort.startswith("-")
    name = sort[1:] if reverse else sort
    if not name and not reverse:
        name = "title"
    if name not in _ORDERS:
        raise InvalidArgument(
            f"unknown sort {sort[:50]!r}; expected one of: {', '.join(SORTS)}, each reversed with a leading '-'"
        )
    return name, reverse


# -- Query -------------------------------------------------------------------------------------------


#: The episodes (or items at any depth) of a show or season row, as in ``browse``.
_PLAYED_BELOW = (
    "EXISTS (SELECT 1 FROM items AS leaf JOIN watch_state AS seen ON seen.source_id = leaf.source_id "
    "AND seen.remote_id = leaf.remote_id WHERE leaf.source_id = items.source_id "
    f"AND leaf.kind = '{ItemKind.EPISODE}' AND (seen.watched OR seen.position_ms > 0) "
    "AND leaf.parent_id IN (SELECT below.remote_id FROM items AS below WHERE below.source_id = "
    f"items.source_id AND below.parent_id = items.remote_id AND below.kind = '{ItemKind.SEASON}' "
    "UNION ALL SELECT items.remote_id))"
)
_CONTAINER = f"items.kind IN ('{ItemKind.SHOW}', '{ItemKind.SEASON}')"
#: Started and not finished: a file with a resume point, a show or season with an episode played.
_IN_PROGRESS = (
    "(coalesce(ws.watched, 0) = 0 AND (coalesce(ws.position_ms, 0) > 0 "
    f"OR ({_CONTAINER} AND {_PLAYED_BELOW})))"
)


def _where(source_id: str, library_id: str, flt: LibraryFilter) -> tuple[list[str], list[Any], bool]:
    """The conditions, their parameters, and whether they read the watch state."""
    conditions = ["items.source_id = ?", "items.library_id = ?"]
    params: list[Any] = [source_id, library_id]
    if flt.kind is None:
        conditions.append(TOP_LEVEL_ONLY.text)  # a literal, so SQLite can use the partial sort indexes
    else:
        conditions.append("items.kind = ?")
        params.append(flt.kind)
    watch = False
    if flt.watched is not None:
        conditions.append("coalesce(ws.watched, 0) = ?")
        params.append(1 if flt.watched else 0)
        watch = True
    if flt.in_progress is not None:
        conditions.append(_IN_PROGRESS if flt.in_progress else f"NOT {_IN_PROGRESS}")
        watch = True
    if flt.genre is not None:
        # LIKE (case-insensitive for ASCII) skips most rows cheaply; json_each makes it exact.
        conditions.append(
            "items.genres LIKE ? AND EXISTS (SELECT 1 FROM json_each(items.genres) AS g "
            "WHERE g.value = ? COLLATE NOCASE)"
        )
        params += [f"%{_like_escape(flt.genre)}%", flt.genre]
        conditions[-1] = conditions[-1].replace("LIKE ?", "LIKE ? ESCAPE '\\'", 1)
    if flt.year_min is not None:
        conditions.append("items.year >= ?")
        params.append(flt.year_min)
    if flt.year_max is not None:
        conditions.append("items.year <= ?")
        params.append(flt.year_max)
    if flt.added_since is not None:
        conditions.append("items.added_at >= ?")
        params.append(flt.added_since)
    if flt.text is not None:  # as Search matches it (nothing when no word could match)
        condition, values = browse.text_condition(flt.text)
        conditions.append(condition)
        params += values
    return conditions, params, watch


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _order_by(sort: str, reverse: bool) -> str:
    terms = [term.format(seed=_RANDOM_SEED) for term in _ORDERS[sort]]
    descending = terms[0].endswith(" DESC")
    if reverse:
        terms = [term.removesuffix(" DESC") if term.endswith(" DESC") else f"{term} DESC" for term in terms]
        descending = not descending
    return ", ".join([*terms, "items.id DESC" if descending else "items.id"])


def _matching_ids_sql(conditions: Sequence[str], watch: bool, order: str) -> str:
    join = (
        "LEFT JOIN watch_state AS ws ON ws.source_id = items.source_id AND ws.remote_id = items.remote_id "
        if watch
        else ""
    )
    return (
        f"SELECT json_group_array(id) FROM (SELECT items.id AS id FROM items {join}"
        f"WHERE {' AND '.join(conditions)} ORDER BY {order})"
    )


class Matches:
    """The ids a query matches, in its order: every id of ``order``, or those in ``wanted``, found
    as far as the pages asked for reach (a first page of a large library does not walk all of it)."""

    def __init__(self, order: array[int], wanted: Collection[int] | None = None) -> None:
        self.order, self.wanted = order, wanted
        #: ``wanted`` holds only ids of ``order``: the matches are as many as it holds.
        self.total = len(order) if wanted is None else len(wanted)
        self._found: list[int] = []
        self._walk: Iterator[int] | None = None if wanted is None else filter(wanted.__contains__, order)
        self._lock = threading.Lock()

    def page(self, offset: int, limit: int) -> list[int]:
        if self._walk is None:
            return list(self.order[offset : offset + limit])
        with self._lock:  # two reader threads may page one query
            missing = offset + limit - len(self._found)
            if missing > 0:
                self._found.extend(itertools.islice(self._walk, missing))
            return self._found[offset : offset + limit]


class QueryOrders:
    """The ids matching recent queries, per cache generation, so the next page of one (a scroll)
    is a slice and its total known; the few most recent are kept."""

    def __init__(self, size: int = 8) -> None:
        self._orders: OrderedDict[tuple[Any, ...], tuple[int, Matches]] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def ids(
        self, conn: Connection, generation: int, key: tuple[Any, ...], sql: str, params: Sequence[Any]
    ) -> Matches:
        """The ids ``sql`` finds, from a query of this generation with the same key if there was one."""
        found = self.found(generation, key)
        if found is not None:
            return found
        return self.keep(generation, key, Matches(array("q", browse.one_value(conn, sql, params))))

    def found(self, generation: int, key: tuple[Any, ...]) -> Matches | None:
        with self._lock:
            cached = self._orders.get(key)
            if cached is not None and cached[0] != generation:  # out of date: let its memory go
                del self._orders[key]
            if cached is None or cached[0] != generation:
                return None
            self._orders.move_to_end(key)
            return cached[1]

    def keep(self, generation: int, key: tuple[Any, ...], ids: Matches) -> Matches:
        with self._lock:
            self._orders[key] = (generation, ids)
            self._orders.move_to_end(key)
            while len(self._orders) > self._size:
                self._orders.popitem(last=False)
        return ids


def query_library(
    conn: Connection,
    orders: QueryOrders,
    generation: int,
    source_id: str,
    library_id: str,
    flt: LibraryFilter,
    offset: int,
    limit: int,
    sort: str,
    reverse: bool = False,
    facets: Facets | None = None,
    counts: browse.SourceCounts | None = None,
) -> tuple[Sequence[browse.PageRow], int]:
    """A page of the library's items matching ``flt`` in ``sort`` order, and how many match.

    With the library's ``facets`` (current for this generation) the matches are found in memory;
    else by SQL, which reads every candidate row (tens of ms for a library of 50k)."""
    key = (source_id, library_id, flt, sort, reverse)
    ids = orders.found(generation, key)
    if ids is None and facets is not None and facets.covers(flt):
        ids = orders.keep(generation, key, facets.matching(conn, flt, sort, reverse))
    elif ids is None and Facets.covers(flt) and sort != "last_viewed":
        ids = orders.keep(
            generation, key, _matching_top_level(conn, source_id, library_id, flt, sort, reverse)
        )
    elif ids is None:
        conditions, params, watch = _where(source_id, library_id, flt)
        watch = watch or sort == "last_viewed"
        sql = _matching_ids_sql(conditions, watch, _order_by(sort, reverse))
        ids = orders.ids(conn, generation, key, sql, params)
    return browse.rows_by_id(conn, ids.page(offset, limit), counts), ids.total


def _matching_top_level(
    conn: Connection, source_id: str, library_id: str, flt: LibraryFilter, sort: str, reverse: bool
) -> Matches:
    """Top-level matches by SQL in two passes: the ids matching, read in table order, and the
    sort's order from its index alone. One ordered pass would read the rows in the sort's order,
    a random walk over the table that SQLite's small reader cache makes several times slower."""
    conditions, params, watch = _where(source_id, library_id, flt)
    join = (
        "LEFT JOIN watch_state AS ws ON ws.source_id = items.source_id AND ws.remote_id = items.remote_id "
        if watch
        else ""
    )
    # A range of years or dates has its own index; other filters read every row of the library.
    ranged = flt.year_min is not None or flt.year_max is not None or flt.added_since is not None
    index = "" if ranged else "INDEXED BY ix_items_library "
    sql = f"SELECT json_group_array(items.id) FROM items {index}{join}WHERE {' AND '.join(conditions)}"
    wanted = set(browse.one_value(conn, sql, params))
    return Matches(top_level_order(conn, source_id, library_id, sort, reverse), wanted)


def top_level_order(
    conn: Connection, source_id: str, library_id: str, sort: str, reverse: bool
) -> array[int]:
    """Every top-level id of a library in ``sort`` order (not ``last_viewed``), from its index alone."""
    conditions, params, _ = _where(source_id, library_id, LibraryFilter())
    return array(
        "q", browse.one_value(conn, _matching_ids_sql(conditions, False, _order_by(sort, reverse)), params)
    )


# -- facets: a library's filterable values in memory -------------------------------------------------


#: A library's top-level items with what filters read (one row each).
_FACET_ITEMS_SQL = (
    "SELECT json_group_array(json_array(id, kind, year, added_at, genres)) FROM items "
    f"WHERE source_id = ? AND library_id = ? AND {TOP_LEVEL_ONLY.text}"
)
#: Their watch states: the source's watch-state rows, each looked up among the library's items.
_FACET_WATCH_SQL = (
    "SELECT json_group_array(json_array(i.id, w.watched, w.position_ms, w.last_viewed_at)) "
    "FROM watch_state AS w CROSS JOIN items AS i ON i.source_id = w.source_id AND i.remote_id = w.remote_id "
    f"WHERE w.source_id = ? AND i.library_id = ? AND i.{TOP_LEVEL_ONLY.text}"
)
#: Shows and seasons of the library with an episode played (in progress unless watched).
_FACET_STARTED_SQL = (
    "SELECT json_group_array(items.id) FROM items WHERE items.source_id = ? AND items.library_id = ? "
    f"AND items.{TOP_LEVEL_ONLY.text} AND {_CONTAINER} AND {_PLAYED_BELOW}"
)
_TOP_LEVEL = frozenset(str(kind) for kind in TOP_LEVEL_KINDS)
_CONTAINER_KINDS = frozenset({str(ItemKind.SHOW), str(ItemKind.SEASON)})


class Facets:
    """A library's filterable values for one cache generation: the ids of each kind, genre and
    year, those watched and in progress, and the orders of its sorts. Built off the request path
    (tens of ms for a library of 50k); a filtered Query is then set operations and one pass over an
    order, a few ms whatever it matches."""

    def __init__(self, conn: Connection, generation: int, source_id: str, library_id: str) -> None:
        self.generation = generation
        self.source_id, self.library_id = source_id, library_id
        self.all: frozenset[int] = frozenset()
        self.by_kind: dict[str, Collection[int]] = {}
        self.by_genre: dict[str, set[int]] = {}
        self.by_year: dict[int, list[int]] = {}
        # The ids with a known time added, ascending by it, and those times (for bisect).
        self.added_ids: array[int] = array("q")
        self.added_times: array[int] = array("q")
        self.watched: set[int] = set()
        self.in_progress: set[int] = set()
        self.unwatched: frozenset[int] = frozenset()
        self.not_in_progress: frozenset[int] = frozenset()
        self.last_viewed: dict[int, int] = {}
        self._orders: dict[tuple[str, bool], array[int]] = {}
        self._lock = threading.Lock()
        self._load(conn)

    def _load(self, conn: Connection) -> None:
        ids: list[int] = []
        kinds: dict[str, set[int]] = {}
        added: list[tuple[int, int]] = []
        where = (self.source_id, self.library_id)
        for item_id, kind, year, added_at, genres in browse.one_value(conn, _FACET_ITEMS_SQL, where):
            ids.append(item_id)
            kinds.setdefault(kind, set()).add(item_id)
            if year is not None:
                self.by_year.setdefault(year, []).append(item_id)
            if added_at is not None:
                added.append((added_at, item_id))
            for genre in _genres(genres):
                self.by_genre.setdefault(genre.casefold(), set()).add(item_id)
        self.all = frozenset(ids)
        # A library of one kind (films) keeps no second set of all its ids.
        self.by_kind = dict.fromkeys(kinds, self.all) if len(kinds) == 1 else dict(kinds)
        added.sort()
        self.added_times = array("q", (added_at for added_at, _ in added))
        self.added_ids = array("q", (item_id for _, item_id in added))
        for item_id, watched, position_ms, last_viewed in browse.one_value(conn, _FACET_WATCH_SQL, where):
            if watched:
                self.watched.add(item_id)
            elif position_ms:
                self.in_progress.add(item_id)
            if last_viewed is not None:
                self.last_viewed[item_id] = last_viewed
        if self.by_kind.keys() & _CONTAINER_KINDS:
            started = browse.one_value(conn, _FACET_STARTED_SQL, where)
            self.in_progress.update(item_id for item_id in started if item_id not in self.watched)
        # The negative filters as sets of their own: "unwatched" is most of a library, and making
        # it for each query would copy the library.
        self.unwatched = self.all - self.watched
        self.not_in_progress = self.all - self.in_progress

    @staticmethod
    def covers(flt: LibraryFilter) -> bool:
        """Whether this holds what ``flt`` reads (items below the top level, like episodes, are not here)."""
        return flt.kind is None or flt.kind in _TOP_LEVEL

    def matching(self, conn: Connection, flt: LibraryFilter, sort: str, reverse: bool) -> Matches:
        """The ids matching ``flt``, in ``sort`` order: as the SQL of ``_where`` finds them."""
        keep: list[Collection[int]] = []
        if flt.kind is not None:
            keep.append(self.by_kind.get(flt.kind, set()))
        if flt.watched is not None:
            keep.append(self.watched if flt.watched else self.unwatched)
        if flt.in_progress is not None:
            keep.append(self.in_progress if flt.in_progress else self.not_in_progress)
        if flt.genre is not None:
            keep.append(self.by_genre.get(flt.genre.casefold(), set()))
        if flt.year_min is not None or flt.year_max is not None:
            low = flt.year_min if flt.year_min is not None else -(1 << 62)
            high = flt.year_max if flt.year_max is not None else 1 << 62
            keep.append(
                [item_id for year, ids in self.by_year.items() if low <= year <= high for item_id in ids]
            )
        if flt.added_since is not None:
            first = bisect.bisect_left(self.added_times, flt.added_since)
            keep.append(self.added_ids[first:])
        if flt.text is not None:  # the words match items of every library: keep this one's
            keep.append(self.all.intersection(_text_matches(conn, flt.text)))
        order = self._order(conn, sort, reverse)
        if not keep:
            return Matches(order)
        smallest, *rest = sorted(keep, key=len)
        wanted = smallest if isinstance(smallest, (set, frozenset)) and not rest else set(smallest)
        if rest:
            wanted = wanted.intersection(*rest)
        return Matches(order, wanted)

    def _order(self, conn: Connection, sort: str, reverse: bool) -> array[int]:
        """Every top-level id in ``sort`` order, made on first use (an index walk, or a shuffle)."""
        with self._lock:
            found = self._orders.get((sort, reverse))
        if found is not None:
            return found
        if reverse:  # every sort reversed is exactly its order backwards (ties by id, NULLs included)
            found = array("q", reversed(self._order(conn, sort, False)))
        elif sort == "last_viewed":
            found = self._last_viewed_order()
        else:
            found = top_level_order(conn, self.source_id, self.library_id, sort, reverse)
        with self._lock:
            self._orders[(sort, reverse)] = found
        return found

    def _last_viewed_order(self) -> array[int]:
        """As the SQL sort has it: latest first and never viewed last, ties by id (descending)."""
        viewed = sorted(
            self.last_viewed, key=lambda item_id: (self.last_viewed[item_id], item_id), reverse=True
        )
        never = sorted(self.all - self.last_viewed.keys(), reverse=True)
        return array("q", viewed + never)

    def prepare(self, conn: Connection) -> None:
        """Make every sort's order now (off the request path), so no Query waits for one."""
        for sort in SORTS:
            self._order(conn, sort, False)


def _genres(stored: str | None) -> list[str]:
    if not stored:
        return []
    try:
        genres = orjson.loads(stored)
    except orjson.JSONDecodeError:
        return []
    return [genre for genre in genres if isinstance(genre, str)] if isinstance(genres, list) else []


def _text_matches(conn: Connection, text: str) -> set[int]:
    """The row ids of the items whose title or show matches ``text`` as ``Search`` matches it."""
    terms = browse.text_terms(text)
    if terms is None:
        return set()
    query, years = terms
    if years:
        condition, values = browse.text_condition(text)
        return set(
            browse.one_value(conn, f"SELECT json_group_array(id) FROM items WHERE {condition}", values)
        )
    sql = "SELECT json_group_array(rowid) FROM items_fts WHERE items_fts MATCH ?"
    return set(browse.one_value(conn, sql, (query,)))


class FacetCache:
    """The facets of the libraries queried lately, each for the generation it was built in."""

    def __init__(self, size: int = 8) -> None:
        self._facets: OrderedDict[tuple[str, str], Facets] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def current(self, generation: int, source_id: str, library_id: str) -> Facets | None:
        with self._lock:
            facets = self._facets.get((source_id, library_id))
            if facets is not None and facets.generation != generation:  # out of date: let it go
                del self._facets[(source_id, library_id)]
            if facets is None or facets.generation != generation:
                return None
            self._facets.move_to_end((source_id, library_id))
            return facets

    def build(self, conn: Connection, generation: int, source_id: str, library_id: str) -> None:
        """Make the library's facets for ``generation`` unless they are there."""
        if self.current(generation, source_id, library_id) is not None:
            return
        facets = Facets(conn, generation, source_id, library_id)
        facets.prepare(conn)
        with self._lock:
            self._facets[(source_id, library_id)] = facets
            self._facets.move_to_end((source_id, library_id))
            while len(self._facets) > self._size:
                self._facets.popitem(last=False)


# -- Next Up ------------------------------------------------------------------------------------------


#: Every watched episode with its season's show (or its show, for one right under it).
_WATCHED_EPISODES_SQL = (
    "SELECT e.source_id, coalesce(CASE WHEN p.kind = 'season' THEN p.parent_id END, e.parent_id), "
    "coalesce(e.parent_idx, -1), coalesce(e.idx, -1), coalesce(w.last_viewed_at, 0) "
    "FROM watch_state AS w CROSS JOIN items AS e ON e.source_id = w.source_id AND e.remote_id = w.remote_id "
    "LEFT JOIN items AS p ON p.source_id = e.source_id AND p.remote_id = e.parent_id "
    f"WHERE w.watched AND e.kind = '{ItemKind.EPISODE}' AND e.parent_id IS NOT NULL "
    "AND coalesce(e.parent_idx, -1) != 0"
)

#: The seasons of shows, by show.
_SEASONS_SQL = (
    "SELECT json_group_array(json_array(parent_id, remote_id)) FROM items "
    f"WHERE source_id = ? AND kind = '{ItemKind.SEASON}' AND parent_id IN ({{marks}})"
)
#: The episodes under seasons or shows (specials left out), with their place and whether watched.
_EPISODES_SQL = (
    "SELECT json_group_array(json_array(e.parent_id, e.id, coalesce(e.parent_idx, -1), "
    "coalesce(e.idx, -1), e.sort_title, coalesce(w.watched, 0))) FROM items AS e "
    "LEFT JOIN watch_state AS w ON w.source_id = e.source_id AND w.remote_id = e.remote_id "
    f"WHERE e.source_id = ? AND e.kind = '{ItemKind.EPISODE}' AND e.parent_id IN ({{marks}}) "
    "AND coalesce(e.parent_idx, -1) != 0"
)
#: Shows whose next episode is looked for in one go: most have one, so about ``limit`` of them.
_SHOWS_PER_BATCH = 50


@dataclass(slots=True)
class _ShowProgress:
    last_place: tuple[int, int]  # (season, episode) of the furthest episode watched
    last_viewed: int


def next_up(conn: Connection, limit: int) -> Sequence[browse.PageRow]:
    """For each show with an episode watched, the first unwatched episode after the furthest one
    watched, most recently watched show first, every source; specials (season 0) are left out."""
    driver = conn.connection.driver_connection
    assert driver is not None
    shows: dict[tuple[str, str], _ShowProgress] = {}
    for source_id, show_id, season, episode, viewed in driver.execute(_WATCHED_EPISODES_SQL):
        progress = shows.get((source_id, show_id))
        if progress is None:
            shows[(source_id, show_id)] = _ShowProgress((season, episode), viewed)
        else:
            progress.last_place = max(progress.last_place, (season, episode))
            progress.last_viewed = max(progress.last_viewed, viewed)
    recent_first = sorted(shows, key=lambda show: (-shows[show].last_viewed, show))
    found: list[int] = []
    for start in range(0, len(recent_first), _SHOWS_PER_BATCH):
        batch = recent_first[start : start + _SHOWS_PER_BATCH]
        following = _next_episodes(conn, {show: shows[show].last_place for show in batch})
        found.extend(following[show] for show in batch if show in following)
        if len(found) >= limit:
            break
    return browse.rows_by_id(conn, found[:limit])


def _next_episodes(
    conn: Connection, places: dict[tuple[str, str], tuple[int, int]]
) -> dict[tuple[str, str], int]:
    """Per show, the row id of its first unwatched episode after ``places`` (season, episode)."""
    by_source: dict[str, list[str]] = {}
    for source_id, show_id in places:
        by_source.setdefault(source_id, []).append(show_id)
    following: dict[tuple[str, str], int] = {}
    for source_id, show_ids in by_source.items():
        marks = ",".join("?" * len(show_ids))
        show_of = {show_id: show_id for show_id in show_ids}  # episodes may sit right under their show
        for show_id, season_id in browse.one_value(
            conn, _SEASONS_SQL.format(marks=marks), (source_id, *show_ids)
        ):
            show_of[season_id] = show_id
        parents = list(show_of)
        episodes = browse.one_value(
            conn, _EPISODES_SQL.format(marks=",".join("?" * len(parents))), (source_id, *parents)
        )
        best: dict[str, tuple[int, int, str, int]] = {}
        for parent, item_id, season, episode, sort_title, watched in episodes:
            show_id = show_of[parent]
            place = (season, episode, sort_title or "", item_id)
            if watched or (season, episode) <= places[(source_id, show_id)]:
                continue
            if show_id not in best or place < best[show_id]:
                best[show_id] = place
        following.update({(source_id, show_id): place[3] for show_id, place in best.items()})
    return following
