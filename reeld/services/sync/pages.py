"""Listing pages into the cache: fetched ahead while the previous ones are written, written in
batches (one transaction each, so a kill leaves whole transactions)."""

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, TypeVar

from reeld.backends.base import ItemPage
from reeld.cache import queries
from reeld.cache.playback import store_playback
from reeld.text import plural

T = TypeVar("T")

PREFETCH_PAGES = 4
#: Fetched pages are written together, this many items a transaction: a commit rewrites every index
#: page it touched, so larger transactions cut the writing of a 100k-item first sync by half or more.
#: A kill still leaves whole transactions.
WRITE_BATCH_ITEMS = 5000


def write_batch(conn: Any, source_id: str, library_id: str, pages: list[ItemPage]) -> queries.Written:
    """Write pages; what changed (what a sync reports as updated)."""
    written = queries.Written()
    for page in pages:
        written += write_page(conn, source_id, page)
        if page.watched_ids is not None:
            queries.reconcile_watched(conn, source_id, library_id, page.watched_ids)
    return written


def write_page(conn: Any, source_id: str, page: ItemPage) -> queries.Written:
    written = queries.Written()
    if page.items:
        written += queries.upsert_items(conn, source_id, page.items)
    if page.playback:
        store_playback(conn, source_id, page.playback, int(time.time()))
    if page.watch_states:
        written += queries.Written(
            watch_states=queries.upsert_watch_states(conn, source_id, page.watch_states)
        )
    if page.deleted:
        queries.delete_items(conn, source_id, page.deleted)
    return written


def updated_words(written: queries.Written) -> str:
    """``250 items updated``, ``3 items updated, 2 watch states``: what a sync changed."""
    text = f"{plural(written.items, 'item')} updated"
    if written.watch_states:
        text += f", {plural(written.watch_states, 'watch state')}"
    return text


async def prefetch(pages: AsyncIterator[T], depth: int) -> AsyncGenerator[T, None]:
    """Run ``pages`` ahead in its own task, up to ``depth`` items, so fetching overlaps writing."""
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(maxsize=depth)

    async def produce() -> None:
        try:
            async for page in pages:
                await queue.put(("page", page))
        except asyncio.CancelledError:
            raise  # the consumer is closing the read-ahead: nobody waits for more
        except BaseException as exc:  # handed to the consumer, which re-raises it
            await queue.put(("error", exc))
        else:
            await queue.put(("done", None))

    producer = asyncio.get_running_loop().create_task(produce())
    try:
        while True:
            tag, value = await queue.get()
            if tag == "done":
                return
            if tag == "error":
                raise value
            yield value
    finally:
        producer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await producer
        aclose = getattr(pages, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()
