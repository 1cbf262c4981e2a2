"""Each connected source's live updates (a websocket, a file watcher), applied to the cache as
they arrive. The connection is opened again after a jittered, growing pause when it ends; the
periodic incremental sync is the safety net meanwhile.

A socket the server does not open (a proxy without websocket support answers 404) is not the
server gone: one request to its REST API tells. If that answers, the source stays connected,
its status says live updates are unavailable and when they are tried again, and the pause
before that try grows (a proxy refusing websockets is not fixed within seconds).
"""

import asyncio
import contextlib
from collections.abc import Callable

import structlog

from reeld.backends.base import ChangeSet, ItemPage, MediaBackend
from reeld.backends.live import OPENED, LiveUpdatesRefused
from reeld.cache import queries
from reeld.cache.db import Database
from reeld.errors import AuthRequired, BackendUnavailable, ReeldError
from reeld.services import events as ev
from reeld.services.backoff import Backoff
from reeld.services.source_coordinator import SourceCoordinator
from reeld.services.sync.pages import write_page
from reeld.services.tasks import BackgroundTasks

log = structlog.get_logger(__name__)

#: Called with (source id, library id or None for all) when a change needs a listing to apply.
Rescan = Callable[[str, str | None], None]

#: Pauses before opening a socket again that dropped (its server may be restarting)…
DROPPED_FIRST_S, DROPPED_MAX_S = 1.0, 300.0
#: …and one the server refused (a proxy in the way): a minute, growing to a quarter of an hour.
REFUSED_FIRST_S, REFUSED_MAX_S = 60.0, 900.0
#: Meanwhile, how often the server is asked (one small request) whether it is still there: with no
#: live updates, nothing else would notice it go before the next sync, a quarter of an hour away.
PRESENCE_CHECK_S = 60.0


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
        dropped = Backoff(first_s=DROPPED_FIRST_S, max_s=DROPPED_MAX_S)
        refused = Backoff(first_s=REFUSED_FIRST_S, max_s=REFUSED_MAX_S)
        while source_id in self.coordinator.backends:
            backend = self.coordinator.backends.get(source_id)
            if not backend.supports_live_updates:
                return
            try:
                # Closed however the loop ends (a stop cancelling it mid-write too): the connection
                # and its keep-alive task go with it, not when the collector finds the generator.
                async with contextlib.aclosing(backend.watch_changes()) as changes:
                    async for change in changes:
                        if change is OPENED:
                            refused.reset()
                            self.coordinator.live_updates_problem(source_id, "")
                            continue
                        await self.apply(source_id, change)
                        dropped.reset()
            except LiveUpdatesRefused as exc:
                pause = await self._refused(source_id, backend, exc, refused)
                if pause is None or not await self._still_there_after(source_id, backend, pause):
                    return
                continue
            except (AuthRequired, BackendUnavailable) as exc:
                self.coordinator.connection_lost(source_id, exc)
                return
            except ReeldError as exc:
                log.warning("live_updates_failed", source=source_id, reason=str(exc))
            except Exception:  # a bug must not end live updates for good, silently
                log.exception("live_updates_crashed", source=source_id)
            # Ended or failed: reconnect after a jittered pause; the periodic incremental sync is the safety net.
            await asyncio.sleep(dropped.next_delay())

    async def _refused(
        self, source_id: str, backend: MediaBackend, exc: LiveUpdatesRefused, refused: Backoff
    ) -> float | None:
        """The pause before trying the socket again, or None when the server itself is away or
        refuses the login (the source's connection is lost then, and this loop ends)."""
        if not await self._server_there(source_id, backend):
            return None
        pause = refused.next_delay()
        minutes = max(1, round(pause / 60))
        log.info("live_updates_refused", source=source_id, reason=str(exc), retry_s=round(pause))
        self.coordinator.live_updates_problem(
            source_id, f"live updates unavailable: {exc}; checking every {minutes} min"
        )
        return pause

    async def _still_there_after(self, source_id: str, backend: MediaBackend, pause: float) -> bool:
        """Wait ``pause`` before the socket is tried again, asking the server every
        ``PRESENCE_CHECK_S`` whether it is still there; False once it is not."""
        loop = asyncio.get_running_loop()
        until = loop.time() + pause
        while (left := until - loop.time()) > 0:
            await asyncio.sleep(min(left, PRESENCE_CHECK_S))
            if loop.time() < until and not await self._server_there(source_id, backend):
                return False
        return True  # (the socket's next try asks the server too)

    async def _server_there(self, source_id: str, backend: MediaBackend) -> bool:
        """One small request: is the server there for the rest? When it is away or refuses the
        login, the source's connection is lost (and the caller's loop ends)."""
        try:
            await backend.get_libraries()
        except (AuthRequired, BackendUnavailable) as lost:
            self.coordinator.connection_lost(source_id, lost)
            return False
        except ReeldError:
            pass  # the server answers, if badly: the syncs say what fails
        return True

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
