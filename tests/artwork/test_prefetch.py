"""Artwork prefetch gives way to clients: while they call, one image at a time."""

import asyncio
from types import SimpleNamespace
from typing import Any

from reeld.artwork.prefetch import CONCURRENCY, WHILE_CLIENTS_BUSY, Prefetcher
from reeld.services.activity import CROWDED_CALLS_PER_S, ClientActivity
from reeld.services.events import EventHub


class Fetches:
    """An artwork service whose fetches hold until released, counting how many run at once."""

    def __init__(self) -> None:
        self.store = SimpleNamespace(disk_full=False)
        self.in_flight = 0
        self.started = asyncio.Event()
        self.all_at_once = asyncio.Event()
        self.release = asyncio.Event()

    async def fetch(self, *_args: Any) -> str:
        self.in_flight += 1
        self.started.set()
        if self.in_flight == CONCURRENCY:
            self.all_at_once.set()
        await self.release.wait()
        self.in_flight -= 1
        return "path"


async def test_prefetch_fetches_one_image_at_a_time_while_clients_call_then_all_at_once() -> None:
    """Under 20 busy clients, a prefetch of 8 images at a time took a third of the event loop's
    time, and every answer queued behind it."""
    artwork = Fetches()
    activity = ClientActivity(quiet_after_s=1.0)  # a margin for a loaded machine between calls
    prefetcher = Prefetcher(artwork, None, EventHub(), activity)  # type: ignore[arg-type]
    todo = iter([(f"item{n}", "movies", "tag") for n in range(40)])
    activity.note_call()
    run = asyncio.create_task(prefetcher._fetch_all("source", "poster", 320, todo, first_screen=False))
    await artwork.started.wait()
    for _ in range(10):  # clients keep calling: still one at a time
        activity.note_call()
        await asyncio.sleep(0.02)
        assert artwork.in_flight == WHILE_CLIENTS_BUSY
    await asyncio.wait_for(artwork.all_at_once.wait(), 5)  # quiet now: every worker fetches
    artwork.release.set()
    assert await asyncio.wait_for(run, 5) == 40


async def test_a_pass_ends_when_its_images_are_fetched_however_busy_clients_stay() -> None:
    """Workers that waited for a quiet moment held the pass open: under steady calls, the pass of a
    sync's first screens never ended, and the full pass after it never began."""
    artwork = Fetches()
    artwork.release.set()
    activity = ClientActivity(quiet_after_s=3600)
    activity.note_call()  # busy for the whole test
    prefetcher = Prefetcher(artwork, None, EventHub(), activity)  # type: ignore[arg-type]
    todo = iter([(f"item{n}", "movies", "tag") for n in range(5)])
    fetched = prefetcher._fetch_all("source", "poster", 320, todo, first_screen=True)
    assert await asyncio.wait_for(fetched, 5) == 5


async def test_prefetch_waits_while_clients_crowd_the_daemon_and_goes_on_after() -> None:
    """Even the one worker that goes on while clients call waits while they crowd the daemon."""
    artwork = Fetches()
    artwork.release.set()
    activity = ClientActivity(quiet_after_s=0.2)
    for _ in range(CROWDED_CALLS_PER_S):
        activity.note_call()
    assert activity.crowded
    prefetcher = Prefetcher(artwork, None, EventHub(), activity)  # type: ignore[arg-type]
    todo = iter([(f"item{n}", "movies", "tag") for n in range(5)])
    run = asyncio.create_task(prefetcher._fetch_all("source", "poster", 320, todo, first_screen=False))
    await asyncio.sleep(0.3)  # the crowd's second: nothing fetched
    assert not artwork.started.is_set()
    assert await asyncio.wait_for(run, 5) == 5  # a second with no calls: the crowd is gone
