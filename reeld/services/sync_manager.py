"""SyncManager: brings the cache up to date with each connected source.

Full syncs list everything and sweep what is gone; incremental syncs ask for what changed since
a stored cursor; live updates apply what a source pushes. A per-source lock means one source is
never synced twice at once. Pages are fetched ahead while the previous one is written (on the
cache's writer thread), one transaction per page, so a kill at any moment leaves whole pages.
"""

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Collection, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import structlog

from reeld.backends.base import (
    ChangeSet,
    ItemPage,
    KnownItem,
    MediaBackend,
    PlaybackState,
    SyncContext,
    pair_moves,
)
from reeld.cache import queries
from reeld.cache.db import Database
from reeld.config import SyncSettings
from reeld.errors import AuthRequired, BackendUnavailable, NotFound, ReeldError, ServerFailed
from reeld.models.media import Library
from reeld.models.source import SourceStatus
from reeld.services import events as ev
from reeld.services.source_coordinator import SourceCoordinator, SourceRuntime
from reeld.services.tasks import BackgroundTasks
from reeld.text import plural

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = structlog.get_logger(__name__)

T = TypeVar("T")

PREFETCH_PAGES = 4
#: Fetched pages are written together, this many items a transaction: a commit rewrites every index
#: page it touched, so larger transactions cut the writing of a 100k-item first sync by half or more.
#: A kill still leaves whole transactions.
WRITE_BATCH_ITEMS = 5000
#: A full listing that would delete more than this share of a library is held back once.
SWEEP_SUSPICIOUS_SHARE = 0.5
SWEEP_MIN_ITEMS = 20


@dataclass(slots=True)
class _Progress:
    """done/total over every library of one sync; totals come from the server as pages arrive."""

    expected: dict[str, int]
    done: dict[str, int] = field(default_factory=dict)

    def fraction(self) -> float:
        total = sum(max(self.expected.get(k, 0), self.done.get(k, 0)) for k in self.expected)
        return min(1.0, sum(self.done.values()) / total) if total else 0.0


