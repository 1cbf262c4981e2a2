"""Browsing the way a UI does (API 1.1): a library filtered and sorted with a total, and Next Up.

Reads only the cache. A filtered Query is answered by SQL until the library's facets (its
filterable values in memory) are current; they are built in the background once the cache has
been quiet for a moment, as the paging orders of ``ListItems`` are.
"""

import asyncio
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any, TypeVar

from reeld.cache import browse, library_query
from reeld.cache.db import Database
from reeld.validation import check_limit

T = TypeVar("T")

#: What is kept for fast queries (facets, recent results: tens of MB for a library of 50k) is let go
#: after this long without a Query.
FORGET_AFTER_S = 300.0


class LibraryBrowser:
    def __init__(
        self,
        db: Database,
        spawn: Callable[[Coroutine[Any, Any, None]], "asyncio.Task[None]"],
        quiet_s: float,
        page_index: browse.PageIndex | None = None,
    ) -> None:
        self.db = db
        #: Where the counts of a source's shows, built with the paging orders, are found.
        self.page_index = page_index
        self._spawn = spawn
        self._quiet_s = quiet_s
        self.orders = library_query.QueryOrders()
        self.facets = library_query.FacetCache()
        self._wanted: set[tuple[str, str]] = set()
        self._warming: asyncio.Task[None] | None = None
        #: The last Next Up: (generation, limit, rows).
        self._next_up: tuple[int, int, Sequence[Any]] | None = None
        self._last_query = time.monotonic()
        self._forgetting: asyncio.Task[None] | None = None

    async def query(
        self,
        source_id: str,
        library_id: str,
        raw_filter: Mapping[str, tuple[str, Any]],
        offset: int,
        limit: int,
        sort: str,
        present: Callable[[Sequence[Any]], T],
    ) -> tuple[T, int]:
        """A page of matches, presented, and how many match; ``raw_filter`` is ``{key: (D-Bus
        signature, value)}``. Unknown keys, types, kinds or sorts are ``InvalidArgument``."""
        flt = library_query.library_filter(raw_filter)
        sort_name, reverse = library_query.parse_sort(sort)
        check_limit(limit)
        self._last_query = time.monotonic()
        if self._forgetting is None or self._forgetting.done():
            self._forgetting = self._spawn(self._forget_when_idle())
        generation = self.db.generation
        facets = self.facets.current(generation, source_id, library_id)
        counts = self.page_index.counts(generation, source_id) if self.page_index else None

        def page(conn: Any) -> tuple[T, int]:
            rows, total = library_query.query_library(
                conn,
                self.orders,
                generation,
                source_id,
                library_id,
                flt,
                offset,
                limit,
                sort_name,
                reverse,
                facets,
                counts,
            )
            return present(rows), total

        page.__name__ = "query_library"
        result = await self.db.read(page)
        if facets is None and library_query.Facets.covers(flt):
            self._want_facets(source_id, library_id)
        return result

    async def next_up(self, limit: int, present: Callable[[Sequence[Any]], T]) -> T:
        """The episodes to go on with; the same answer while the cache does not change (a frontend
        asks on every start and every ItemsChanged, and the question reads every watched item)."""
        check_limit(limit)
        generation = self.db.generation
        cached = self._next_up
        if cached is not None and cached[0] == generation and cached[1] >= limit:
            rows: Sequence[Any] = cached[2][:limit]
            return await self.db.read(lambda conn: present(rows))

        def read(conn: Any) -> T:
            found = library_query.next_up(conn, limit)
            self._next_up = (generation, limit, found)
            return present(found)

        read.__name__ = "next_up"
        return await self.db.read(read)

    def _want_facets(self, source_id: str, library_id: str) -> None:
        self._wanted.add((source_id, library_id))
        if self._warming is None or self._warming.done():
            self._warming = self._spawn(self._build_facets())

    async def _forget_when_idle(self) -> None:
        """Let the facets and kept results go once no Query came for ``FORGET_AFTER_S``: a daemon
        browsed once an hour ago keeps no copy of its libraries' ids."""
        while (idle := time.monotonic() - self._last_query) < FORGET_AFTER_S:  # noqa: ASYNC110
            await asyncio.sleep(FORGET_AFTER_S - idle)
        self.orders = library_query.QueryOrders()
        self.facets = library_query.FacetCache()

    async def _build_facets(self) -> None:
        """Build the facets of the libraries queried lately, once the cache has been quiet a moment:
        facets built while a sync writes would be out of date by the next page."""
        while self._wanted:
            # Polls the write clock: writes come from a thread, and an event per write would cost more.
            while (quiet_for := time.monotonic() - self.db.last_change) < self._quiet_s:  # noqa: ASYNC110
                await asyncio.sleep(self._quiet_s - quiet_for)
            source_id, library_id = self._wanted.pop()
            await self.db.read(self.facets.build, self.db.generation, source_id, library_id)
