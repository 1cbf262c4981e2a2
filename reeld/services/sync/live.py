"""Each connected source's live updates (a websocket, a file watcher), applied to the cache as
they arrive. The connection is opened again after a jittered, growing pause when it ends; the
periodic incremental sync is the safety net meanwhile."""

import asyncio
import contextlib
import random
from collections.abc import Callable

import structlog

from reeld.backends.base import ChangeSet, ItemPage
from reeld.cache import queries
from reeld.cache.db import Database
from reeld.errors import AuthRequired, BackendUnavailable, ReeldError
from reeld.services import events as ev
from reeld.services.source_coordinator import SourceCoordinator
from reeld.services.sync.pages import write_page
from reeld.services.tasks import BackgroundTasks

log = structlog.get_logger(__name__)

#: Called with (source id, library id or None for all) when a change needs a listing to apply.
Rescan = Callable[[str, str | None], None]


class LiveUpdates:
    def __init__(
        self,
        db: Database,
        coordinator: SourceCoordinator,
        events: ev.EventHub,
        tasks: BackgroundTasks,
        rescan: Rescan,
    ) -> None:
        self.db = db
        self.coordinator = coordinator
        self.events = events
        self._tasks = tasks
        self._rescan = rescan
        self._running: dict[str, asyncio.Task[None]] = {}
        self.stopping = False

    def start(self, source_id: str) -> None:
        """Listen to the source's live updates, unless that already runs (or reeld is stopping)."""
        if source_id in self.coordinator.backends and source_id not in self._running and not self.stopping:
            self._running[source_id] = self._tasks.spawn(self._loop(source_id))

    def stop(self, source_id: str) -> None:
        task = self._running.pop(source_id, None)
        if task is not None:
            task.cancel()

    async def _loop(self, source_id: str) -> None:
        backoff_s = 1.0
        while source_id in self.coordinator.backends:
            backend = self.coordinator.backends.get(source_id)
            if not backend.supports_live_updates:
                return
            try:
                # Closed however the loop ends (a stop cancelling it mid-write too): the connection
                # and its keep-alive task go with it, not when the collector finds the generator.
                async with contextlib.aclosing(backend.watch_changes()) as changes:
                    async for change in changes:
                        await self.apply(source_id, change)
                        backoff_s = 1.0
            except (AuthRequired, BackendUnavailable) as exc:
                self.coordinator.connection_lost(source_id, exc)
                return
            except ReeldError as exc:
                log.warning("live_updates_failed", source=source_id, reason=str(exc))
            except Exception:  # a bug must not end live updates for good, silently
                log.exception("live_updates_crashed", source=source_id)
            # Ended or failed: reconnect after a jittered pause; the periodic incremental sync is the safety net.
            await asyncio.sleep(backoff_s * random.uniform(0.5, 1.5))
            backoff_s = min(backoff_s * 2, 300.0)

    async def apply(self, source_id: str, change: ChangeSet) -> None:
        if change.upserts or change.watch_states:
            page = ItemPage(items=change.upserts, watch_states=change.watch_states)
            await self.db.write(write_page, source_id, page)
        if change.moved:
            await self.db.write(queries.copy_watch_states, source_id, change.moved)
        if change.deleted:
            await self.db.write(queries.delete_items, source_id, change.deleted)
        if change.libraries_to_sync:
            only = change.libraries_to_sync
            self._rescan(source_id, only[0] if len(only) == 1 else None)
        if change.upserts or change.deleted or change.watch_states:
            self.coordinator.counts_changed()
            self.events.emit(ev.ItemsChanged(source_id))
            self.events.emit(ev.SourceChanged(source_id))
