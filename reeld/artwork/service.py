"""Artwork: the images of items as files on disk, for ``GetArtwork`` and the ``*_path`` item keys.

An image is answered from the cache when it holds it at the item's current tag; otherwise it is
fetched from the item's server (which resizes it) or copied from a local folder's sidecar file,
checked, stored and answered. Concurrent asks for one image share one fetch. Downloads run on the
event loop (they wait on the network); checking and writing an image run on a worker thread.
"""

import asyncio
import contextlib
import functools
import importlib
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import structlog

from reeld.artwork import queries
from reeld.artwork.remote import (
    MAX_IMAGE_BYTES,
    ArtworkUnavailable,
    ImageFetcher,
    image_request,
    request_path,
)
from reeld.artwork.sidecars import find_sidecar, read_sidecar
from reeld.artwork.sniff import image_info
from reeld.artwork.store import KINDS, ORIGINAL, ArtworkStore, width_step
from reeld.cache.db import Database
from reeld.errors import BackendUnavailable, NotFound, ReeldError
from reeld.models.source import SourceStatus
from reeld.services import events as ev
from reeld.services.activity import ClientActivity
from reeld.services.source_coordinator import SourceCoordinator
from reeld.validation import check_choice
from reeld.workers import name_os_thread

log = structlog.get_logger(__name__)

T = TypeVar("T")

#: How often use is written back to the files (their mtimes order eviction after a restart).
FLUSH_USE_EVERY_S = 300.0
#: An image that failed (not an image, none on the server) is not tried again by prefetch for this long.
FAILED_PAUSE_S = 6 * 3600.0

ImageKey = tuple[str, str, str, str, int]  # source, item, kind, tag, width step


