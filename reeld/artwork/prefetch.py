"""Posters (then backdrops) of every top-level item, fetched in the background during and after
each sync, so a poster grid fills in and stays filled offline.

A pass asks the cache which top-level items lack their image at its current tag (skipping what
failed lately) and fetches them a few at a time. While the source syncs, a pass takes the first
screen of each library only, one image at a time, and a full pass waits: the sync keeps the
server and the machine. Fetches wait on the network on the event loop, checks and writes run on
the artwork worker thread, and a source that goes away ends the pass. Local folders have their
sidecar images copied instead (all of them after a full sync, new items' otherwise).
"""

import asyncio
import contextlib
from collections.abc import Coroutine, Iterator
from typing import TYPE_CHECKING, Any

import structlog

from reeld.artwork import queries
from reeld.artwork.store import NoRoomForArtwork
from reeld.cache.db import Database
from reeld.errors import BackendUnavailable, ReeldError
from reeld.models.source import SourceStatus
from reeld.services import events as ev
from reeld.services.activity import ClientActivity

if TYPE_CHECKING:
    from reeld.artwork.service import Artwork

log = structlog.get_logger(__name__)

#: Images fetched at once per source: enough to hide each request's latency on a busy machine.
CONCURRENCY = 8
#: ...and by a pass that started while the source syncs (it fetches the first screen of each
#: library): one, so that fills in during a first sync without taking the server's or the
#: machine's time from the sync. A full pass waits while its source syncs.
DURING_SYNC = 1
#: The width step each kind is prefetched at: a grid's poster, a backdrop behind a details view.
WIDTHS = {"poster": 320, "backdrop": 780}
#: A pass starts this long after it was asked for: a sync's progress events make one pass, not many.
SETTLE_S = 1.0
#: Items of each library (in title order) whose images are fetched while their source syncs.
FIRST_SCREEN = 100
#: Workers that go on while clients are busy (``ClientActivity``); the others wait for a quiet moment.
WHILE_CLIENTS_BUSY = 1


