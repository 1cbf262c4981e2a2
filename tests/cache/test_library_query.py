"""Library.Query from the cache: every filter and sort finds what a plain reading of the items
finds, by SQL and by the in-memory facets alike, on a migrated database."""

import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection

from reeld.cache import browse, library_query, queries
from reeld.cache.db import create_cache_engine, migrate
from reeld.errors import InvalidArgument
from reeld.models.media import ItemKind, Library, LibraryKind, MediaItem, WatchState
from reeld.models.source import Source

SOURCE = "jellyfin_0123"
GENRES = ["Drama", "Comedy", "Crime", "Science Fiction"]
COLUMN = {name: index for index, name in enumerate(browse.BROWSE_COLUMNS)}


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[Connection]:
    engine = create_cache_engine(tmp_path / "cache.db")
    migrate(engine)
    rng = random.Random(7)
    with engine.begin() as connection:
        queries.save_source(connection, Source(id=SOURCE, account_id="a", kind="jellyfin", name="Home"))
        queries.replace_libraries(
            connection,
            SOURCE,
            [Library("movies", "Movies", LibraryKind.MOVIES), Library("tv", "TV", LibraryKind.SHOWS)],
        )
        movies = []
        for n in range(300):
            rid = f"m{n}"
            roll = rng.random()
            movies.append(
                MediaItem(
                    remote_id=rid,
                    library_id="movies",
                    kind=ItemKind.MOVIE,
                    title=f"{rng.choice(['Silent', 'Crimson', 'Harbor'])} film {n}",
                    year=rng.choice([None, *range(1960, 2020)]),
                    added_at=rng.choice([None, *range(1000, 1300)]),
                    rating=rng.choice([None, 5.5, 7.0, 8.25]),
                    genres=rng.sample(GENRES, rng.randrange(0, 3)),
                    watch=WatchState(
                        rid,
                        watched=roll < 0.3,
                        position_ms=60_000 if 0.3 <= roll < 0.45 else 0,
                        view_count=1 if roll < 0.3 else 0,
                        last_viewed_at=rng.randrange(5000, 5100) if roll < 0.45 else None,
                    ),
                )
            )
        queries.upsert_items(connection, SOURCE, movies)
        shows = []
        for s in range(12):
            shows.append(
                MediaItem(f"s{s}", "tv", ItemKind.SHOW, f"Show {s}", year=2000 + s, genres=["Drama"])
            )
            shows.append(MediaItem(f"s{s}-1", "tv", ItemKind.SEASON, "Season 1", parent_id=f"s{s}", index=1))
            for e in range(1, 4):
                rid = f"s{s}-1-{e}"
                played = (s % 3 == 0 and e == 1) or s % 3 == 1
                shows.append(
                    MediaItem(
                        rid,
                        "tv",
                        ItemKind.EPISODE,
                        f"Episode {e}",
                        parent_id=f"s{s}-1",
                        index=e,
                        parent_index=1,
                        watch=WatchState(rid, watched=played, view_count=int(played)),
                    )
                )
            if s % 3 == 1:  # every episode watched: the show is watched as its server says
                shows[-5].watch = WatchState(f"s{s}", watched=True)
        queries.upsert_items(connection, SOURCE, shows)
        yield connection


def rows_of(conn: Connection, library: str) -> list[dict[str, Any]]:
    """Every item of a library, top level and below, as plain dicts."""
    driver = conn.connection.driver_connection
    assert driver is not None
    ids = [row[0] for row in driver.execute("SELECT id FROM items WHERE library_id = ?", (library,))]
    return [dict(zip(browse.BROWSE_COLUMNS, row, strict=True)) for row in browse.rows_by_id(conn, ids)]