class SyncManager:
    def __init__(
        self,
        db: Database,
        coordinator: SourceCoordinator,
        events: ev.EventHub,
        settings: SyncSettings,
    ) -> None:
        self.db = db
        self.coordinator = coordinator
        self.events = events
        self.settings = settings
        self._locks: dict[str, asyncio.Lock] = {}
        self._requested: dict[str, asyncio.Task[Any]] = {}
        #: Per source, the sync asked for while another ran (a live rescan, a client's full sync).
        self._follow_ups: dict[str, _FollowUp] = {}
        #: Per source syncing now, whether the running sync is a full one of every library.
        self._running_full: dict[str, bool] = {}
        #: Per source still connecting, a sync asked for by a client (full or not): run once connected.
        self._asked_while_connecting: dict[str, bool] = {}
        self._live_tasks: dict[str, asyncio.Task[None]] = {}
        self._tasks = BackgroundTasks()
        self._held_sweeps: dict[tuple[str, str], int] = {}
        self._library_backoff: dict[tuple[str, str], float] = {}
        self._scheduler: AsyncIOScheduler | None = None
        self._stopping = False
        events.subscribe(self._on_event)

    # -- lifecycle ------------------------------------------------------------------------------

    def start_schedule(self) -> None:
        from apscheduler.schedulers.asyncio import AsyncIOScheduler  # after the bus name: keeps start-up fast

        self._scheduler = AsyncIOScheduler()
        self._scheduler.start()

    async def stop(self) -> None:
        self._stopping = True  # no live-updates task may start after the ones below are cancelled
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        # A cancelled sync stops between pages: the page being written finishes on the writer thread.
        await self._tasks.cancel_all()

    def _on_event(self, event: ev.Event) -> None:
        if isinstance(event, ev.SourceConnected):
            self._schedule_source(event.source_id)
            self._tasks.spawn(self._after_connect(event.source_id))
        elif isinstance(event, ev.SourceChanged) and event.source_id in self._asked_while_connecting:
            runtime = self.coordinator.runtimes.get(event.source_id)
            if runtime is not None and runtime.state.status in CANNOT_SYNC:
                del self._asked_while_connecting[event.source_id]
                self.events.emit(ev.SyncFinished(event.source_id, False, not_synced_message(runtime)))
        elif isinstance(event, ev.SourceDisconnected | ev.SourceRemoved):
            task = self._live_tasks.pop(event.source_id, None)
            if task is not None:
                task.cancel()
            if isinstance(event, ev.SourceRemoved):
                self._unschedule_source(event.source_id)

    def _schedule_source(self, source_id: str) -> None:
        if self._scheduler is None or self._scheduler.get_job(f"{source_id}:incremental"):
            return
        from apscheduler.triggers.interval import IntervalTrigger

        jitter = int(self.settings.jitter_s)
        for full, interval in (
            (False, self.settings.incremental_minutes * 60),
            (True, self.settings.full_hours * 3600),
        ):
            self._scheduler.add_job(
                self._scheduled_sync,
                IntervalTrigger(seconds=interval, jitter=jitter),
                args=[source_id, full],
                id=f"{source_id}:{'full' if full else 'incremental'}",
                max_instances=1,
                coalesce=True,
            )

    async def _scheduled_sync(self, source_id: str, full: bool) -> None:
        # A coroutine, so the scheduler runs it on the event loop: a plain function would run in
        # its thread pool, where starting the sync's task fails (no running event loop).
        self.request_sync(source_id, full, scheduled=True)

    def _unschedule_source(self, source_id: str) -> None:
        if self._scheduler is None:
            return
        for name in ("incremental", "full"):
            with contextlib.suppress(Exception):
                self._scheduler.remove_job(f"{source_id}:{name}")

    async def _after_connect(self, source_id: str) -> None:
        await self.replay_pending(source_id)
        runtime = self.coordinator.runtimes.get(source_id)
        if runtime is None:
            return
        asked_full = self._asked_while_connecting.pop(source_id, None)
        if self.settings.sync_on_start or runtime.last_full_sync == 0 or asked_full is not None:
            # Start-up after a crash or a long pause: catch up; a first sync is full.
            await self.sync(source_id, full=runtime.last_full_sync == 0 or bool(asked_full))
        if (
            source_id in self.coordinator.backends
            and source_id not in self._live_tasks
            and not self._stopping
        ):
            # A stop that cancelled this task while its sync was ending finds the task done, not
            # cancelled: without the check it would leave a live-updates task no one stops.
            self._live_tasks[source_id] = self._tasks.spawn(self._live_loop(source_id))

    # -- syncing ------------------------------------------------------------------------------

    def is_syncing(self, source_id: str) -> bool:
        lock = self._locks.get(source_id)
        requested = self._requested.get(source_id)
        return (lock is not None and lock.locked()) or (requested is not None and not requested.done())

    def request_sync(
        self, source_id: str, full: bool, library_id: str | None = None, scheduled: bool = False
    ) -> asyncio.Task[Any] | None:
        """Start a sync now unless one of this source is running or about to (that one goes on)."""
        if self.is_syncing(source_id) or source_id not in self.coordinator.backends:
            return None
        task = self._tasks.spawn(self.sync(source_id, full, library_id=library_id, scheduled=scheduled))
        self._requested[source_id] = task
        return task

    def request_all(self, full: bool) -> None:
        for source_id in list(self.coordinator.runtimes):
            self.request_by_client(source_id, full)

    def request_by_client(self, source_id: str, full: bool, library_id: str | None = None) -> None:
        """A sync a client asked for: it always ends in ``SyncFinished``. A source still connecting
        syncs once connected; one that cannot sync now (offline, login needed) says so at once."""
        if self.request_sync(source_id, full, library_id) is not None:
            return
        if self.is_syncing(source_id):
            # The running sync goes on; a full one asked for now still runs, right after it (it is
            # the one that removes what the server deleted).
            if full and library_id is None and not self._running_full.get(source_id, False):
                self._follow_up(source_id, _FollowUp(full=True))
            return
        runtime = self.coordinator.runtimes.get(source_id)
        if runtime is None or source_id in self.coordinator.backends:
            return  # about to sync on connecting, which ends in SyncFinished
        if runtime.state.status in CANNOT_SYNC:
            self.events.emit(ev.SyncFinished(source_id, False, not_synced_message(runtime)))
            self.coordinator.try_now(source_id)  # back already? then it syncs once connected
        else:
            self._asked_while_connecting[source_id] = (
                self._asked_while_connecting.get(source_id, False) or full
            )

    def request_rescan(self, source_id: str, library_id: str | None = None) -> None:
        """An incremental sync for changes seen live (one library, or None: all). A sync already
        running may have listed that part before the change: then another runs after it."""
        if self.request_sync(source_id, False, library_id=library_id) is not None:
            return
        if source_id in self.coordinator.backends:
            self._follow_up(source_id, _FollowUp(library_id))

    def _follow_up(self, source_id: str, wanted: "_FollowUp") -> None:
        earlier = self._follow_ups.get(source_id)
        self._follow_ups[source_id] = wanted if earlier is None else earlier.merged(wanted)

    def _start_follow_up(self, source_id: str) -> None:
        wanted = self._follow_ups.pop(source_id, None)
        if wanted is None:
            return
        if self._scheduler is not None and source_id in self.coordinator.backends:  # not stopping
            self._tasks.spawn(self.sync(source_id, wanted.full, library_id=wanted.library_id))

    async def sync(
        self, source_id: str, full: bool, library_id: str | None = None, scheduled: bool = False
    ) -> bool:
        lock = self._locks.setdefault(source_id, asyncio.Lock())
        if lock.locked():
            return False
        self._running_full[source_id] = full and library_id is None
        try:
            return await self._sync_locked(lock, source_id, full, library_id, scheduled)
        finally:
            self._running_full.pop(source_id, None)
            self._start_follow_up(source_id)  # the lock is free again

    async def _sync_locked(
        self, lock: asyncio.Lock, source_id: str, full: bool, library_id: str | None, scheduled: bool
    ) -> bool:
        async with lock:
            runtime = self.coordinator.runtimes.get(source_id)
            if runtime is None or source_id not in self.coordinator.backends:
                return False
            backend = self.coordinator.backends.get(source_id)
            started = time.monotonic()
            self._set_progress(runtime, True, 0.0)
            try:
                written = await self._sync_source(runtime, backend, full, library_id, scheduled)
            except asyncio.CancelledError:
                self._set_progress(runtime, False, 0.0)
                raise
            except (AuthRequired, BackendUnavailable) as exc:
                return await self._finish(runtime, False, str(exc), started, lost=exc)
            except ReeldError as exc:
                return await self._finish(runtime, False, str(exc), started)
            except Exception as exc:
                log.exception("sync_crashed", source=source_id)
                return await self._finish(
                    runtime, False, f"Sync failed unexpectedly ({exc.__class__.__name__})", started
                )
            kind = "full" if full else "incremental"
            log.info(
                "sync_done",
                source=source_id,
                kind=kind,
                items=written.items,
                watch_states=written.watch_states,
                seconds=round(time.monotonic() - started, 2),
            )
            return await self._finish(runtime, True, f"{kind} sync: {_updated(written)}", started)

    async def _finish(
        self,
        runtime: SourceRuntime,
        success: bool,
        message: str,
        started: float,
        lost: ReeldError | None = None,
    ) -> bool:
        if not success and runtime.id not in self.coordinator.runtimes:
            # Removed while it synced: the error is only reeld closing its own connection.
            message, lost = "Stopped: the source was removed", None
        self._set_progress(runtime, False, 1.0 if success else 0.0)
        if not success:
            log.warning("sync_failed", source=runtime.id, reason=message)
        if lost is not None:
            self.coordinator.connection_lost(runtime.id, lost, during_sync=True)
        else:
            self.coordinator.sync_result(runtime.id, "" if success else message)
        # Counts first: a client that reads ItemCount on SyncFinished must see the new figure.
        await self.coordinator.refresh_counts()
        self.events.emit(ev.SyncFinished(runtime.id, success, message))
        if success and runtime.id in self.coordinator.backends and not self._stopping:
            # Changes a server failed or refused before (HTTP 5xx, a 404) are tried again.
            self._tasks.spawn(self.replay_pending(runtime.id))
        return success

    def _set_progress(self, runtime: SourceRuntime, syncing: bool, progress: float) -> None:
        runtime.syncing = syncing
        runtime.progress = progress
        self.events.emit(ev.SyncProgress(runtime.id, syncing, progress))

    async def _sync_source(
        self,
        runtime: SourceRuntime,
        backend: MediaBackend,
        full: bool,
        library_id: str | None,
        scheduled: bool,
    ) -> queries.Written:
        libraries = await backend.get_libraries()
        gone = await self.db.write(queries.replace_libraries, runtime.id, libraries)
        if gone:
            log.info("libraries_removed", source=runtime.id, libraries=gone)
        chosen = [lib for lib in libraries if library_id is None or lib.remote_id == library_id]
        if library_id is not None and not chosen:
            raise NotFound(f"No library {library_id!r} on this source")
        states = {
            lib.remote_id: await self.db.read(queries.library_sync_state, runtime.id, lib.remote_id)
            for lib in chosen
        }
        progress = _Progress({lib_id: state.total if state else 0 for lib_id, state in states.items()})
        known = await self.db.read(queries.known_items, runtime.id) if backend.uses_known_items else {}
        watch_sets: dict[str, queries.WatchSets] = {}
        if backend.uses_cached_watched and not full:
            watch_sets = await self.db.read(queries.watch_sets, runtime.id)
        now = time.time()

        async def sync_one(library: Library) -> tuple[queries.Written, str | None]:
            """What was written, or why this library failed (the others go on)."""
            key = (runtime.id, library.remote_id)
            if scheduled and self._library_backoff.get(key, 0) > now:
                return queries.Written(), None
            try:
                written = await self._sync_library(
                    runtime,
                    backend,
                    library,
                    full,
                    states[library.remote_id],
                    progress,
                    known,
                    watch_sets.get(library.remote_id, queries.WatchSets()),
                )
            except ReeldError as exc:
                if isinstance(exc, AuthRequired | BackendUnavailable):
                    raise
                count = await self.db.write(
                    queries.record_library_error, runtime.id, library.remote_id, str(exc)
                )
                self._library_backoff[key] = now + min(3600, 30 * 2**count) * random.uniform(0.8, 1.2)
                log.warning(
                    "library_sync_failed", source=runtime.id, library=library.remote_id, reason=str(exc)
                )
                return queries.Written(), f"{library.title}: {exc}"
            self._library_backoff.pop(key, None)
            return written, None

        if full:
            # One library after another: a full listing is large, and fetching two at once would only
            # hold twice the pages in memory.
            results = [await sync_one(library) for library in chosen]
        else:
            # An incremental sync is a few small requests per library, mostly waiting: all at once.
            results = await _all_or_none([sync_one(library) for library in chosen])
        written = sum((count for count, _ in results), queries.Written())
        failed = [reason for _, reason in results if reason is not None]
        if failed:
            # The other libraries are synced and kept; the source's last sync stays the last complete one.
            raise ReeldError("; ".join(failed))
        await self.db.write(
            queries.mark_source_synced, runtime.id, int(time.time()), full and library_id is None
        )
        times = (await self.db.read(queries.source_times))[runtime.id]
        runtime.last_sync, runtime.last_full_sync = times.last_sync, times.last_full_sync
        backend.last_sync_time = runtime.last_sync
        return written

    async def _sync_library(
        self,
        runtime: SourceRuntime,
        backend: MediaBackend,
        library: Library,
        full: bool,
        state: queries.LibrarySyncState | None,
        progress: _Progress,
        known: Mapping[str, KnownItem],
        watch_sets: queries.WatchSets,
    ) -> queries.Written:
        full = full or state is None or state.last_full_sync == 0

        async def cache_counts(ids: Collection[str]) -> tuple[int, int]:
            return await self.db.read(queries.library_count_among, runtime.id, library.remote_id, list(ids))

        ctx = SyncContext(
            full=full,
            since=None if full else state.cursor if state else None,
            known=known,
            cache_counts=cache_counts,
            cached_watched=watch_sets.watched,
            cached_in_progress=watch_sets.in_progress,
        )
        exhaustive = backend.listing_is_exhaustive(ctx)
        seen: set[str] = set()
        # The etags of items new to the cache, where an etag names content: a file renamed while
        # reeld was not watching is gone under its old id and new under another.
        arrived: dict[str, str] = {}
        track_arrivals = exhaustive and backend.etag_follows_content
        present: frozenset[str] | None = None
        cursor: str | None = None
        listed_total: int | None = None
        written = queries.Written()
        last_emit = 0.0
        batch: list[ItemPage] = []
        # Closed on the way out (a cancelled sync too), so the read-ahead and its fetches stop with it.
        async with contextlib.aclosing(prefetch(backend.list_items(library, ctx), PREFETCH_PAGES)) as pages:
            async for page in pages:
                batch.append(page)
                if sum(len(p.items) + len(p.watch_states) for p in batch) >= WRITE_BATCH_ITEMS:
                    written += await self.db.write(_write_batch, runtime.id, library.remote_id, batch)
                    batch = []
                if exhaustive:
                    seen.update(item.remote_id for item in page.items)
                    seen.update(page.unchanged)
                if track_arrivals:
                    arrived.update(
                        (item.remote_id, item.etag)
                        for item in page.items
                        if item.etag and item.remote_id not in known
                    )
                cursor = page.cursor or cursor
                present = page.present_ids if page.present_ids is not None else present
                if page.total is not None:
                    listed_total = page.total
                    progress.expected[library.remote_id] = page.total
                progress.done[library.remote_id] = (
                    progress.done.get(library.remote_id, 0) + len(page.items) + len(page.unchanged)
                )
                if time.monotonic() - last_emit > 0.2:
                    last_emit = time.monotonic()
                    self._set_progress(runtime, True, progress.fraction())
        if batch:
            written += await self.db.write(_write_batch, runtime.id, library.remote_id, batch)
        if exhaustive:
            await self._sweep(runtime.id, library, seen, listed_total, known, arrived)
        elif present is not None:
            await self._sweep(runtime.id, library, set(present), None)
        total = len(seen) if exhaustive else (state.total if state else 0)
        await self.db.write(
            queries.record_library_sync,
            runtime.id,
            library.remote_id,
            cursor=cursor,
            full=exhaustive,
            total=total,
        )
        self.coordinator.counts_changed()
        return written

    async def _sweep(
        self,
        source_id: str,
        library: Library,
        seen: set[str],
        listed_total: int | None,
        known: Mapping[str, KnownItem] | None = None,
        arrived: Mapping[str, str] | None = None,
    ) -> None:
        """Delete what a complete listing no longer names, unless the listing looks wrong. An item
        gone whose etag (in ``known``) is that of one item ``arrived`` moved there: it hands that
        item its watch state first."""
        cached = await self.db.read(queries.cached_remote_ids, source_id, library.remote_id)
        missing = cached - seen
        if not missing:
            self._held_sweeps.pop((source_id, library.remote_id), None)
            return
        if listed_total is not None and len(seen) < listed_total:
            log.warning(
                "sweep_skipped_short_listing",
                source=source_id,
                library=library.remote_id,
                seen=len(seen),
                total=listed_total,
            )
            return
        suspicious = len(cached) >= SWEEP_MIN_ITEMS and len(missing) > SWEEP_SUSPICIOUS_SHARE * len(cached)
        key = (source_id, library.remote_id)
        if suspicious and self._held_sweeps.get(key) != len(missing):
            # An empty or short listing (a server mid-rescan, an unmounted disk) must not wipe a library:
            # hold it until a second complete listing says the same.
            self._held_sweeps[key] = len(missing)
            log.warning(
                "sweep_held",
                source=source_id,
                library=library.remote_id,
                missing=len(missing),
                cached=len(cached),
            )
            return
        self._held_sweeps.pop(key, None)
        moved: dict[str, str] = {}
        if known and arrived:
            gone = {rid: etag for rid in missing if rid in known and (etag := known[rid].etag)}
            moved = pair_moves(gone, arrived)
        if moved:
            await self.db.write(queries.copy_watch_states, source_id, moved)
            log.info("moved", source=source_id, library=library.remote_id, items=len(moved))
        removed = await self.db.write(queries.delete_items, source_id, missing)
        log.info("swept", source=source_id, library=library.remote_id, removed=removed)

    # -- live updates ----------------------------------------------------------------------------

    async def _live_loop(self, source_id: str) -> None:
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
                        await self.apply_changes(source_id, change)
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

    async def apply_changes(self, source_id: str, change: ChangeSet) -> None:
        if change.upserts or change.watch_states:
            page = ItemPage(items=change.upserts, watch_states=change.watch_states)
            await self.db.write(_write_page, source_id, page)
        if change.moved:
            await self.db.write(queries.copy_watch_states, source_id, change.moved)
        if change.deleted:
            await self.db.write(queries.delete_items, source_id, change.deleted)
        if change.libraries_to_sync:
            only = change.libraries_to_sync
            self.request_rescan(source_id, only[0] if len(only) == 1 else None)
        if change.upserts or change.deleted or change.watch_states:
            self.coordinator.counts_changed()
            self.events.emit(ev.ItemsChanged(source_id))
            self.events.emit(ev.SourceChanged(source_id))

    # -- watch state ------------------------------------------------------------------------------

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
        if queued and source_id in self.coordinator.backends:
            self._tasks.spawn(self.replay_pending(source_id))

    async def replay_pending(self, source_id: str) -> int:
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
        lock = self._locks.setdefault(f"pending:{source_id}", asyncio.Lock())
        async with lock:
            for action in await self.db.read(queries.pending_for_source, source_id):
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
        if sent:
            log.info("pending_replayed", source=source_id, actions=sent)
        return sent


