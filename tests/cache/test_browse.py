"""What a person sees of the cache: title order and search ranking, on a migrated database."""

import contextlib
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Connection, Engine, create_engine, text

from reeld.cache import browse, queries
from reeld.cache.db import alembic_config, create_cache_engine, migrate
from reeld.models.media import ItemKind, Library, LibraryKind, MediaItem
from reeld.models.source import Source

SOURCE = "local_0123456789abcdef"


def found_by_search(conn: Connection, text: str, limit: int, *args: Any) -> list[SimpleNamespace]:
    """``browse.search``'s rows with their columns by name."""
    return [
        SimpleNamespace(**dict(zip(browse.BROWSE_COLUMNS, row, strict=True)))
        for row in browse.search(conn, text, limit, *args)
    ]


@contextlib.contextmanager
def local_cache(tmp_path: Path) -> Iterator[Connection]:
    """A migrated cache with a local source of Movies and TV, in one transaction."""
    engine = create_cache_engine(tmp_path / "cache.db")
    migrate(engine)
    with engine.begin() as connection:
        queries.save_source(connection, Source(id=SOURCE, account_id="local", kind="local", name="Videos"))
        queries.replace_libraries(
            connection,
            SOURCE,
            [Library("movies", "Movies", LibraryKind.MOVIES), Library("shows", "TV", LibraryKind.SHOWS)],
        )
        yield connection


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[Connection]:
    with local_cache(tmp_path) as connection:
        yield connection


def add(conn: Connection, library: str, kind: ItemKind, *titles: str, parent: str | None = None) -> None:
    queries.upsert_items(
        conn,
        SOURCE,
        [
            MediaItem(
                remote_id=f"{parent or library}/{title}",
                library_id=library,
                kind=kind,
                title=title,
                parent_id=parent,
            )
            for title in titles
        ],
    )


def titles_by_title(conn: Connection) -> list[str]:
    title = browse.BROWSE_COLUMNS.index("title")
    return [row[title] for row in browse.list_library(conn, SOURCE, "movies", 0, 100, "title")]


def test_titles_sort_by_letter_whatever_the_accent_and_numbers_by_value(conn: Connection) -> None:
    add(conn, "movies", ItemKind.MOVIE, "Zulu", "Ça Ira", "Album 10", "album 2", "Cabaret", "Édith", "Delta")
    assert titles_by_title(conn) == ["album 2", "Album 10", "Ça Ira", "Cabaret", "Delta", "Édith", "Zulu"]


def test_search_puts_the_exact_title_first_then_titles_that_start_with_it(conn: Connection) -> None:
    add(conn, "movies", ItemKind.MOVIE, "A Dark Night", "Darkness Falls", "Dark", "The Dark Side of Dark")
    add(conn, "shows", ItemKind.SHOW, "Dark")
    add(conn, "shows", ItemKind.EPISODE, *(f"Episode {n}" for n in range(1, 30)), parent="shows/Dark")
    found = found_by_search(conn, "dark", 10)
    assert [(row.title, row.kind) for row in found[:3]] == [
        ("Dark", "movie"),
        ("Dark", "show"),
        ("Darkness Falls", "movie"),
    ]
    # Items whose own title matches come before episodes that match only by their show's title.
    assert {row.title for row in found[3:5]} == {"A Dark Night", "The Dark Side of Dark"}
    assert all(row.kind == "episode" for row in found[5:])


def test_search_lists_a_shows_episodes_in_the_shows_order(conn: Connection) -> None:
    add(conn, "shows", ItemKind.SHOW, "Dark")
    episodes = [(2, 1, "Beginnings"), (1, 2, "Lies"), (1, 1, "Secrets"), (2, 2, "Dark Matter")]
    queries.upsert_items(
        conn,
        SOURCE,
        [
            MediaItem(
                remote_id=f"e{season}{number}",
                library_id="shows",
                kind=ItemKind.EPISODE,
                title=title,
                parent_id="shows/Dark",
                show_title="Dark",
                parent_index=season,
                index=number,
            )
            for season, number, title in episodes
        ],
    )
    found = [(row.parent_idx, row.idx) for row in found_by_search(conn, "dark", 10) if row.kind == "episode"]
    # "Dark Matter" matches by its own title too, so it comes first; the rest follow the show.
    assert found == [(2, 2), (1, 1), (1, 2), (2, 1)]


def upgraded(tmp_path: Path, revision: str, items_sql: str) -> Engine:
    """A cache at an older ``revision`` holding source 's', library 'l' and the rows of
    ``items_sql`` (an INSERT into items), then upgraded to the head revision."""
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)
        connection.execute(
            text("INSERT INTO sources (id, account_id, kind, name) VALUES ('s', 'a', 'local', 'S')")
        )
        connection.execute(
            text("INSERT INTO libraries (source_id, id, title, kind) VALUES ('s', 'l', 'L', 'movies')")
        )
        connection.execute(text(items_sql))
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "head")
    return engine


