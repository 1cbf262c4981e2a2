"""One sync of one source: its libraries listed (full or since a stored cursor), page by page into
the cache, what is gone swept, the outcome reported. A per-source lock means one source is never
synced twice at once. Pages are fetched ahead while the previous ones are written (on the cache's
writer thread), one transaction per batch, so a kill at any moment leaves whole batches."""

import asyncio
import contextlib
import random
import time
from collections.abc import Callable, Collection, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog

from reeld.backends.base import ItemPage, KnownItem, MediaBackend, SyncContext
from reeld.cache import queries
from reeld.cache.db import Database
from reeld.errors import FAULT_IN_REELD, AuthRequired, BackendUnavailable, NotFound, ReeldError
from reeld.models.media import Library
from reeld.services import events as ev
from reeld.services.source_coordinator import SourceCoordinator, SourceRuntime
from reeld.services.sync.pages import PREFETCH_PAGES, WRITE_BATCH_ITEMS, prefetch, updated_words, write_batch
from reeld.services.sync.sweep import Sweeper

log = structlog.get_logger(__name__)

T = TypeVar("T")

#: Called with a source's id after a sync of it succeeded (queued watch changes are sent then).
OnSynced = Callable[[str], None]


@dataclass(slots=True)
class _Progress:
    """done/total over every library of one sync; totals come from the server as pages arrive."""

    expected: dict[str, int]
    done: dict[str, int] = field(default_factory=dict)

    def fraction(self) -> float:
        total = sum(max(self.expected.get(k, 0), self.done.get(k, 0)) for k in self.expected)
        return min(1.0, sum(self.done.values()) / total) if total else 0.0


class SyncRunner:
    def __init__(
        self,
        db: Database,
        coordinator: SourceCoordinator,
        events: ev.EventHub,
        sweeper: Sweeper,
        on_synced: OnSynced,
        give_way: Callable[[float], Coroutine[Any, Any, None]] | None = None,
    ) -> None:
        self.db = db
        #: Told how long each write took; rests while clients need the daemon (``ClientActivity``).
        self._give_way = give_way
        self.coordinator = coordinator
        self.events = events
        self.sweeper = sweeper
        self._on_synced = on_synced
        self._locks: dict[str, asyncio.Lock] = {}
        #: Per source syncing now, whether the running sync is a full one of every library.
        self._running_full: dict[str, bool] = {}
        self._library_backoff: dict[tuple[str, str], float] = {}
        self.stopping = False

    def is_running(self, source_id: str) -> bool:
        lock = self._locks.get(source_id)
        return lock is not None and lock.locked()

    def running_full(self, source_id: str) -> bool:
        """Whether the sync running now is a full one of every library."""
        return self._running_full.get(source_id, False)

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
            except Exception:
                log.exception("sync_crashed", source=source_id)
                return await self._finish(
                    runtime, False, f"Sync failed unexpectedly: {FAULT_IN_REELD}", started
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
            return await self._finish(runtime, True, f"{kind} sync: {updated_words(written)}", started)

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
        if success and runtime.id in self.coordinator.backends and not self.stopping:
            self._on_synced(runtime.id)
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

    async def _write(
        self, source_id: str, library_id: str, batch: list[ItemPage], last: bool = False
    ) -> queries.Written:
        started = time.monotonic()
        written = await self.db.write(write_batch, source_id, library_id, batch)
        if self._give_way is not None and not last:
            await self._give_way(time.monotonic() - started)
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
        # Never listed in full (0), or a full listing asked for is owed (queries.FULL_SYNC_OWED).
        full = full or state is None or state.last_full_sync <= 0

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
                    written += await self._write(runtime.id, library.remote_id, batch)
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
            written += await self._write(runtime.id, library.remote_id, batch, last=True)
        if exhaustive:
            await self.sweeper.sweep(runtime.id, library, seen, listed_total, known, arrived)
        elif present is not None:
            await self.sweeper.sweep(runtime.id, library, set(present), None)
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