class Artwork:
    def __init__(
        self,
        store: ArtworkStore,
        db: Database,
        coordinator: SourceCoordinator,
        events: ev.EventHub,
        activity: ClientActivity,
    ) -> None:
        from reeld.artwork.prefetch import Prefetcher

        self.store = store
        self.db = db
        self.coordinator = coordinator
        self.fetcher = ImageFetcher()
        self.opened = False
        # Not a low-priority thread: a client waiting for an image waits for its check and write.
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="reeld-artwork", initializer=name_os_thread)
        self._inflight: dict[ImageKey, asyncio.Task[str]] = {}
        #: Images that failed, by (source, item, kind, tag): when.
        self._failed: dict[tuple[str, str, str, str], float] = {}
        self._opening: asyncio.Task[None] | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._forgetting: set[asyncio.Task[None]] = set()
        self._unsubscribe = lambda: None
        self.events = events
        self.prefetch = Prefetcher(self, db, events, activity)

    # -- lifecycle ----------------------------------------------------------------------------------

    async def start(self, max_bytes: int) -> None:
        """Index the cache folder in the background (a large cache takes a moment to scan: the
        daemon answers meanwhile, items without their paths), and prefetch after syncs from now on."""
        self.store.max_bytes = max_bytes
        self._opening = asyncio.get_running_loop().create_task(self._open())
        self.prefetch.start()
        self._unsubscribe = self.events.subscribe(self._on_event)

    async def ready(self) -> bool:
        """Whether the cache folder can be used, once its scan at start is done."""
        if self._opening is not None and not self._opening.done():
            await asyncio.shield(self._opening)
        return self.opened

    async def _open(self) -> None:
        try:
            await self.off_loop(self.store.open)
        except OSError as exc:
            log.warning("artwork_cache_unavailable", folder=str(self.store.root), error=str(exc))
            return
        self.opened = True
        loop = asyncio.get_running_loop()
        self._flusher = loop.create_task(self._flush_use_now_and_then())
        self._watcher = loop.create_task(self._watch())

    async def stop(self) -> None:
        self._unsubscribe()
        await self.prefetch.stop()
        background = (self._opening, self._flusher, self._watcher)
        tasks = [*self._inflight.values(), *self._forgetting, *(task for task in background if task)]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.opened:
            with contextlib.suppress(OSError):
                await self.off_loop(self.store.flush_use)
        await self.fetcher.aclose()
        self._worker.shutdown(wait=False)

    async def _flush_use_now_and_then(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_USE_EVERY_S)
            with contextlib.suppress(OSError):  # a folder gone meanwhile: the watch makes it again
                await self.off_loop(self.store.flush_use)

    async def _watch(self) -> None:
        """Keep the index true to the folder: images removed by someone else (a cache cleaner, a
        person) are no longer announced; a folder removed whole is made again, empty."""
        await asyncio.to_thread(importlib.import_module, "watchfiles")  # ~50 ms: not on the loop
        from watchfiles import Change, awatch

        def deleted(change: Change, _path: str) -> bool:
            return change is Change.deleted

        while True:
            try:
                async for changes in awatch(self.store.root, watch_filter=deleted, debounce=200, step=50):
                    paths = [path for _, path in changes]
                    if str(self.store.root) in paths:
                        break  # the whole folder went (rm -r ~/.cache): the watch would see nothing more
                    dropped = self.store.drop_missing(paths)
                    if dropped:
                        log.info("artwork_removed_elsewhere", images=dropped)
            except (OSError, RuntimeError) as exc:  # the folder went away (watchfiles says so as either)
                log.info("artwork_folder_gone", reason=str(exc)[:200])
            if await asyncio.to_thread(self.store.root.is_dir):
                await asyncio.sleep(1.0)  # a watch that ended with the folder there: not in a tight loop
                continue
            await self.off_loop(self.store.open)

    async def off_loop(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._worker, functools.partial(fn, *args))

    # -- item keys (on the cache's reader threads: memory only) ------------------------------------------

    def item_paths(
        self, source_id: str, remote_id: str, thumb: str | None, artwork: str | None
    ) -> dict[str, str]:
        """The ``*_path`` keys of an item: each image kept at its current tag, by kind."""
        if not len(self.store):
            return {}
        runtime = self.coordinator.runtimes.get(source_id)
        local = runtime is not None and runtime.source.kind == "local"
        if local:
            return self.store.paths(source_id, remote_id, {}, sidecars=True)
        # No stat per item: files removed behind reeld's back leave the index through ``_watch``.
        return self.store.paths(
            source_id, remote_id, lambda: queries.image_tags(thumb, artwork), sidecars=False
        )

    # -- GetArtwork --------------------------------------------------------------------------------------

    async def get(self, source_id: str, remote_id: str, kind: str, width: int) -> str:
        """The path of an item's image of ``kind`` near ``width`` (0: the original)."""
        check_choice(kind, KINDS, "artwork kind")
        if not await self.ready():
            raise ArtworkUnavailable(f"The artwork cache folder {self.store.root} cannot be used")
        runtime = self.coordinator.get(source_id)
        row = await self.db.read(queries.item_images, source_id, remote_id)
        if row is None:
            raise NotFound(f"No item {source_id}:{remote_id[:100]}")
        if runtime.source.kind == "local":
            return await self._local(runtime.id, remote_id, row, kind)
        tag = queries.image_tags(row.thumb, row.artwork).get(kind)
        if tag is None:
            raise NotFound(f"{row.title[:100]!r} has no {kind}")
        step = width_step(width)
        kept = self.store.lookup(source_id, remote_id, kind, tag)
        # A stat in the cache's own folder costs microseconds, less than a hop to a thread.
        if kept is not None and kept.holds(step) and os.path.exists(path := self.store.path(kept, step)):  # noqa: ASYNC240
            return path
        try:
            return await self.fetch(source_id, remote_id, row.library_id, kind, tag, step)
        except BackendUnavailable:
            if kept is not None and (nearest := _nearest(self.store.paths_of(kept), step)):
                return nearest  # offline: another size of the same picture beats none
            raise

    def fetch(
        self, source_id: str, remote_id: str, library_id: str, kind: str, tag: str, step: int
    ) -> "asyncio.Future[str]":
        """Fetch and store one image at one width step; concurrent asks share the one fetch."""
        key = (source_id, remote_id, kind, tag, step)
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._fetch(key, library_id))
            self._inflight[key] = task
            task.add_done_callback(functools.partial(self._fetched, key))
        # One asker giving up (a client timeout) must not cancel the fetch the others wait for.
        return asyncio.shield(task)

    def _fetched(self, key: ImageKey, task: "asyncio.Task[str]") -> None:
        self._inflight.pop(key, None)
        if not task.cancelled():
            task.exception()  # seen: every asker may have given up (asyncio would log it as lost)

    async def _fetch(self, key: ImageKey, library_id: str) -> str:
        source_id, remote_id, kind, tag, step = key
        runtime = self.coordinator.get(source_id)
        backend = runtime.backend
        if backend is None or runtime.state.status is not SourceStatus.CONNECTED:
            raise BackendUnavailable(
                f"{runtime.source.name} cannot be reached now, and this {kind} is not in the artwork cache"
            )
        request = image_request(backend, remote_id, kind, tag, step)
        started = time.monotonic()
        try:
            data = await self.fetcher.fetch(request)
            path = await self.off_loop(self._check_and_keep, key, data, request.server)
        except (NotFound, ArtworkUnavailable) as exc:
            self._failed[key[:4]] = time.monotonic()
            log.info("artwork_not_kept", source=source_id, path=request_path(request), reason=str(exc))
            raise
        self._arrived(source_id, library_id, remote_id)
        log.debug(
            "artwork_fetched",
            source=source_id,
            kind=kind,
            width=step,
            bytes=len(data),
            ms=round((time.monotonic() - started) * 1000, 1),
        )
        return path

    def _on_event(self, event: ev.Event) -> None:
        if isinstance(event, ev.SourceRemoved) and self.opened:
            # Its images say what someone had: they go with the account, not when evicted.
            task = asyncio.get_running_loop().create_task(self._forget_source(event.source_id))
            self._forgetting.add(task)
            task.add_done_callback(self._forgetting.discard)

    async def _forget_source(self, source_id: str) -> None:
        removed = await self.off_loop(self.store.forget_source, source_id)
        log.info("artwork_of_source_removed", source=source_id, images=removed)

    def _arrived(self, source_id: str, library_id: str, remote_id: str) -> None:
        """Tell clients the item changed: it has a new ``*_path`` (``Library.ItemsChanged``)."""
        self.events.emit(ev.LibraryItemsChanged(source_id, library_id, frozenset({remote_id}), frozenset()))

    def _check_and_keep(self, key: ImageKey, data: bytes, server: str) -> str:
        source_id, remote_id, kind, tag, step = key
        info = image_info(data)
        if info is None:
            raise ArtworkUnavailable(f"{server} sent something that is not an image reeld can keep")
        return self.store.put(source_id, remote_id, kind, tag, step, data, info.format)

    def failed_recently(self, source_id: str, remote_id: str, kind: str, tag: str) -> bool:
        failed_at = self._failed.get((source_id, remote_id, kind, tag))
        return failed_at is not None and time.monotonic() - failed_at < FAILED_PAUSE_S

    # -- local folders --------------------------------------------------------------------------------

    async def _local(self, source_id: str, remote_id: str, row: Any, kind: str) -> str:
        file = await self.db.read(queries.a_file_of, source_id, remote_id, row.kind)
        root = self.local_root(source_id)
        path, changed = await self.off_loop(self._local_image, source_id, remote_id, row, kind, root, file)
        if changed:
            self._arrived(source_id, row.library_id, remote_id)
        return path

    def _local_image(
        self, source_id: str, remote_id: str, row: Any, kind: str, root: str | None, file: str | None
    ) -> tuple[str, bool]:
        """A local item's image: its sidecar's copy, or (the folder away) the copy kept; and
        whether it was copied now. Blocking."""
        reachable = root is not None and os.path.isdir(root)
        if root is not None and reachable and file is not None:
            path, changed = self.copy_sidecar(source_id, remote_id, row.kind, kind, root, file, row.idx)
            if path is not None:
                return path, changed
        if reachable:
            raise NotFound(f"{row.title[:100]!r} has no {kind} image beside it")
        kept = self.store.any_sidecar(source_id, remote_id, kind)
        if kept is not None and os.path.exists(largest := self.store.largest(kept)):
            return largest, False
        raise BackendUnavailable(
            f"The folder of {row.title[:100]!r} cannot be read now, and its {kind} is not cached"
        )

    def local_root(self, source_id: str) -> str | None:
        try:
            backend = self.coordinator.backend_of(source_id)
        except ReeldError:
            return None
        root = getattr(backend, "root", None)
        return root if isinstance(root, str) else None

    async def keep_sidecar(
        self, source_id: str, remote_id: str, library_id: str, item_kind: str, kind: str, root: str, file: str
    ) -> str | None:
        """``copy_sidecar`` on the worker thread; clients hear of an image that came or went."""
        path, changed = await self.off_loop(
            self.copy_sidecar, source_id, remote_id, item_kind, kind, root, file, None
        )
        if changed:
            self._arrived(source_id, library_id, remote_id)
        return path

    def copy_sidecar(
        self,
        source_id: str,
        remote_id: str,
        item_kind: str,
        kind: str,
        root: str,
        file: str,
        season: int | None,
    ) -> tuple[str | None, bool]:
        """Copy an item's sidecar image into the cache (unless kept at its current version): its
        path there (``None`` when there is none, or it is not an image), and whether that changed
        what the cache holds. Blocking."""
        sidecar = find_sidecar(root, kind, item_kind, file, season)
        if sidecar is None:
            # the sidecar was removed (unless the whole folder is away: a disk not mounted)
            return None, os.path.isdir(root) and self.store.forget(source_id, remote_id, kind)
        kept = self.store.lookup(source_id, remote_id, kind, sidecar.tag)
        if kept is not None and os.path.exists(path := self.store.largest(kept)):
            return path, False
        try:
            data = read_sidecar(sidecar, MAX_IMAGE_BYTES + 1)
        except OSError:
            return None, False
        if data is None:  # an audio file without a cover
            return None, False
        info = image_info(data) if len(data) <= MAX_IMAGE_BYTES else None
        if info is None:
            log.info("artwork_sidecar_not_an_image", source=source_id, file=os.path.basename(sidecar.path))
            return None, False
        return self.store.put(source_id, remote_id, kind, sidecar.tag, ORIGINAL, data, info.format), True


def _nearest(paths: dict[int, str], step: int) -> str | None:
    """Of the files of an image by width step, the one closest to ``step`` that exists, larger first."""

    def distance(other: int) -> tuple[int, int]:
        wanted, have = step or 1 << 30, other or 1 << 30
        return (0 if have >= wanted else 1, abs(have - wanted))

    existing = [other for other, path in paths.items() if os.path.exists(path)]
    return paths[min(existing, key=distance)] if existing else None
