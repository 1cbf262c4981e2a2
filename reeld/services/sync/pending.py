"""Watch changes made here (watched, unwatched, a resume point): applied to the cache and queued
in one transaction, then sent to their server in order, now or once it is back. Never lost,
never sent twice."""

import asyncio

import structlog

from reeld.backends.base import MediaBackend, PlaybackState
from reeld.cache import queries
from reeld.cache.db import Database
from reeld.errors import AuthRequired, BackendUnavailable, NotFound, ReeldError, ServerFailed
from reeld.services import events as ev
from reeld.services.source_coordinator import SourceCoordinator
from reeld.services.tasks import BackgroundTasks

log = structlog.get_logger(__name__)


class PendingChanges:
    def __init__(
        self, db: Database, coordinator: SourceCoordinator, events: ev.EventHub, tasks: BackgroundTasks
    ) -> None:
        self.db = db
        self.coordinator = coordinator
        self.events = events
        self._tasks = tasks
        self._locks: dict[str, asyncio.Lock] = {}
        # Recounts one at a time: reads on different reader threads can answer out of order.
        self._recount_lock = asyncio.Lock()

    async def set_watched(self, source_id: str, remote_id: str, watched: bool) -> None:
        action = "watched" if watched else "unwatched"
        await self._record_and_send(source_id, remote_id, action=action, watched=watched)

    async def report_progress(
        self, source_id: str, remote_id: str, position_ms: int, state: PlaybackState, finished: bool = False
    ) -> None:
        """``finished``: played to the end, so watched in the cache at once (the server, sent the
        position, decides the same)."""
        await self._record_and_send(
            source_id,
            remote_id,
            action="progress",
            position_ms=position_ms,
            state=str(state),
            watched=True if finished else None,
        )

    def send_soon(self, source_id: str) -> None:
        """Send what is queued for the source, in the background."""
        self._tasks.spawn(self.replay(source_id))

    async def _record_and_send(
        self,
        source_id: str,
        remote_id: str,
        action: str,
        watched: bool | None = None,
        position_ms: int | None = None,
        state: str = "",
    ) -> None:
        """Apply to the cache and queue in one transaction, then try to send: never lost, never twice."""
        runtime = self.coordinator.get(source_id)
        queued = runtime.source.kind != "local"
        pending = (
            queries.PendingAction(0, source_id, remote_id, action, position_ms or 0, state)
            if queued
            else None
        )
        await self.db.write(
            queries.apply_watch_change,
            source_id,
            remote_id,
            watched=watched,
            position_ms=position_ms,
            queue=pending,
        )
        self.events.emit(ev.SourceChanged(source_id))
        if queued:
            await self._recount(source_id)
        if queued and source_id in self.coordinator.backends:
            self.send_soon(source_id)

    async def _recount(self, source_id: str) -> None:
        """Publish how many changes wait for the source's server (``Source.PendingChanges``)."""
        async with self._recount_lock:
            counts = await self.db.read(queries.pending_counts)
            self.coordinator.pending_changed(source_id, counts.get(source_id, 0))

    async def replay(self, source_id: str) -> int:
        """Send queued watch-state changes in order; how many were sent.

        A server that cannot take changes now (away, or a login needed) ends the replay: every
        change waits. One that refuses a change (an item it no longer has answers 404) holds back
        only the later changes to that item, so one bad change never keeps the rest from the
        server. Once a sync has removed the item from the cache, its changes are dropped: the
        server's listing has shown there is nothing left to apply them to. (A 404 alone does not
        drop them: a proxy that answers 404 for everything must not cost a person's changes.)
        """
        sent = 0
        held: set[str] = set()  # items with a refused change: their later changes wait behind it
        lock = self._locks.setdefault(source_id, asyncio.Lock())
        async with lock:
            queued = await self.db.read(queries.pending_for_source, source_id)
            for action in queued:
                backend = self.coordinator.backends.get(source_id)
                if backend is None:
                    break
                if action.remote_id in held:
                    continue
                if not action.item_cached:
                    log.warning("pending_dropped_item_gone", source=source_id, item=action.remote_id)
                    await self.db.write(queries.finish_pending, action.id)
                    continue
                try:
                    await _send(backend, action)
                except NotFound as exc:
                    log.warning(
                        "pending_dropped_item_gone", source=source_id, item=action.remote_id, reason=str(exc)
                    )
                except ServerFailed as exc:
                    # The server is there and failed this one call (HTTP 5xx): the change waits for
                    # the next replay, and syncs and live updates go on.
                    await self.db.write(queries.fail_pending, action.id, str(exc))
                    log.warning("pending_failed", source=source_id, item=action.remote_id, reason=str(exc))
                    held.add(action.remote_id)
                    continue
                except (AuthRequired, BackendUnavailable) as exc:
                    await self.db.write(queries.fail_pending, action.id, str(exc))
                    self.coordinator.connection_lost(source_id, exc)
                    break
                except ReeldError as exc:
                    await self.db.write(queries.fail_pending, action.id, str(exc))
                    log.warning("pending_refused", source=source_id, item=action.remote_id, reason=str(exc))
                    held.add(action.remote_id)
                    continue
                await self.db.write(queries.finish_pending, action.id)
                sent += 1
            if queued:
                await self._recount(source_id)
        if sent:
            log.info("pending_replayed", source=source_id, actions=sent)
        return sent


async def _send(backend: MediaBackend, action: queries.PendingAction) -> None:
    if action.action == "watched":
        # Jellyfin and Plex count each "played" they are sent as one more play. A change the server
        # took just before a crash (a kill -9 between sending it and forgetting it here) is sent
        # again after the restart: where the server has the item watched already, it is not.
        if not await backend.is_watched(action.remote_id):
            await backend.mark_watched(action.remote_id)
    elif action.action == "unwatched":
        await backend.mark_unwatched(action.remote_id)
    else:
        await backend.update_progress(action.remote_id, action.position_ms, PlaybackState(action.state))