def expected(rows: list[dict[str, Any]], flt: dict[str, Any]) -> set[str]:
    """What a person reading the items would say matches."""
    import orjson

    def matches(row: dict[str, Any]) -> bool:
        kind = flt.get("kind")
        if kind is None and row["kind"] not in ("movie", "show"):
            return False
        if kind is not None and row["kind"] != kind:
            return False
        watched = bool(row["watched"])
        if "watched" in flt and watched != flt["watched"]:
            return False
        if "in_progress" in flt:
            started = bool(row["position_ms"]) or (
                row["kind"] == "show" and row["leaf_count"] and row["watched_leaf_count"]
            )
            if (not watched and bool(started)) != flt["in_progress"]:
                return False
        genres = [genre.casefold() for genre in orjson.loads(row["genres"] or "[]")]
        if "genre" in flt and flt["genre"].casefold() not in genres:
            return False
        year = row["year"]
        if "year_min" in flt and (year is None or year < flt["year_min"]):
            return False
        if "year_max" in flt and (year is None or year > flt["year_max"]):
            return False
        if "added_since" in flt and (row["added_at"] is None or row["added_at"] < flt["added_since"]):
            return False
        return "text" not in flt or all(
            year == int(word) or word in row["title"].casefold().split()
            if len(word) == 4 and word.isdigit()
            else word in row["title"].casefold()
            for word in flt["text"].casefold().split()
        )

    return {row["remote_id"] for row in rows if matches(row)}


FILTERS: list[tuple[str, dict[str, Any]]] = [
    ("movies", {}),
    ("movies", {"watched": False}),
    ("movies", {"watched": True}),
    ("movies", {"in_progress": True}),
    ("movies", {"in_progress": False}),
    ("movies", {"genre": "drama"}),
    ("movies", {"genre": "Science Fiction", "watched": False}),
    ("movies", {"year_min": 1990}),
    ("movies", {"year_max": 1975, "year_min": 1970}),
    ("movies", {"added_since": 1200}),
    ("movies", {"text": "crimson"}),
    ("movies", {"text": "crimson 1987"}),  # a year: the film's, or a word of its title
    ("movies", {"kind": "movie", "genre": "Crime", "year_min": 1980, "watched": False}),
    ("movies", {"kind": "show"}),
    ("tv", {}),
    ("tv", {"watched": True}),
    ("tv", {"in_progress": True}),
    ("tv", {"in_progress": False}),
    ("tv", {"kind": "episode", "watched": False}),
    ("tv", {"kind": "season"}),
]
TYPES = library_query.FILTER_TYPES


@pytest.mark.parametrize(
    ("library", "flt"), FILTERS, ids=[f"{lib}-{sorted(f.items())}" for lib, f in FILTERS]
)
def test_every_filter_finds_what_the_items_say_by_sql_and_by_facets(
    conn: Connection, library: str, flt: dict[str, Any]
) -> None:
    parsed = library_query.library_filter({key: (TYPES[key], value) for key, value in flt.items()})
    want = expected(rows_of(conn, library), flt)
    facets = library_query.FacetCache()
    facets.build(conn, 1, SOURCE, library)
    for sort in library_query.SORTS:
        for reverse in (False, True):
            found = {}
            for name, built in (("sql", None), ("facets", facets.current(1, SOURCE, library))):
                rows, total = library_query.query_library(
                    conn,
                    library_query.QueryOrders(),
                    1,
                    SOURCE,
                    library,
                    parsed,
                    0,
                    10_000,
                    sort,
                    reverse,
                    built,
                )
                ids = [row[COLUMN["remote_id"]] for row in rows]
                assert total == len(ids) and set(ids) == want, (name, sort, reverse)
                found[name] = ids
            assert found["sql"] == found["facets"], (sort, reverse)


def test_sorts_order_and_pages_follow_on(conn: Connection) -> None:
    orders = library_query.QueryOrders()
    everything = library_query.LibraryFilter()

    def page(sort: str, reverse: bool, offset: int, limit: int) -> list[dict[str, Any]]:
        rows, total = library_query.query_library(
            conn, orders, 3, SOURCE, "movies", everything, offset, limit, sort, reverse
        )
        assert total == 300
        return [dict(zip(browse.BROWSE_COLUMNS, row, strict=True)) for row in rows]

    def whole(sort: str, reverse: bool = False) -> list[dict[str, Any]]:
        return [row for offset in range(0, 300, 7) for row in page(sort, reverse, offset, 7)]

    added = [row["added_at"] for row in whole("added")]
    assert added == sorted(added, key=lambda value: -1 if value is None else value, reverse=True)
    assert [row["id"] for row in whole("added", True)] == [row["id"] for row in whole("added")][::-1]
    viewed = [row["last_viewed_at"] for row in whole("last_viewed")]
    known = [value for value in viewed if value is not None]
    assert viewed[: len(known)] == sorted(known, reverse=True)  # latest first, never viewed last
    shuffled = [row["id"] for row in whole("random")]
    assert sorted(shuffled) == sorted(row["id"] for row in whole("title")) and shuffled != sorted(shuffled)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"watched": ("s", "no")}, "filter 'watched' takes a boolean (b), not a string (s)"),
        ({"year_min": ("i", -3)}, "filter 'year_min' takes an unsigned number (u), not i"),
        ({"colour": ("s", "red")}, "unknown filter key 'colour'"),
        ({"kind": ("s", "dinosaur")}, "unknown kind 'dinosaur'"),
        ({"genre": ("s", "")}, "must not be empty"),
    ],
)
def test_wrong_keys_and_types_are_named(values: dict[str, tuple[str, Any]], message: str) -> None:
    with pytest.raises(InvalidArgument, match=re.escape(message)):
        library_query.library_filter(values)


