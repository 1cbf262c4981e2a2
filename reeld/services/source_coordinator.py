"""SourceCoordinator: every source a person has, what state it is in, and why.

Cached sources are shown at once, before any network or disk access. Accounts are then asked
for their sources (discovery) and each source connects in the background, with backoff, and
reports ``connecting`` / ``connected`` / ``offline`` / ``needs-auth`` / ``error`` with a reason
a person can act on. Status changes are logged once, on the transition.
"""

import asyncio
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import structlog

from reeld.aio import wait_at_most
from reeld.backends.base import MediaBackend
from reeld.backends.manager import BackendManager, BackendServices
from reeld.cache import queries
from reeld.cache.db import Database
from reeld.errors import FAULT_IN_REELD, AuthRequired, BackendUnavailable, NotFound, ReeldError
from reeld.models.auth import AuthProvider
from reeld.models.source import ConnectionKind, Source, SourceState, SourceStatus
from reeld.services import events as ev
from reeld.services.auth_manager import AuthManager
from reeld.services.backoff import Backoff
from reeld.services.tasks import BackgroundTasks

log = structlog.get_logger(__name__)

T = TypeVar("T")

COUNTS_DEBOUNCE_S = 0.3
#: A connection that lasted this long was a good one: losing it starts the backoff again from its
#: shortest pause.
STABLE_CONNECTION_S = 300.0
#: The longest pause between tries to reach a source that is away: a server back after a long
#: outage is found within this (and at once when the network changes).
MAX_RETRY_PAUSE_S = 120.0
#: Pauses grow by 30 % each try: a server back after a short outage (a restart, 47 s) is found
#: within about a quarter of the time it was away, not within as long again as doubling allows.
#: A try of a server that is away costs it a refused connection, or one request.
RETRY_GROWTH = 1.3
#: A next try closer than this is said in seconds ("in 40 s"), a later one as a time ("at 18:42").
SAY_SECONDS_BELOW_S = 90.0


@dataclass(eq=False)
class SourceRuntime:
    """Everything the daemon knows about one source while it runs."""

    source: Source
    state: SourceState
    backend: MediaBackend | None = None
    syncing: bool = False
    progress: float = 0.0
    last_sync: int = 0
    last_full_sync: int = 0
    item_count: int = 0
    libraries: list[queries.CachedLibrary] = field(default_factory=list)
    library_counts: dict[str, int] = field(default_factory=dict)
    backoff: Backoff = field(default_factory=lambda: Backoff(max_s=MAX_RETRY_PAUSE_S, factor=RETRY_GROWTH))
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    connect_task: asyncio.Task[None] | None = None
    #: Why the last sync failed, when that failure cost the connection: said again once connected,
    #: until a sync ends (a reconnected source would otherwise show no trace of it).
    sync_problem: str = ""
    #: When the source last connected (monotonic seconds; 0: not yet).
    connected_at: float = 0.0
    #: Discovery changed how to reach the source (a Plex server's addresses): the next connection
    #: makes its backend anew instead of retrying the one made from the old settings.
    settings_changed: bool = False
    #: Why live updates are unavailable while the source is connected (said in its status).
    live_problem: str = ""
    #: Watch changes made here that wait in the queue for this source's server.
    pending_changes: int = 0

    @property
    def id(self) -> str:
        return self.source.id


#: A source in these states is retried in the background, and keeps its status and the reason
#: while it is: flipping to "connecting" at every attempt would hide why it is down.
RETRYING = (SourceStatus.OFFLINE, SourceStatus.ERROR)