async def _send(backend: MediaBackend, action: queries.PendingAction) -> None:
    if action.action == "watched":
        await backend.mark_watched(action.remote_id)
    elif action.action == "unwatched":
        await backend.mark_unwatched(action.remote_id)
    else:
        await backend.update_progress(action.remote_id, action.position_ms, PlaybackState(action.state))


def _write_batch(conn: Any, source_id: str, library_id: str, pages: list[ItemPage]) -> queries.Written:
    """Write pages; what changed (what a sync reports as updated)."""
    written = queries.Written()
    for page in pages:
        written += _write_page(conn, source_id, page)
        if page.watched_ids is not None:
            queries.reconcile_watched(conn, source_id, library_id, page.watched_ids)
    return written


def _write_page(conn: Any, source_id: str, page: ItemPage) -> queries.Written:
    written = queries.Written()
    if page.items:
        written += queries.upsert_items(conn, source_id, page.items)
    if page.watch_states:
        written += queries.Written(
            watch_states=queries.upsert_watch_states(conn, source_id, page.watch_states)
        )
    if page.deleted:
        queries.delete_items(conn, source_id, page.deleted)
    return written


def _updated(written: queries.Written) -> str:
    """``250 items updated``, ``3 items updated, 2 watch states``: what a sync changed."""
    text = f"{plural(written.items, 'item')} updated"
    if written.watch_states:
        text += f", {plural(written.watch_states, 'watch state')}"
    return text