def test_sorts_and_their_reversal_are_checked() -> None:
    assert library_query.parse_sort("") == ("title", False)
    assert library_query.parse_sort("-added") == ("added", True)
    for bad in ("-", "--added", "popularity", "added-"):
        with pytest.raises(InvalidArgument, match="unknown sort"):
            library_query.parse_sort(bad)


def test_a_page_counts_shows_and_seasons_as_a_single_item_read_does(conn: Connection) -> None:
    """Pages count the episodes of all their shows in one go; GetItem counts one show's alone."""
    counted = ("child_count", "leaf_count", "watched_leaf_count")
    page = browse.list_library(conn, SOURCE, "tv", 0, 100, "title")
    assert len(page) == 12
    for row in page:
        single = browse.get_item(conn, SOURCE, row[COLUMN["remote_id"]])
        assert single is not None
        assert [row[COLUMN[name]] for name in counted] == [single[COLUMN[name]] for name in counted]
        assert row[COLUMN["leaf_count"]] == 3 and row[COLUMN["child_count"]] == 1
    watched = sorted(row[COLUMN["watched_leaf_count"]] for row in page)
    assert watched == [0] * 4 + [1] * 4 + [3] * 4


def test_counts_built_with_the_paging_orders_agree_with_counting_a_page(conn: Connection) -> None:
    """A page counted from a source's counts (built in the background) says what counting it does."""
    counted = ("child_count", "leaf_count", "watched_leaf_count")
    index = browse.PageIndex()
    index.order(conn, 5, True, SOURCE, "tv", "title")
    counts = index.counts(5, SOURCE)
    assert counts is not None and index.counts(6, SOURCE) is None  # for its generation only
    from_counts = browse.list_library(conn, SOURCE, "tv", 0, 100, "title", counts=counts)
    counting = browse.list_library(conn, SOURCE, "tv", 0, 100, "title")
    assert [[row[COLUMN[name]] for name in counted] for row in from_counts] == [
        [row[COLUMN[name]] for name in counted] for row in counting
    ]
    # A search spans sources: it takes every source's counts of the generation.
    assert index.all_counts(5) == {SOURCE: counts} and index.all_counts(6) == {}
    title = counting[0][COLUMN["title"]]
    found = browse.search(conn, title, 5, counts=index.all_counts(5))
    assert [[row[COLUMN[name]] for name in counted] for row in found] == [
        [row[COLUMN[name]] for name in counted] for row in browse.search(conn, title, 5)
    ]
    assert found and found[0][COLUMN["leaf_count"]] == 3


def test_pages_found_in_memory_follow_on_whatever_the_order_they_are_asked_in(conn: Connection) -> None:
    facets = library_query.FacetCache()
    facets.build(conn, 9, SOURCE, "movies")
    built = facets.current(9, SOURCE, "movies")
    flt = library_query.LibraryFilter(watched=False, year_min=1970)
    orders = library_query.QueryOrders()

    def page(offset: int) -> tuple[list[int], int]:
        rows, total = library_query.query_library(
            conn, orders, 9, SOURCE, "movies", flt, offset, 7, "rating", True, built
        )
        return [row[COLUMN["id"]] for row in rows], total

    whole, total = library_query.query_library(
        conn, library_query.QueryOrders(), 9, SOURCE, "movies", flt, 0, 10_000, "rating", True
    )
    offsets = list(range(0, total + 7, 7))
    pages = {offset: page(offset) for offset in reversed(offsets)}  # the last page first
    assert all(found_total == total for _, found_total in pages.values())
    assert [item for offset in offsets for item in pages[offset][0]] == [row[COLUMN["id"]] for row in whole]
