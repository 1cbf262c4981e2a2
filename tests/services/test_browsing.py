"""The library browser keeps a library's facets for fast queries while it is browsed, and lets
them go once nobody queries: on a real cache, through the daemon's own Database."""

from pathlib import Path
from typing import Any

import pytest

from reeld.cache import queries
from reeld.cache.db import Database
from reeld.models.media import ItemKind, Library, LibraryKind, MediaItem, WatchState
from reeld.models.source import Source
from reeld.services import browsing
from reeld.services.browsing import LibraryBrowser

SOURCE = "local_0123"


def spawn_with(tasks: list[Any]) -> Any:
    import asyncio

    def spawn(coro: Any) -> Any:
        task = asyncio.ensure_future(coro)
        tasks.append(task)
        return task

    return spawn


async def test_facets_are_built_while_browsed_and_let_go_when_nobody_queries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database(tmp_path / "cache.db")
    await db.open()
    await db.write(queries.save_source, Source(id=SOURCE, account_id="a", kind="local", name="Videos"))
    await db.write(queries.replace_libraries, SOURCE, [Library("movies", "Movies", LibraryKind.MOVIES)])
    films = [
        MediaItem(
            f"m{n}", "movies", ItemKind.MOVIE, f"Film {n}", watch=WatchState(f"m{n}", watched=n % 2 == 0)
        )
        for n in range(40)
    ]
    await db.write(queries.upsert_items, SOURCE, films)
    monkeypatch.setattr(browsing, "FORGET_AFTER_S", 0.3)
    tasks: list[Any] = []
    browser = LibraryBrowser(db, spawn_with(tasks), quiet_s=0.0)
    unwatched = {"watched": ("b", False)}

    by_sql = await browser.query(SOURCE, "movies", unwatched, 0, 100, "-title", list)
    assert by_sql[1] == 20
    build = tasks[-1]  # the facets, built in the background once the cache is quiet
    await build
    assert browser.facets.current(db.generation, SOURCE, "movies") is not None
    from_memory = await browser.query(SOURCE, "movies", unwatched, 0, 100, "-title", list)
    assert from_memory == by_sql

    forgetting = browser._forgetting
    assert forgetting is not None
    await forgetting
    assert browser.facets.current(db.generation, SOURCE, "movies") is None
    await db.close()
