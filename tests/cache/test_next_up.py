"""Next Up from the cache: per show under way, the first unwatched episode after the furthest one
watched, the most recently watched show first, across sources; on a migrated database."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection

from reeld.cache import browse, library_query, queries
from reeld.cache.db import create_cache_engine, migrate
from reeld.models.media import ItemKind, Library, LibraryKind, MediaItem, WatchState
from reeld.models.source import Source

JELLYFIN, PLEX = "jellyfin_a", "plex_b"
REMOTE = browse.BROWSE_COLUMNS.index("remote_id")
SOURCE = browse.BROWSE_COLUMNS.index("source_id")


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[Connection]:
    engine = create_cache_engine(tmp_path / "cache.db")
    migrate(engine)
    with engine.begin() as connection:
        for source in (JELLYFIN, PLEX):
            queries.save_source(
                connection, Source(id=source, account_id=source, kind="jellyfin", name=source)
            )
            queries.replace_libraries(connection, source, [Library("tv", "TV", LibraryKind.SHOWS)])
        yield connection


def add_show(
    conn: Connection,
    source: str,
    show: str,
    seasons: dict[int, int],
    watched: dict[tuple[int, int], int] | None = None,
    in_seasons: bool = True,
) -> None:
    """A show with ``seasons`` ({number: episodes}); ``watched`` ({(season, episode): when}).
    Without ``in_seasons`` its episodes sit right under the show (Jellyfin's episodes without a season)."""
    watched = watched or {}
    page = [MediaItem(remote_id=show, library_id="tv", kind=ItemKind.SHOW, title=show)]
    for season, count in seasons.items():
        season_id = f"{show}-s{season}"
        if in_seasons:
            page.append(
                MediaItem(season_id, "tv", ItemKind.SEASON, f"Season {season}", parent_id=show, index=season)
            )
        for episode in range(1, count + 1):
            episode_id = f"{show}-s{season}e{episode}"
            when = watched.get((season, episode))
            page.append(
                MediaItem(
                    remote_id=episode_id,
                    library_id="tv",
                    kind=ItemKind.EPISODE,
                    title=f"{show} {season}x{episode}",
                    parent_id=season_id if in_seasons else show,
                    index=episode,
                    parent_index=season,
                    show_title=show,
                    watch=WatchState(episode_id, watched=True, view_count=1, last_viewed_at=when)
                    if when is not None
                    else None,
                )
            )
    queries.upsert_items(conn, source, page)


def next_up(conn: Connection, limit: int = 50) -> list[tuple[str, str]]:
    return [(row[SOURCE], row[REMOTE]) for row in library_query.next_up(conn, limit)]


def test_the_episode_after_the_furthest_watched_of_each_show_most_recent_show_first(conn: Connection) -> None:
    # Watched out of order: 1x1, then 1x3 (skipping 1x2): next is 1x4, not the skipped one.
    add_show(conn, JELLYFIN, "dark", {1: 4, 2: 3}, {(1, 1): 100, (1, 3): 110})
    # The last episode of season 1 watched: next is the first of season 2.
    add_show(conn, PLEX, "lost", {1: 2, 2: 2}, {(1, 1): 300, (1, 2): 310})
    add_show(conn, JELLYFIN, "fargo", {1: 3}, {(1, 1): 200})
    assert next_up(conn) == [(PLEX, "lost-s2e1"), (JELLYFIN, "fargo-s1e2"), (JELLYFIN, "dark-s1e4")]
    assert next_up(conn, limit=2) == [(PLEX, "lost-s2e1"), (JELLYFIN, "fargo-s1e2")]


def test_finished_and_never_started_shows_and_specials_are_left_out(conn: Connection) -> None:
    add_show(conn, JELLYFIN, "finished", {1: 2}, {(1, 1): 500, (1, 2): 510})
    add_show(conn, JELLYFIN, "untouched", {1: 3})
    # Only a special watched: not started, as Jellyfin and Plex see it.
    add_show(conn, PLEX, "special-only", {0: 2, 1: 2}, {(0, 1): 600})
    # A special watched after episode 1 does not move the place: next is 1x2, not a special.
    add_show(conn, PLEX, "with-specials", {0: 2, 1: 3}, {(1, 1): 50, (0, 2): 700})
    assert next_up(conn) == [(PLEX, "with-specials-s1e2")]


def test_episodes_right_under_their_show_and_a_watched_state_reset_count(conn: Connection) -> None:
    add_show(conn, JELLYFIN, "flat", {1: 3}, {(1, 1): 10}, in_seasons=False)
    assert next_up(conn) == [(JELLYFIN, "flat-s1e2")]
    # Marked unwatched again (here or on the server): the show is no longer under way.
    queries.upsert_watch_states(conn, JELLYFIN, [WatchState("flat-s1e1")])
    assert next_up(conn) == []


def test_next_up_rows_are_whole_items(conn: Connection) -> None:
    add_show(conn, JELLYFIN, "dark", {1: 2}, {(1, 1): 100})
    (row,) = library_query.next_up(conn, 10)
    by_name = dict(zip(browse.BROWSE_COLUMNS, row, strict=True))
    assert by_name["title"] == "dark 1x2" and by_name["kind"] == "episode" and by_name["parent_idx"] == 1
    assert not by_name["watched"]