class Prefetcher:
    def __init__(
        self, artwork: "Artwork", db: Database, events: ev.EventHub, activity: ClientActivity
    ) -> None:
        self.artwork = artwork
        self.db = db
        self.events = events
        self.activity = activity
        self._wanted: set[str] = set()
        self._runs: dict[str, asyncio.Task[None]] = {}
        self._unsubscribe = lambda: None
        #: By source, set while it is not syncing.
        self._idle: dict[str, asyncio.Event] = {}
        #: Local folders: the items whose sidecars were looked at since the full sync noted here.
        self._local_checked: dict[str, set[str]] = {}
        self._local_full: dict[str, int] = {}

    def start(self) -> None:
        self._unsubscribe = self.events.subscribe(self._on_event)

    async def stop(self) -> None:
        self._unsubscribe()
        runs = list(self._runs.values())
        for run in runs:
            run.cancel()
        await asyncio.gather(*runs, return_exceptions=True)

    def _on_event(self, event: ev.Event) -> None:
        if isinstance(event, ev.SyncProgress | ev.SyncFinished):
            idle = self._idle_of(event.source_id)
            if isinstance(event, ev.SyncProgress) and event.syncing:
                idle.clear()
            else:
                idle.set()
        if (
            (isinstance(event, ev.SyncProgress) and event.syncing)
            or (isinstance(event, ev.SyncFinished) and event.success)
            or isinstance(event, ev.ItemsChanged)
        ):
            self.poke(event.source_id)

    def _idle_of(self, source_id: str) -> asyncio.Event:
        idle = self._idle.get(source_id)
        if idle is None:
            idle = self._idle[source_id] = asyncio.Event()
            idle.set()
        return idle

    def poke(self, source_id: str) -> None:
        """Have a pass over the source soon (once more after the one under way, if any)."""
        self._wanted.add(source_id)
        if source_id not in self._runs:
            self._runs[source_id] = asyncio.get_running_loop().create_task(self._run(source_id))

    async def _run(self, source_id: str) -> None:
        try:
            while source_id in self._wanted:
                await asyncio.sleep(SETTLE_S)
                if not await self.artwork.ready():
                    return  # no cache folder to fill
                self._wanted.discard(source_id)
                try:
                    await self._pass(source_id)
                except (ReeldError, OSError) as exc:
                    log.info("artwork_prefetch_stopped", source=source_id, reason=str(exc))
        finally:
            self._runs.pop(source_id, None)

    async def _pass(self, source_id: str) -> None:
        runtime = self.artwork.coordinator.runtimes.get(source_id)
        if runtime is None or self.artwork.store.disk_full:
            return  # (a full disk: images asked for still come, making room; no more prefetching)
        if runtime.source.kind == "local":
            await self._local_pass(source_id, runtime.last_full_sync)
            return
        if runtime.state.status is not SourceStatus.CONNECTED:
            return
        store, artwork = self.artwork.store, self.artwork

        def wanted(remote_id: str, kind: str, tag: str) -> bool:
            return not store.holds(source_id, remote_id, kind, tag) and not artwork.failed_recently(
                source_id, remote_id, kind, tag
            )

        # While the source syncs, the first screen of each library; the rest once the sync is over.
        first = FIRST_SCREEN if runtime.syncing else None
        for kind, width in WIDTHS.items():
            todo = await self.db.read(queries.prefetch_candidates, source_id, kind, wanted, first)
            if todo:
                fetched = await self._fetch_all(source_id, kind, width, iter(todo), first is not None)
                log.info("artwork_prefetched", source=source_id, kind=kind, images=fetched, wanted=len(todo))

    async def _fetch_all(
        self, source_id: str, kind: str, width: int, todo: Iterator[tuple[str, str, str]], first_screen: bool
    ) -> int:
        """Fetch ``todo`` with ``CONCURRENCY`` workers sharing the one iterator; how many were kept.
        While the source syncs, they wait: all of a full pass's, all but ``DURING_SYNC`` of a
        first screen's. While clients are busy, all but ``WHILE_CLIENTS_BUSY`` wait; while they
        crowd the daemon (``ClientActivity.crowded``), all of them. Under 20 busy clients, the one
        worker left still took a quarter of the event loop's time (py-spy), mostly in opening each
        image's request, and a client asks for the images it shows anyway (``GetArtwork``)."""
        kept = 0
        idle = self._idle_of(source_id)
        # Set once a worker ends (every image taken, the server gone, the disk full): the workers
        # waiting for clients to go quiet wait no more, so the pass ends however busy they are.
        ended = asyncio.Event()

        async def worker(number: int) -> None:
            try:
                await fetch_until_done(number)
            finally:
                ended.set()

        async def fetch_until_done(number: int) -> None:
            nonlocal kept
            while True:
                if self.activity.crowded and not ended.is_set():
                    await _first_of(self.activity.uncrowded(), ended.wait())
                if number >= WHILE_CLIENTS_BUSY and self.activity.busy and not ended.is_set():
                    await _first_of(self.activity.quiet(), ended.wait())
                next_one = next(todo, None)
                if next_one is None:
                    return
                remote_id, library_id, tag = next_one
                if not (first_screen and number < DURING_SYNC):
                    await idle.wait()
                if self.artwork.store.disk_full:
                    return
                try:
                    await self.artwork.fetch(source_id, remote_id, library_id, kind, tag, width)
                except (BackendUnavailable, NoRoomForArtwork):
                    return  # the server went away, or the disk is full: the next pass tries again
                except ReeldError:
                    continue  # this one image (noted as failed; the others go on)
                kept += 1

        workers = [asyncio.ensure_future(worker(number)) for number in range(CONCURRENCY)]
        try:
            await asyncio.gather(*workers)
        finally:
            for task in workers:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*workers, return_exceptions=True)
        return kept

    async def _local_pass(self, source_id: str, last_full_sync: int) -> None:
        """Copy the sidecar images of a local folder's films and shows: after a full sync, of every
        one (a replaced ``poster.jpg`` changes no video file); otherwise of those never looked at (a
        file watcher's new film), so a folder that changes often is not read whole each time."""
        root = self.artwork.local_root(source_id)
        if root is None:
            return
        files = await self.db.read(queries.top_level_files, source_id)
        checked = self._local_checked.setdefault(source_id, set())
        if self._local_full.get(source_id) != last_full_sync:
            checked.clear()
            self._local_full[source_id] = last_full_sync
        for remote_id, library_id, item_kind, file in files:
            if remote_id in checked:
                continue
            for kind in WIDTHS:
                # One image per hop to the worker thread: a GetArtwork waits behind one, not all.
                await self.artwork.keep_sidecar(source_id, remote_id, library_id, item_kind, kind, root, file)
            checked.add(remote_id)


async def _first_of(*waits: Coroutine[Any, Any, Any]) -> None:
    """Return when the first of ``waits`` is done; the others are cancelled."""
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
