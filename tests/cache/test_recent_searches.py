"""A search asked again reuses its ranking (``browse.RecentSearches``) but never shows stale rows:
watch state is always read fresh, and a write is seen once the short reuse window is over."""

import pytest
from sqlalchemy import Connection

from reeld.cache import browse, queries
from reeld.models.media import ItemKind, WatchState
from tests.cache import test_browse
from tests.cache.test_browse import SOURCE, add, found_by_search

conn = test_browse.conn  # the fixture: a migrated cache with a source and two libraries


def search(conn: Connection, recent: browse.RecentSearches, generation: int) -> list[tuple[str, bool]]:
    return [(row.title, bool(row.watched)) for row in found_by_search(conn, "harbor", 10, recent, generation)]


def test_a_repeated_search_shows_the_watch_state_of_now(conn: Connection) -> None:
    add(conn, "movies", ItemKind.MOVIE, "Harbor Lights", "Winter Harbor")
    recent = browse.RecentSearches()
    assert search(conn, recent, 1) == [("Harbor Lights", False), ("Winter Harbor", False)]
    queries.upsert_watch_states(conn, SOURCE, [WatchState("movies/Winter Harbor", watched=True)])
    assert search(conn, recent, 2) == [("Harbor Lights", False), ("Winter Harbor", True)]


def test_a_repeated_search_finds_what_was_written_since(
    conn: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(browse.RecentSearches, "REUSE_WHILE_WRITING_S", 0.0)
    monkeypatch.setattr(browse.RecentSearches, "REUSE_PER_COST", 0)
    add(conn, "movies", ItemKind.MOVIE, "Harbor Lights")
    recent = browse.RecentSearches()
    assert search(conn, recent, 1) == [("Harbor Lights", False)]
    add(conn, "movies", ItemKind.MOVIE, "Harbor")
    # Same generation: the ranking is reused (a write always moves the generation).
    assert search(conn, recent, 1) == [("Harbor Lights", False)]
    assert search(conn, recent, 2) == [("Harbor", False), ("Harbor Lights", False)]


def test_an_item_removed_since_is_left_out_at_once(conn: Connection) -> None:
    add(conn, "movies", ItemKind.MOVIE, "Harbor Lights", "Winter Harbor")
    recent = browse.RecentSearches()
    assert len(search(conn, recent, 1)) == 2
    conn.exec_driver_sql("DELETE FROM items WHERE remote_id = 'movies/Winter Harbor'")
    assert search(conn, recent, 2) == [("Harbor Lights", False)]


def test_a_costly_ranking_is_reused_longer_across_writes_but_not_for_ever(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1000.0]
    monkeypatch.setattr(browse.time, "monotonic", lambda: now[0])
    recent = browse.RecentSearches()
    recent.put(1, "cheap", 50, [1], cost_s=0.001)  # reused 1 s (the least)
    recent.put(1, "common", 50, [2], cost_s=0.030)  # 200 times its cost: 6 s
    recent.put(1, "everywhere", 50, [3], cost_s=1.0)  # 10 s (the most)
    now[0] += 2
    assert [recent.get(2, query, 50) for query in ("cheap", "common", "everywhere")] == [None, [2], [3]]
    now[0] += 5
    assert [recent.get(2, query, 50) for query in ("common", "everywhere")] == [None, [3]]
    now[0] += 4
    assert recent.get(2, "everywhere", 50) is None
    assert recent.get(1, "everywhere", 50) == [3]  # the same generation: nothing was written since
