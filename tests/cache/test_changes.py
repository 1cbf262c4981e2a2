"""Which items a write changed, told per library whatever the write was, and the coalesced signal."""

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection

from reeld.bus.item_signals import WINDOW_S, ItemSignals
from reeld.cache import queries
from reeld.cache.changes import MAX_IDS, LibraryChanges, install_triggers, take_changes
from reeld.models.media import ItemKind, MediaItem, WatchState
from reeld.services import events as ev
from tests.cache.test_browse import SOURCE, local_cache


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[Connection]:
    """``test_browse``'s cache, its writes recorded."""
    with local_cache(tmp_path) as connection:
        install_triggers(connection)
        yield connection


def movie(remote_id: str, title: str = "") -> MediaItem:
    title = title or remote_id
    return MediaItem(remote_id=remote_id, library_id="movies", kind=ItemKind.MOVIE, title=title, etag=title)


def by_library(changes: list[LibraryChanges]) -> dict[str, tuple[set[str], set[str], bool]]:
    return {c.library_id: (c.changed, c.removed, c.reload) for c in changes}


def test_a_write_tells_what_it_added_updated_and_removed_per_library(conn: Connection) -> None:
    queries.upsert_items(conn, SOURCE, [movie("a"), movie("b")])
    episode = MediaItem(remote_id="e1", library_id="shows", kind=ItemKind.EPISODE, title="Pilot")
    queries.upsert_items(conn, SOURCE, [episode])
    assert by_library(take_changes(conn)) == {
        "movies": ({"a", "b"}, set(), False),
        "shows": ({"e1"}, set(), False),
    }
    assert take_changes(conn) == []  # taken: the next write starts afresh

    # The same item again (its etag unchanged) changes nothing; a rename does; a watch state names
    # its item's library.
    queries.upsert_items(conn, SOURCE, [movie("a"), movie("b", "B, renamed")])
    queries.upsert_watch_states(conn, SOURCE, [WatchState("a", watched=True, view_count=1)])
    assert by_library(take_changes(conn)) == {"movies": ({"a", "b"}, set(), False)}
    queries.upsert_items(conn, SOURCE, [movie("a"), movie("b", "B, renamed")])
    assert take_changes(conn) == []

    queries.delete_items(conn, SOURCE, ["b"])
    assert by_library(take_changes(conn)) == {"movies": (set(), {"b"}, False)}


def test_the_last_word_on_an_item_wins_within_a_write(conn: Connection) -> None:
    queries.upsert_items(conn, SOURCE, [movie("a"), movie("gone")])
    take_changes(conn)
    queries.delete_items(conn, SOURCE, ["a"])
    queries.upsert_items(conn, SOURCE, [movie("a", "A again"), movie("new")])
    queries.delete_items(conn, SOURCE, ["new", "gone"])
    assert by_library(take_changes(conn)) == {"movies": ({"a"}, {"new", "gone"}, False)}


def test_a_large_write_says_reload_without_its_ids(conn: Connection) -> None:
    queries.upsert_items(conn, SOURCE, [movie(f"m{n}") for n in range(MAX_IDS + 1)])
    queries.upsert_items(conn, SOURCE, [MediaItem("e1", "shows", ItemKind.EPISODE, "Pilot")])
    assert by_library(take_changes(conn)) == {
        "movies": (set(), set(), True),
        "shows": ({"e1"}, set(), False),
    }


def changed_event(*ids: str, removed: tuple[str, ...] = (), reload: bool = False) -> ev.LibraryItemsChanged:
    return ev.LibraryItemsChanged(SOURCE, "movies", frozenset(ids), frozenset(removed), reload)


async def test_signals_are_coalesced_per_library_and_the_first_goes_out_at_once() -> None:
    sent: list[tuple[list[str], list[str], bool, float]] = []
    arrived = asyncio.Event()
    loop = asyncio.get_running_loop()

    def send(source_id: str, library_id: str, changed: list[str], removed: list[str], reload: bool) -> None:
        sent.append((changed, removed, reload, loop.time()))
        arrived.set()

    signals = ItemSignals(send)
    started = loop.time()
    signals.add(changed_event("a"))
    signals.add(changed_event("b", removed=("c",)))
    await asyncio.wait_for(arrived.wait(), 5)
    assert sent[0][:3] == ([f"{SOURCE}:a", f"{SOURCE}:b"], [f"{SOURCE}:c"], False)
    assert sent[0][3] - started < WINDOW_S  # no wait after a quiet spell

    arrived.clear()
    signals.add(changed_event("c"))  # back again: changed, no longer removed
    signals.add(changed_event(removed=("a",)))
    await asyncio.wait_for(arrived.wait(), 5)
    assert sent[1][:3] == ([f"{SOURCE}:c"], [f"{SOURCE}:a"], False)
    assert sent[1][3] - sent[0][3] >= WINDOW_S * 0.9  # one signal per window

    arrived.clear()
    signals.add(changed_event(*(f"m{n}" for n in range(MAX_IDS))))
    signals.add(changed_event("one more"))
    await asyncio.wait_for(arrived.wait(), 5)
    assert sent[2][:3] == ([], [], True)
    signals.close()


def test_a_show_and_its_season_change_with_their_episodes(conn: Connection) -> None:
    show = MediaItem("show", "shows", ItemKind.SHOW, "Dark", etag="1")
    season = MediaItem("season", "shows", ItemKind.SEASON, "Season 1", parent_id="show", etag="1")
    pilot = MediaItem("e1", "shows", ItemKind.EPISODE, "Pilot", parent_id="season", etag="1")
    queries.upsert_items(conn, SOURCE, [show, season, pilot])
    take_changes(conn)

    # Watched: the show's and the season's unwatched counts change, so they are named too.
    queries.upsert_watch_states(conn, SOURCE, [WatchState("e1", watched=True, view_count=1)])
    assert by_library(take_changes(conn)) == {"shows": ({"e1", "season", "show"}, set(), False)}
    # A new episode changes their episode counts.
    queries.upsert_items(
        conn, SOURCE, [MediaItem("e2", "shows", ItemKind.EPISODE, "Two", parent_id="season")]
    )
    assert by_library(take_changes(conn)) == {"shows": ({"e2", "season", "show"}, set(), False)}
    # The show deleted with everything in it: all removed, none brought back by its episodes.
    queries.delete_items(conn, SOURCE, ["show"])
    assert by_library(take_changes(conn)) == {"shows": (set(), {"show", "season", "e1", "e2"}, False)}