@dataclass(frozen=True, slots=True)
class _FollowUp:
    """A sync to run once the running one ends: one library (None: all), full or incremental."""

    library_id: str | None = None
    full: bool = False

    def merged(self, other: "_FollowUp") -> "_FollowUp":
        """One sync that covers both: a full one covers every library."""
        full = self.full or other.full
        same = self.library_id == other.library_id
        return _FollowUp(None if full or not same else self.library_id, full)


#: Source states in which a sync cannot start until something changes (the network, a login), in
#: the words that follow a source's name.
CANNOT_SYNC = {
    SourceStatus.OFFLINE: "is offline",
    SourceStatus.NEEDS_AUTH: "needs a login",
    SourceStatus.ERROR: "has an error",
}


def not_synced_message(runtime: SourceRuntime) -> str:
    """Why a client's sync did not run: ``Not synced: Home is offline: no address answered…``."""
    state = runtime.state
    reason = f": {state.message}" if state.message else ""
    return f"Not synced: {runtime.source.name} {CANNOT_SYNC.get(state.status, str(state.status))}{reason}"


async def _all_or_none(coros: list[Coroutine[Any, Any, T]]) -> list[T]:
    """Run ``coros`` concurrently; the first to fail cancels the rest, and its error is raised."""
    tasks = [asyncio.ensure_future(coro) for coro in coros]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


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
