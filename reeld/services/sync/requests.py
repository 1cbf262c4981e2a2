"""Syncs asked for — by a client, the schedule, a live change — and the one to run after the sync
running now. A source is never synced twice at once: a request while it syncs either waits for
the end of that sync (a follow-up) or is covered by it."""

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from reeld.cache import queries
from reeld.cache.db import Database
from reeld.errors import CacheError
from reeld.models.source import SourceStatus
from reeld.services import events as ev
from reeld.services.source_coordinator import SourceCoordinator, SourceRuntime
from reeld.services.sync.runner import SyncRunner
from reeld.services.sync.schedule import SyncSchedule
from reeld.services.tasks import BackgroundTasks

#: Source states in which a sync cannot start until something changes (the network, a login), in
#: the words that follow a source's name.
CANNOT_SYNC = {
    SourceStatus.OFFLINE: "is offline",
    SourceStatus.NEEDS_AUTH: "needs a login",
    SourceStatus.ERROR: "has an error",
}


def not_synced_message(runtime: SourceRuntime) -> str:
    """Why a client's sync did not run: ``Not synced: Home is offline: no address answered…; trying
    again in 40 s``."""
    state = runtime.state
    reason = f": {state.status_message}" if state.message else ""
    return f"Not synced: {runtime.source.name} {CANNOT_SYNC.get(state.status, str(state.status))}{reason}"


@dataclass(frozen=True, slots=True)
class FollowUp:
    """A sync to run once the running one ends: one library (None: all), full or incremental."""

    library_id: str | None = None
    full: bool = False

    def merged(self, other: "FollowUp") -> "FollowUp":
        """One sync that covers both: a full one covers every library."""
        full = self.full or other.full
        same = self.library_id == other.library_id
        return FollowUp(None if full or not same else self.library_id, full)


class SyncRequests:
    def __init__(
        self,
        db: Database,
        coordinator: SourceCoordinator,
        events: ev.EventHub,
        tasks: BackgroundTasks,
        runner: SyncRunner,
        schedule: SyncSchedule,
    ) -> None:
        self.db = db
        self.coordinator = coordinator
        self.events = events
        self._tasks = tasks
        self.runner = runner
        self.schedule = schedule
        self._requested: dict[str, asyncio.Task[Any]] = {}
        #: Per source, the sync asked for while another ran (a live rescan, a client's full sync).
        self._follow_ups: dict[str, FollowUp] = {}
        #: Per source still connecting, a sync asked for by a client (full or not): run once connected.
        self._asked_while_connecting: dict[str, bool] = {}

    def is_syncing(self, source_id: str) -> bool:
        requested = self._requested.get(source_id)
        return self.runner.is_running(source_id) or (requested is not None and not requested.done())

    async def run(
        self,
        source_id: str,
        full: bool,
        library_id: str | None = None,
        scheduled: bool = False,
        owe: bool = False,
    ) -> bool:
        """Sync now (False at once when the source syncs already), then what was asked for meanwhile.
        ``owe``: a full sync a client asked for, stored as owed before it starts."""
        if self.runner.is_running(source_id):
            return False
        if owe:
            # Stored before the sync starts: once a client sees the source syncing, a crash cannot
            # lose the request. A cache that cannot take it (a full disk) fails the sync, which then
            # says so in SyncFinished like any other failure.
            with contextlib.suppress(CacheError):
                await self.db.write(queries.owe_full_sync, source_id)
            if self.runner.is_running(source_id):  # another sync began meanwhile: this one follows it
                self._follow_up(source_id, FollowUp(full=True))
                return False
        try:
            return await self.runner.sync(source_id, full, library_id, scheduled)
        finally:
            self._start_follow_up(source_id)  # the lock is free again

    def request_sync(
        self,
        source_id: str,
        full: bool,
        library_id: str | None = None,
        scheduled: bool = False,
        owe: bool = False,
    ) -> asyncio.Task[Any] | None:
        """Start a sync now unless one of this source is running or about to (that one goes on)."""
        if self.is_syncing(source_id) or source_id not in self.coordinator.backends:
            return None
        task = self._tasks.spawn(self.run(source_id, full, library_id, scheduled, owe))
        self._requested[source_id] = task
        return task

    def request_all(self, full: bool) -> None:
        for source_id in list(self.coordinator.runtimes):
            self.request_by_client(source_id, full)

    def request_by_client(self, source_id: str, full: bool, library_id: str | None = None) -> None:
        """A sync a client asked for: it always ends in ``SyncFinished``. A source still connecting
        syncs once connected; one that cannot sync now (offline, login needed) says so at once.
        A full sync asked for is remembered in the cache until it has run, across a crash."""
        runtime = self.coordinator.runtimes.get(source_id)
        owe = full and library_id is None and runtime is not None and runtime.state.status not in CANNOT_SYNC
        if self.request_sync(source_id, full, library_id, owe=owe) is not None:
            return
        if owe:  # to run after the sync running now, or once connected
            self._tasks.spawn(self._owe(source_id))
        if self.is_syncing(source_id):
            # The running sync goes on; a full one asked for now still runs, right after it (it is
            # the one that removes what the server deleted).
            if full and library_id is None and not self.runner.running_full(source_id):
                self._follow_up(source_id, FollowUp(full=True))
            return
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
            self._follow_up(source_id, FollowUp(library_id))

    async def _owe(self, source_id: str) -> None:
        """Store a full sync asked for as owed; a cache that cannot take it (a full disk) leaves the
        request to this run of the daemon."""
        with contextlib.suppress(CacheError):
            await self.db.write(queries.owe_full_sync, source_id)

    def asked_while_connecting(self, source_id: str) -> bool | None:
        """The sync a client asked for while the source connected (True: a full one), now taken."""
        return self._asked_while_connecting.pop(source_id, None)

    async def full_sync_owed(self, source_id: str) -> bool:
        """Whether a full sync a client asked for has not run yet (reeld stopped, or was killed)."""
        return await self.db.read(queries.full_sync_owed, source_id)

    def source_changed(self, source_id: str) -> None:
        """A source asked to sync while connecting that cannot sync now answers its client."""
        if source_id not in self._asked_while_connecting:
            return
        runtime = self.coordinator.runtimes.get(source_id)
        if runtime is not None and runtime.state.status in CANNOT_SYNC:
            del self._asked_while_connecting[source_id]
            self.events.emit(ev.SyncFinished(source_id, False, not_synced_message(runtime)))

    def _follow_up(self, source_id: str, wanted: FollowUp) -> None:
        earlier = self._follow_ups.get(source_id)
        self._follow_ups[source_id] = wanted if earlier is None else earlier.merged(wanted)

    def _start_follow_up(self, source_id: str) -> None:
        wanted = self._follow_ups.pop(source_id, None)
        if wanted is None:
            return
        if self.schedule.running and source_id in self.coordinator.backends:  # not stopping
            self._tasks.spawn(self.run(source_id, wanted.full, library_id=wanted.library_id))