def test_upgrading_recomputes_the_sort_keys_already_stored(tmp_path: Path) -> None:
    engine = upgraded(
        tmp_path,
        "0002",
        "INSERT INTO items (source_id, remote_id, library_id, kind, title, sort_title) "
        "VALUES ('s', '1', 'l', 'movie', 'Ça Ira 10', 'ça ira 10')",
    )
    with engine.connect() as connection:
        assert connection.execute(text("SELECT sort_title FROM items")).scalar() == "ca ira 0000000010"


def test_pages_follow_each_sort_exactly_ties_included(conn: Connection) -> None:
    """Pages are read as one aggregated JSON value per query: the ids must keep the sort's order,
    as the plain ordered query gives it, at any offset."""
    queries.upsert_items(
        conn,
        SOURCE,
        [
            MediaItem(
                remote_id=f"movies/{n}",
                library_id="movies",
                kind=ItemKind.MOVIE,
                title=f"Movie {n % 9}",
                added_at=1_000 + n % 7,
                year=None if n % 5 == 0 else 1990 + n % 4,
                rating=n % 3 / 1.0,
            )
            for n in range(120)
        ],
    )
    driver = conn.connection.driver_connection
    assert driver is not None
    position = browse.BROWSE_COLUMNS.index("id")
    for sort in browse.SORTS:
        expected = [row[0] for row in driver.execute(browse._page_ids_sql(sort), (SOURCE, "movies", 1000, 0))]
        for offset in (0, 13, 50, 115):
            page = browse.list_library(conn, SOURCE, "movies", offset, 20, sort)
            assert [row[position] for row in page] == expected[offset : offset + 20], (sort, offset)


def test_an_infinite_rating_from_a_server_is_stored_as_unknown(conn: Connection) -> None:
    """SQLite cannot write an infinite number out as JSON: it would break every page it is on."""
    queries.upsert_items(
        conn,
        SOURCE,
        [
            MediaItem(remote_id="movies/a", library_id="movies", kind=ItemKind.MOVIE, title="A", rating=7.5),
            MediaItem(
                remote_id="movies/b", library_id="movies", kind=ItemKind.MOVIE, title="B", rating=float("inf")
            ),
        ],
    )
    rating = browse.BROWSE_COLUMNS.index("rating")
    assert [row[rating] for row in browse.list_library(conn, SOURCE, "movies", 0, 10, "title")] == [7.5, None]


def test_upgrading_clears_the_infinite_ratings_already_stored(tmp_path: Path) -> None:
    engine = upgraded(
        tmp_path,
        "0003",
        "INSERT INTO items (source_id, remote_id, library_id, kind, title, sort_title, rating, top_level) "
        "VALUES ('s', '1', 'l', 'movie', 'A', 'a', 1e999, 1), ('s', '2', 'l', 'movie', 'B', 'b', 6.5, 1)",
    )
    with engine.connect() as connection:
        rating = browse.BROWSE_COLUMNS.index("rating")
        assert [row[rating] for row in browse.list_library(connection, "s", "l", 0, 10, "title")] == [
            None,
            6.5,
        ]


def test_a_page_that_cannot_be_read_is_said_in_words_not_a_class_name(tmp_path: Path) -> None:
    import sqlite3

    from reeld.errors import CacheError

    locked = sqlite3.connect(tmp_path / "cache.db")
    locked.execute("CREATE TABLE items (id)")
    locked.execute("BEGIN EXCLUSIVE")  # another program holds it
    reader = sqlite3.connect(tmp_path / "cache.db", timeout=0)
    with pytest.raises(CacheError) as failed:
        browse._one_value(reader, "SELECT json_group_array(id) FROM items", ())
    assert str(failed.value) == "A page of the cache could not be read: another program keeps it locked"
    with pytest.raises(CacheError, match="a stored value is damaged"):
        browse._one_value(reader, "SELECT 'not json'", ())


def test_a_year_among_the_words_finds_items_of_that_year_or_titles_holding_it(conn: Connection) -> None:
    queries.upsert_items(
        conn,
        SOURCE,
        [
            MediaItem(
                remote_id=f"movies/{title}", library_id="movies", kind=ItemKind.MOVIE, title=title, year=year
            )
            for title, year in (
                ("Blade Runner", 1982),
                ("Blade Runner 2049", 2017),
                ("Blade", 1998),
                ("1917", 2019),
                ("2001: A Space Odyssey", 1968),
            )
        ]
        + [
            MediaItem(
                remote_id="movies/Tron", library_id="movies", kind=ItemKind.MOVIE, title="Tron", year=1982
            )
        ],
    )
    assert [row.title for row in found_by_search(conn, "blade runner 1982", 10)] == ["Blade Runner"]
    assert [row.title for row in found_by_search(conn, "blade 2049", 10)] == ["Blade Runner 2049"]
    assert {row.title for row in found_by_search(conn, "1982", 10)} == {"Blade Runner", "Tron"}
    assert [row.title for row in found_by_search(conn, "1917", 10)] == ["1917"]  # a title, not a year here
    assert [row.title for row in found_by_search(conn, "2001 space", 10)] == ["2001: A Space Odyssey"]
    assert found_by_search(conn, "blade 1990", 10) == []
