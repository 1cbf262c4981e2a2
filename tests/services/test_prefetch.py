"""The SyncManager's read-ahead of listing pages ends cleanly however its consumer stops."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

from reeld.services.sync.pages import prefetch


async def endless() -> AsyncIterator[int]:
    n = 0
    while True:
        yield n
        n += 1


async def test_a_consumer_that_stops_early_closes_a_full_read_ahead() -> None:
    async def first_pages() -> list[int]:
        taken = []
        async with contextlib.aclosing(prefetch(endless(), depth=2)) as pages:
            async for page in pages:
                taken.append(page)
                await asyncio.sleep(0)  # the producer fills the queue and waits for room
                if len(taken) == 3:
                    break
        return taken

    assert await asyncio.wait_for(first_pages(), 5) == [0, 1, 2]


async def test_a_cancelled_sync_stops_its_read_ahead() -> None:
    started = asyncio.Event()

    async def consume() -> None:
        async with contextlib.aclosing(prefetch(endless(), depth=2)) as pages:
            async for _ in pages:
                started.set()
                await asyncio.sleep(3600)  # a long write, then the daemon stops

    task = asyncio.create_task(consume())
    await started.wait()
    await asyncio.sleep(0.01)  # the read-ahead is full
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)
    assert done == {task} and task.cancelled()