class SourceCoordinator:
    def __init__(
        self,
        db: Database,
        auth: AuthManager,
        backends: BackendManager,
        events: ev.EventHub,
        services: BackendServices,
    ) -> None:
        self.db = db
        self.auth = auth
        self.backends = backends
        self.events = events
        self.services = services
        self.runtimes: dict[str, SourceRuntime] = {}
        self._tasks = BackgroundTasks()
        self._discovery_backoff: dict[str, Backoff] = {}
        # New accounts until their first discovery has run (AddLocalFolder waits for it).
        self._first_discovery: dict[str, asyncio.Event] = {}
        self._discovery_messages: dict[str, str] = {}
        self._counts_pending = False
        # Two reads of the counts may finish out of order (the cache has several reader threads):
        # one at a time, so an older read never overwrites a newer one.
        self._counts_lock = asyncio.Lock()
        self._stopping = False

    # -- lookups -----------------------------------------------------------------------------

    def get(self, source_id: str) -> SourceRuntime:
        try:
            return self.runtimes[source_id]
        except KeyError:
            raise NotFound(f"No source {source_id!r}") from None

    def backend_of(self, source_id: str) -> MediaBackend:
        """The source's backend, made now if it has not connected yet (it may not be connected:
        building a stream URL from cached data needs no connection)."""
        runtime = self.get(source_id)
        if runtime.backend is None:
            account = self.auth.get(runtime.source.account_id)
            runtime.backend = self.backends.kind_for(account).create_backend(
                runtime.source, account, self.services
            )
        return runtime.backend

    def sources_of(self, account_id: str) -> list[SourceRuntime]:
        return [rt for rt in self.runtimes.values() if rt.source.account_id == account_id]

    # -- startup -----------------------------------------------------------------------------

    def load_cached(self) -> None:
        """Put every cached source on the books, synchronously: it runs before the bus is served."""
        cached = self.db.read_now(queries.load_sources)
        times = self.db.read_now(queries.source_times)
        per_source, per_library = self.db.read_now(queries.item_counts)
        pending = self.db.read_now(queries.pending_counts)
        libraries = self.db.read_now(queries.load_libraries)
        for source in cached:
            if source.account_id not in self.auth.accounts:
                continue  # an account removed while the daemon was down; swept in start()
            runtime = SourceRuntime(source, SourceState(SourceStatus.CONNECTING, "Waiting to connect"))
            runtime.last_sync = times[source.id].last_sync
            runtime.last_full_sync = times[source.id].last_full_sync
            runtime.item_count = per_source.get(source.id, 0)
            runtime.pending_changes = pending.get(source.id, 0)
            runtime.libraries = [lib for lib in libraries if lib.source_id == source.id]
            runtime.library_counts = {
                lib.library.remote_id: per_library.get((source.id, lib.library.remote_id), 0)
                for lib in runtime.libraries
            }
            self.runtimes[source.id] = runtime
        self.backends.set_order(list(self.runtimes))

    async def start(self) -> None:
        """Sweep orphans, then discover every account's sources and connect them, in the background."""
        orphans = [
            s for s in await self.db.read(queries.load_sources) if s.account_id not in self.auth.accounts
        ]
        for source in orphans:
            await self.db.write(queries.delete_source, source.id)
        for account in list(self.auth.accounts.values()):
            self.spawn(self._discover_loop(account))
        # Cached sources connect now, on what the cache knows of them: discovery (plex.tv, slow or
        # down) updates them when it answers, but must not hold them back.
        for runtime in list(self.runtimes.values()):
            self._ensure_connecting(runtime)

    def spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        return self._tasks.spawn(coro)

    async def stop(self) -> None:
        self._stopping = True
        await self._tasks.cancel_all()
        await self.backends.aclose()

    # -- accounts ------------------------------------------------------------------------------

    async def add_account(self, account: AuthProvider, secrets: dict[str, str] | None = None) -> None:
        """Add an account, or renew one (a person logging in again): its sources reconnect with it."""
        renewed = account.id in self.auth.accounts
        await self.auth.add(account, secrets)
        if not renewed:
            self.events.emit(ev.AccountAdded(account.id))
            self._first_discovery[account.id] = asyncio.Event()
            self.spawn(self._discover_loop(account))
            return
        self.auth.set_status(account.id, False, "")
        self.events.emit(ev.AccountChanged(account.id))
        for runtime in self.sources_of(account.id):
            if self.backends.unregister(runtime.id) is not None:
                self.events.emit(ev.SourceDisconnected(runtime.id))
            if runtime.backend is not None:
                await runtime.backend.aclose()
                runtime.backend = None  # made again, with the new credentials
            self._set_state(runtime, SourceState(SourceStatus.CONNECTING, "Connecting"))
            runtime.backoff.reset()
            self._ensure_connecting(runtime)
        self.refresh_account(account.id)

    async def remove_account(self, account_id: str) -> None:
        account = self.auth.get(account_id)
        for runtime in self.sources_of(account_id):
            await self.remove_source(runtime.id)  # with each source's own secrets
        await self.auth.remove(account_id, secret_names=("token", "password"))
        self.events.emit(ev.AccountRemoved(account.id))

    async def first_discovery(self, account_id: str, timeout_s: float) -> None:
        """Wait (at most ``timeout_s``) until a new account's first discovery has run: its sources
        are then on the bus. Discovery goes on in the background either way."""
        first = self._first_discovery.get(account_id)
        if first is not None:
            await wait_at_most(first, timeout_s)

    def refresh_account(self, account_id: str) -> None:
        account = self.auth.get(account_id)
        self.spawn(self._discover_once(account))

    async def _discover_loop(self, account: AuthProvider) -> None:
        """Discover until it works (with backoff), then again now and then for new servers."""
        backoff = self._discovery_backoff.setdefault(account.id, Backoff(first_s=5, max_s=900))
        while account.id in self.auth.accounts and not self._stopping:
            ok = await self._discover_once(account)
            if (first := self._first_discovery.pop(account.id, None)) is not None:
                first.set()
            delay = 3600.0 if ok else backoff.next_delay()
            if ok:
                backoff.reset()
            await asyncio.sleep(delay)

    async def _discover_once(self, account: AuthProvider) -> bool:
        kind = self.backends.kind_for(account)
        try:
            found = await kind.discover(account, self.services)
        except AuthRequired as exc:
            self._account_needs_auth(account.id, str(exc))
            return True  # retrying cannot help; a person must act
        except ReeldError as exc:
            self._discovery_failed(account, str(exc))
            return False
        except Exception:
            log.exception("discovery_crashed", account=account.id)
            self._discovery_failed(account, f"Discovery failed unexpectedly: {FAULT_IN_REELD}")
            return False
        if not found.complete:
            self._discovery_failed(account, found.message)
        else:
            self._discovery_messages.pop(account.id, None)
            self.auth.set_status(account.id, False, "")
            self.events.emit(ev.AccountChanged(account.id))
        await self._reconcile(account, found.sources, remove_missing=found.complete)
        return found.complete

    def _discovery_failed(self, account: AuthProvider, message: str) -> None:
        self._discovery_messages[account.id] = message
        self.auth.set_status(account.id, False, message)
        self.events.emit(ev.AccountChanged(account.id))
        # Cached sources stay and keep trying their known addresses; make sure they are trying.
        for runtime in self.sources_of(account.id):
            self._ensure_connecting(runtime)

    def _account_needs_auth(self, account_id: str, message: str) -> None:
        self.auth.set_status(account_id, True, message)
        self.events.emit(ev.AccountChanged(account_id))
        for runtime in self.sources_of(account_id):
            self._set_state(runtime, SourceState(SourceStatus.NEEDS_AUTH, message))

    async def _reconcile(self, account: AuthProvider, found: list[Source], remove_missing: bool) -> None:
        found_ids = {source.id for source in found}
        for source in found:
            runtime = self.runtimes.get(source.id)
            if runtime is None:
                await self.db.write(queries.save_source, source)
                runtime = SourceRuntime(source, SourceState(SourceStatus.CONNECTING, "Connecting"))
                self.runtimes[source.id] = runtime
                self.events.emit(ev.SourceAdded(source.id))
                log.info("source_added", source=source.id, kind=source.kind, name=source.name)
            elif _source_changed(runtime.source, source):
                # Keep what the connection chose (address, kind) until it chooses again.
                merged = Source(
                    source.id,
                    source.account_id,
                    source.kind,
                    source.name,
                    runtime.source.address,
                    runtime.source.connection_kind,
                    source.settings,
                )
                runtime.source = merged
                runtime.settings_changed = True
                await self.db.write(queries.save_source, merged)
                self.events.emit(ev.SourceChanged(source.id))
            self._ensure_connecting(runtime)
        if remove_missing:
            for runtime in self.sources_of(account.id):
                if runtime.id not in found_ids:
                    await self.remove_source(runtime.id)

    async def remove_source(self, source_id: str) -> None:
        runtime = self.runtimes.pop(source_id, None)
        if runtime is None:
            return
        if runtime.connect_task is not None:
            runtime.connect_task.cancel()
        backend = self.backends.unregister(source_id)
        self.events.emit(ev.SourceDisconnected(source_id))
        if backend is not None:
            await backend.aclose()
        await self.db.write(queries.delete_source, source_id)
        account = self.auth.accounts.get(runtime.source.account_id)
        if account is not None and account.needs_secret:
            kind = self.backends.kind_for(account)
            names = kind.source_secret_names(runtime.source)
            await self.auth.delete_secrets(account, names)
            kind.secrets_deleted(account.id, names)
        self.events.emit(ev.SourceRemoved(source_id))
        log.info("source_removed", source=source_id)

    # -- connections -------------------------------------------------------------------------

    def _ensure_connecting(self, runtime: SourceRuntime, after_loss: bool = False) -> None:
        """Connect in the background, now, or after a loss (``after_loss``) once the backoff's pause
        is over: connecting again at once would find the server answering and fail the same way."""
        if runtime.id in self.backends:
            return
        if runtime.connect_task is None or runtime.connect_task.done():
            first_delay_s = runtime.backoff.next_delay() if after_loss else 0.0
            runtime.connect_task = self.spawn(self._connect_loop(runtime, first_delay_s))
        elif not after_loss:
            runtime.wake.set()

    def reconnect(self, source_id: str) -> None:
        """Drop the connection (if any) and connect again now, choosing the address anew."""
        runtime = self.get(source_id)
        if source_id in self.backends:
            self.backends.unregister(source_id)
            self.events.emit(ev.SourceDisconnected(source_id))
        self._set_state(runtime, SourceState(SourceStatus.CONNECTING, "Connecting"))  # asked for: say so
        runtime.backoff.reset()
        self._ensure_connecting(runtime)
        runtime.wake.set()

    def try_now(self, source_id: str) -> None:
        """A person wants this source (a sync asked for): if it is away, try to reach it now
        rather than at the end of the backoff's pause (a login it needs cannot be tried)."""
        runtime = self.runtimes.get(source_id)
        if runtime is not None and runtime.state.status in RETRYING:
            self._ensure_connecting(runtime)

    def reconnect_movable(self) -> None:
        """The network changed: connect again every connected source that chooses among addresses
        (the best one may differ on this network: the LAN at home, the remote one away)."""
        for runtime in list(self.runtimes.values()):
            if (
                runtime.backend is not None
                and runtime.backend.chooses_address
                and runtime.id in self.backends
            ):
                self.reconnect(runtime.id)

    def reconnect_offline(self) -> None:
        """The network came back: try every source that is not connected now."""
        for runtime in list(self.runtimes.values()):
            if runtime.state.status in (SourceStatus.OFFLINE, SourceStatus.ERROR, SourceStatus.CONNECTING):
                runtime.backoff.reset()
                self._ensure_connecting(runtime)
                runtime.wake.set()

    async def _connect_loop(self, runtime: SourceRuntime, first_delay_s: float = 0.0) -> None:
        if first_delay_s:
            runtime.wake.clear()
            await self._pause_before_retry(runtime, first_delay_s)
        while runtime.id in self.runtimes and not self._stopping:
            runtime.wake.clear()
            if await self._connect_once(runtime):
                return
            if runtime.state.status is SourceStatus.NEEDS_AUTH:
                return
            await self._pause_before_retry(runtime, runtime.backoff.next_delay())

    async def _pause_before_retry(self, runtime: SourceRuntime, delay_s: float) -> None:
        """Wait ``delay_s`` (or until woken: the network changed, a person asked), with the status
        saying when the next try is. A wake that came during the last try is not lost."""
        if runtime.state.status in RETRYING:
            next_retry = time.time() + delay_s
            note = f"trying again {_when(next_retry, delay_s)}"
            self._set_state(runtime, replace(runtime.state, next_retry=int(next_retry), retry_note=note))
        await wait_at_most(runtime.wake, delay_s)
        if runtime.state.next_retry:  # trying now: no try is planned while this one runs
            self._set_state(runtime, replace(runtime.state, next_retry=0, retry_note=""))

    async def _connect_once(self, runtime: SourceRuntime) -> bool:
        account = self.auth.accounts.get(runtime.source.account_id)
        if account is None:
            return True
        if runtime.state.status not in (SourceStatus.CONNECTED, *RETRYING):
            self._set_state(runtime, SourceState(SourceStatus.CONNECTING, "Connecting"))
        if runtime.backend is not None and runtime.settings_changed:
            await runtime.backend.aclose()
            runtime.backend = None
        runtime.settings_changed = False
        try:
            if runtime.backend is None:
                runtime.backend = self.backends.kind_for(account).create_backend(
                    runtime.source, account, self.services
                )
            await runtime.backend.initialize()
        except AuthRequired as exc:
            self._set_state(runtime, SourceState(SourceStatus.NEEDS_AUTH, str(exc)))
            self.auth.set_status(account.id, True, str(exc))
            self.events.emit(ev.AccountChanged(account.id))
            return False
        except BackendUnavailable as exc:
            self._set_state(
                runtime, SourceState(SourceStatus.OFFLINE, self._with_discovery_note(runtime, str(exc)))
            )
            return False
        except ReeldError as exc:
            self._set_state(runtime, SourceState(SourceStatus.ERROR, str(exc)))
            return False
        except Exception:
            log.exception("connect_crashed", source=runtime.id)
            self._set_state(
                runtime, SourceState(SourceStatus.ERROR, f"Connecting failed unexpectedly: {FAULT_IN_REELD}")
            )
            return False
        backend = runtime.backend
        runtime.connected_at = time.monotonic()
        runtime.live_problem = ""  # live updates start anew with this connection
        # The backoff is not reset here, but once a sync succeeds or the connection has lasted: a
        # server that answers the connection check and fails every sync (HTTP 503 from a proxy,
        # cut-off pages) would otherwise be asked again at once, many times a second.
        await self._remember_address(runtime, backend.address, backend.connection_kind)
        self.backends.register(backend)
        self._set_state(
            runtime,
            SourceState(
                SourceStatus.CONNECTED, _connected_message(runtime), backend.address, backend.connection_kind
            ),
        )
        self.events.emit(ev.SourceConnected(runtime.id))
        return True

    def _with_discovery_note(self, runtime: SourceRuntime, message: str) -> str:
        note = self._discovery_messages.get(runtime.source.account_id)
        return f"{message} ({note})" if note else message

    async def _remember_address(self, runtime: SourceRuntime, address: str, kind: ConnectionKind) -> None:
        if (runtime.source.address, runtime.source.connection_kind) == (address, kind):
            return
        source = runtime.source
        runtime.source = Source(
            source.id, source.account_id, source.kind, source.name, address, kind, source.settings
        )
        await self.db.write(queries.save_source, runtime.source)

    def connection_lost(self, source_id: str, exc: ReeldError, during_sync: bool = False) -> None:
        """A sync or a live update found the source gone or the credentials rejected."""
        runtime = self.runtimes.get(source_id)
        if runtime is None:
            return
        if during_sync:
            runtime.sync_problem = str(exc)
        if self.backends.unregister(source_id) is not None:
            self.events.emit(ev.SourceDisconnected(source_id))
        if isinstance(exc, AuthRequired):
            self._set_state(runtime, SourceState(SourceStatus.NEEDS_AUTH, str(exc)))
            self.auth.set_status(runtime.source.account_id, True, str(exc))
            self.events.emit(ev.AccountChanged(runtime.source.account_id))
            return
        status = SourceStatus.OFFLINE if isinstance(exc, BackendUnavailable) else SourceStatus.ERROR
        self._set_state(runtime, SourceState(status, str(exc)))
        if runtime.connected_at and time.monotonic() - runtime.connected_at > STABLE_CONNECTION_S:
            runtime.backoff.reset()  # a loss after a long good run starts again with a short pause
        self._ensure_connecting(runtime, after_loss=True)

    def sync_result(self, source_id: str, problem: str) -> None:
        """A connected source's sync ended: its status message says what went wrong, or nothing."""
        runtime = self.runtimes.get(source_id)
        if runtime is None or runtime.state.status is not SourceStatus.CONNECTED:
            return
        runtime.sync_problem = problem
        if not problem:
            runtime.backoff.reset()  # healthy again: a later failure starts with a short wait
        self._set_state(runtime, replace(runtime.state, message=_connected_message(runtime)))

    def live_updates_problem(self, source_id: str, problem: str) -> None:
        """A connected source's live updates are unavailable (``problem`` says why and what
        happens meanwhile), or work again (``problem`` empty)."""
        runtime = self.runtimes.get(source_id)
        if runtime is None or runtime.live_problem == problem:
            return
        runtime.live_problem = problem
        if runtime.state.status is SourceStatus.CONNECTED:
            self._set_state(runtime, replace(runtime.state, message=_connected_message(runtime)))

    def pending_changed(self, source_id: str, count: int) -> None:
        """How many watch changes wait in the queue for the source's server now."""
        runtime = self.runtimes.get(source_id)
        if runtime is not None and runtime.pending_changes != count:
            runtime.pending_changes = count
            self.events.emit(ev.SourceChanged(source_id))

    def _set_state(self, runtime: SourceRuntime, state: SourceState) -> None:
        if runtime.state == state:
            return
        if runtime.state.status is not state.status:
            log.info("source_status", source=runtime.id, status=str(state.status), reason=state.message)
        runtime.state = state
        self.events.emit(ev.SourceChanged(runtime.id))

    # -- counts and sync bookkeeping -------------------------------------------------------------

    def counts_changed(self) -> None:
        """Item counts may have changed; re-read them soon (debounced, off the loop)."""
        if self._counts_pending:
            return
        self._counts_pending = True
        asyncio.get_running_loop().call_later(COUNTS_DEBOUNCE_S, self._refresh_counts_soon)

    def _refresh_counts_soon(self) -> None:
        if not self._stopping:  # the cache closes after stop(): a late timer must not read it
            self.spawn(self.refresh_counts())

    async def refresh_counts(self) -> None:
        """Re-read item counts now and publish what changed."""
        self._counts_pending = False
        async with self._counts_lock:
            per_source, per_library = await self.db.read(queries.item_counts)
            libraries = await self.db.read(queries.load_libraries)
            self._apply_counts(per_source, per_library, libraries)

    def _apply_counts(
        self,
        per_source: dict[str, int],
        per_library: dict[tuple[str, str], int],
        libraries: list[queries.CachedLibrary],
    ) -> None:
        for runtime in self.runtimes.values():
            counts = {
                lib.library.remote_id: per_library.get((runtime.id, lib.library.remote_id), 0)
                for lib in libraries
                if lib.source_id == runtime.id
            }
            new_libs = [lib for lib in libraries if lib.source_id == runtime.id]
            libs_changed = [lib.library for lib in new_libs] != [lib.library for lib in runtime.libraries]
            changed = runtime.item_count != per_source.get(runtime.id, 0) or counts != runtime.library_counts
            runtime.item_count = per_source.get(runtime.id, 0)
            runtime.library_counts = counts
            times_changed = [lib.last_sync for lib in new_libs] != [
                lib.last_sync for lib in runtime.libraries
            ]
            runtime.libraries = new_libs
            if libs_changed or changed or times_changed:
                self.events.emit(ev.LibrariesChanged(runtime.id))
            if changed:
                self.events.emit(ev.SourceChanged(runtime.id))


def _connected_message(runtime: SourceRuntime) -> str:
    """A connected source's status message: what the last sync and live updates ran into, if anything."""
    problems = [
        f"The last sync failed: {runtime.sync_problem}" if runtime.sync_problem else "",
        runtime.live_problem,
    ]
    return "; ".join(problem for problem in problems if problem)


def _when(at: float, delay_s: float) -> str:
    """``in 40 s`` or ``at 18:42`` (local time): when the next try is, as a person reads it."""
    if delay_s < SAY_SECONDS_BELOW_S:
        return f"in {max(1, round(delay_s))} s"
    return time.strftime("at %H:%M", time.localtime(at))


def _source_changed(old: Source, new: Source) -> bool:
    return (old.name, old.settings, old.kind) != (new.name, new.settings, new.kind)
