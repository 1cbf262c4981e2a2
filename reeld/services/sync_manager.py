"""SyncManager: brings the cache up to date with each connected source.

Full syncs list everything and sweep what is gone; incremental syncs ask for what changed since
a stored cursor; live updates apply what a source pushes; watch changes made here are queued and
sent. Each job has its module in ``reeld.services.sync``; this class wires them together and
decides what happens when a source connects.
"""

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from reeld.backends.base import ChangeSet, PlaybackState
from reeld.cache.db import Database
from reeld.config import SyncSettings
from reeld.services import events as ev
from reeld.services.source_coordinator import SourceCoordinator
from reeld.services.sync.live import LiveUpdates
from reeld.services.sync.pages import WRITE_BATCH_ITEMS
from reeld.services.sync.pages import write_batch as _write_batch
from reeld.services.sync.pending import PendingChanges
from reeld.services.sync.requests import SyncRequests
from reeld.services.sync.runner import SyncRunner
from reeld.services.sync.schedule import SyncSchedule
from reeld.services.sync.sweep import Sweeper
from reeld.services.tasks import BackgroundTasks

# What bench/bench_cache_write.py measures, by its old names.
__all__ = ["WRITE_BATCH_ITEMS", "SyncManager", "_write_batch"]


class SyncManager:
    def __init__(
        self,
        db: Database,
        coordinator: SourceCoordinator,
        events: ev.EventHub,
        settings: SyncSettings,
        give_way: Callable[[float], Coroutine[Any, Any, None]] | None = None,
    ) -> None:
        self.db = db
        self.coordinator = coordinator
        self.events = events
        self._tasks = BackgroundTasks()
        self.pending = PendingChanges(db, coordinator, events, self._tasks)
        self.schedule = SyncSchedule(settings, self._scheduled_sync)
        self.runner = SyncRunner(db, coordinator, events, Sweeper(db), self._synced, give_way)
        self.requests = SyncRequests(db, coordinator, events, self._tasks, self.runner, self.schedule)
        self.live = LiveUpdates(db, coordinator, events, self._tasks, self.requests.request_rescan)
        events.subscribe(self._on_event)

    @property
    def settings(self) -> SyncSettings:
        return self.schedule.settings

    @settings.setter
    def settings(self, settings: SyncSettings) -> None:
        self.schedule.settings = settings

    # -- lifecycle ------------------------------------------------------------------------------

    def start_schedule(self) -> None:
        self.schedule.start()

    async def stop(self) -> None:
        # No live-updates task or replay may start after the ones below are cancelled.
        self.live.stopping = self.runner.stopping = True
        self.schedule.stop()
        # A cancelled sync stops between pages: the page being written finishes on the writer thread.
        await self._tasks.cancel_all()

    def _on_event(self, event: ev.Event) -> None:
        if isinstance(event, ev.SourceConnected):
            self.schedule.add(event.source_id)
            self._tasks.spawn(self._after_connect(event.source_id))
        elif isinstance(event, ev.SourceChanged):
            self.requests.source_changed(event.source_id)
        elif isinstance(event, ev.SourceDisconnected | ev.SourceRemoved):
            self.live.stop(event.source_id)
            if isinstance(event, ev.SourceRemoved):
                self.schedule.remove(event.source_id)

    async def _after_connect(self, source_id: str) -> None:
        await self.pending.replay(source_id)
        runtime = self.coordinator.runtimes.get(source_id)
        if runtime is None:
            return
        asked_full = self.requests.asked_while_connecting(source_id)
        owed_full = await self.requests.full_sync_owed(source_id)  # asked for before a crash or stop
        if self.settings.sync_on_start or runtime.last_full_sync == 0 or asked_full is not None or owed_full:
            # Start-up after a crash or a long pause: catch up; a first sync is full.
            await self.sync(source_id, full=runtime.last_full_sync == 0 or bool(asked_full) or owed_full)
        # A stop that cancelled this task while its sync was ending finds the task done, not
        # cancelled: the live-updates part then starts nothing no one would stop.
        self.live.start(source_id)

    def _scheduled_sync(self, source_id: str, full: bool) -> None:
        self.requests.request_sync(source_id, full, scheduled=True)

    def _synced(self, source_id: str) -> None:
        # Changes a server failed or refused before (HTTP 5xx, a 404) are tried again.
        self.pending.send_soon(source_id)

    # -- syncing --------------------------------------------------------------------------------

    def is_syncing(self, source_id: str) -> bool:
        return self.requests.is_syncing(source_id)

    async def sync(
        self, source_id: str, full: bool, library_id: str | None = None, scheduled: bool = False
    ) -> bool:
        return await self.requests.run(source_id, full, library_id, scheduled)

    def request_sync(
        self, source_id: str, full: bool, library_id: str | None = None, scheduled: bool = False
    ) -> asyncio.Task[Any] | None:
        return self.requests.request_sync(source_id, full, library_id, scheduled)

    def request_all(self, full: bool) -> None:
        self.requests.request_all(full)

    def request_by_client(self, source_id: str, full: bool, library_id: str | None = None) -> None:
        self.requests.request_by_client(source_id, full, library_id)

    def request_rescan(self, source_id: str, library_id: str | None = None) -> None:
        self.requests.request_rescan(source_id, library_id)

    async def apply_changes(self, source_id: str, change: ChangeSet) -> None:
        await self.live.apply(source_id, change)

    # -- watch state ----------------------------------------------------------------------------

    async def set_watched(self, source_id: str, remote_id: str, watched: bool) -> None:
        await self.pending.set_watched(source_id, remote_id, watched)

    async def report_progress(
        self, source_id: str, remote_id: str, position_ms: int, state: PlaybackState, finished: bool = False
    ) -> None:
        await self.pending.report_progress(source_id, remote_id, position_ms, state, finished)

    async def replay_pending(self, source_id: str) -> int:
        return await self.pending.replay(source_id)
