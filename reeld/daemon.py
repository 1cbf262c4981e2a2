"""The daemon's core: the services wired together, and the operations the bus exposes.

Bus objects are thin: they convert arguments, call one method here, convert the answer.
Everything a client can do goes through this class, so tests and other front ends can drive it
without D-Bus.
"""

import asyncio
import importlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

import structlog

from reeld.artwork.service import Artwork
from reeld.artwork.store import KINDS as ARTWORK_KINDS
from reeld.artwork.store import ArtworkStore
from reeld.backends.base import PlaybackState
from reeld.backends.jellyfin.kind import JellyfinKind
from reeld.backends.local.kind import LocalKind, local_account
from reeld.backends.manager import BackendKind, BackendManager, BackendServices
from reeld.backends.plex.kind import PlexKind
from reeld.cache import browse, queries
from reeld.cache.changes import LibraryChanges
from reeld.cache.db import Database
from reeld.config import Paths
from reeld.errors import (
    FAULT_IN_REELD,
    AuthRequired,
    BackendUnavailable,
    InvalidArgument,
    NotFound,
    NotSupported,
    ReeldError,
)
from reeld.models.auth import AuthProvider, LocalFiles
from reeld.models.media import PLAYABLE_KINDS, ItemKind, MediaItem
from reeld.models.playback import PlaybackInfo, StreamOptions
from reeld.models.source import SourceStatus
from reeld.services import events as ev
from reeld.services.activity import ClientActivity
from reeld.services.auth_manager import AuthManager
from reeld.services.browsing import LibraryBrowser
from reeld.services.network import NetworkMonitor
from reeld.services.playback import PlaybackService
from reeld.services.secrets import SecretStore
from reeld.services.source_coordinator import SourceCoordinator
from reeld.services.sync_manager import SyncManager
from reeld.text import with_article
from reeld.validation import check_choice, check_folder, check_limit, check_text, check_token, check_url

log = structlog.get_logger(__name__)

T = TypeVar("T")
K = TypeVar("K", bound=BackendKind)

SORTS = ("title", "added", "year", "rating")
#: Library orders for paging are only (re)built once the cache has not been written for this long.
QUIET_BEFORE_INDEXING_S = 2.0
PLAYBACK_STATES = tuple(str(state) for state in PlaybackState)


class Lifecycle(Enum):
    CREATED = "created"  # nothing opened yet
    STARTED = "started"  # cache open, cached sources known: reads work
    RUNNING = "running"  # discovery, connections and schedules under way
    STOPPED = "stopped"  # everything closed; using the daemon again is a bug


@dataclass(frozen=True, slots=True)
class ItemRef:
    """An item id as clients see it: ``<source id>:<remote id>``."""

    source_id: str
    remote_id: str

    @classmethod
    def parse(cls, item_id: str) -> "ItemRef":
        check_text(item_id, "item id")
        source_id, sep, remote_id = item_id.partition(":")
        if not sep or not source_id or not remote_id:
            raise NotFound(f"No item {item_id[:100]!r}")
        return cls(source_id, remote_id)

    def __str__(self) -> str:
        return f"{self.source_id}:{self.remote_id}"


LoginResult = tuple[AuthProvider, dict[str, str]]


class Daemon:
    def __init__(
        self,
        paths: Paths,
        *,
        db: Database | None = None,
        secrets: SecretStore | None = None,
        kinds: list[BackendKind] | None = None,
        watch_network: bool = True,
    ) -> None:
        self.paths = paths
        self.lifecycle = Lifecycle.CREATED
        self.events = ev.EventHub()
        self.db = db or Database(paths.cache_file)
        self.db.on_changes = self._on_cache_changes
        self.auth = AuthManager(paths, secrets)
        self.backends = BackendManager(kinds if kinds is not None else default_kinds())
        self.services = BackendServices(
            secret=self.auth.secret, store_secret=self.auth.store_secret, install_fact=self.install_fact
        )
        self.coordinator = SourceCoordinator(self.db, self.auth, self.backends, self.events, self.services)
        #: When clients last called: artwork prefetch and syncs give way while they are busy.
        self.activity = ClientActivity()
        self.sync = SyncManager(
            self.db, self.coordinator, self.events, self.auth.config.sync, self.activity.give_way
        )
        self.playback = PlaybackService(self.db, self.coordinator, self.auth.config.playback)
        self.network = NetworkMonitor(self._on_network_change) if watch_network else None
        self._logins: dict[str, asyncio.Task[None]] = {}
        self.page_index = browse.PageIndex()
        self.recent_searches = browse.RecentSearches()
        self.browser = LibraryBrowser(
            self.db, self.coordinator.spawn, QUIET_BEFORE_INDEXING_S, self.page_index
        )
        self.artwork = Artwork(
            ArtworkStore(paths.artwork_dir, 0), self.db, self.coordinator, self.events, self.activity
        )
        self._warming: asyncio.Task[None] | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the cache and load accounts and cached sources: enough to answer every read."""
        await self.db.open()
        await self.auth.load()
        self.sync.settings = self.auth.config.sync
        self.playback.settings = self.auth.config.playback
        await self.artwork.start(self.auth.config.artwork.max_mb * 1024 * 1024)
        self.coordinator.load_cached()
        self.lifecycle = Lifecycle.STARTED

    async def run(self) -> None:
        """Start discovery, connections, schedules and network watching in the background."""
        # Importing these takes ~60 ms of Python; in a thread, the loop keeps answering the first
        # clients meanwhile (the GIL switches every few milliseconds).
        await asyncio.to_thread(_preload, BACKGROUND_MODULES)
        self.sync.start_schedule()
        await self.coordinator.start()
        self._schedule_warm()
        if self.network is not None:
            self.coordinator.spawn(self.network.start())
        self.lifecycle = Lifecycle.RUNNING

    async def stop(self) -> None:
        for task in self._logins.values():
            task.cancel()
        await self.sync.stop()
        await self.artwork.stop()
        await self.coordinator.stop()
        if self.network is not None:
            await self.network.stop()
        await self.db.close()
        self.lifecycle = Lifecycle.STOPPED

    @property
    def online(self) -> bool:
        return self.network.online if self.network is not None else True

    @property
    def syncing(self) -> bool:
        return any(rt.syncing for rt in self.coordinator.runtimes.values())

    def _on_network_change(self, online: bool) -> None:
        self.events.emit(ev.OnlineChanged(online))
        if online:
            self.coordinator.reconnect_offline()
            self.coordinator.reconnect_movable()

    def _on_cache_changes(self, changes: list[LibraryChanges]) -> None:
        """Every write's changed items, told per library (the bus sends them as ``ItemsChanged``)."""
        for change in changes:
            self.events.emit(
                ev.LibraryItemsChanged(
                    change.source_id,
                    change.library_id,
                    frozenset(change.changed),
                    frozenset(change.removed),
                    change.reload,
                )
            )

    async def install_fact(self, key: str, make: Callable[[], str]) -> str:
        return await self.db.write(queries.install_fact, key, make)

    # -- accounts ---------------------------------------------------------------------------------

    async def add_local_folder(self, path: str) -> str:
        added = [
            Path(account.path) for account in self.auth.accounts.values() if isinstance(account, LocalFiles)
        ]
        folder = await asyncio.to_thread(folder_to_add, path, added)  # the file system can be slow (NFS)
        account = local_account(folder)
        if account.id not in self.auth.accounts:
            await self.coordinator.add_account(account)
            # A folder's source is found without a network: have it on the bus before answering, so a
            # client can use the source the moment it has the account.
            await self.coordinator.first_discovery(account.id, timeout_s=10)
        return account.id

    async def add_account(self, account: AuthProvider, secrets: dict[str, str]) -> str:
        """Add (or update the credentials of) an account a kind has logged in."""
        await self.coordinator.add_account(account, secrets)
        return account.id

    async def remove_account(self, account_id: str) -> None:
        await self.coordinator.remove_account(account_id)

    def refresh_account(self, account_id: str) -> None:
        self.coordinator.refresh_account(account_id)

    def begin_login(self, finish: Callable[[], Awaitable[LoginResult]]) -> str:
        """Run a login flow (PIN, Quick Connect) in the background; ``LoginFinished`` tells how it ended."""
        login_id = uuid.uuid4().hex
        self._logins[login_id] = asyncio.get_running_loop().create_task(self._run_login(login_id, finish))
        return login_id

    async def _run_login(self, login_id: str, finish: Callable[[], Awaitable[LoginResult]]) -> None:
        try:
            account, secrets = await finish()
            await self.add_account(account, secrets)
        except ReeldError as exc:
            self.events.emit(ev.LoginFinished(login_id, None, str(exc)))
        except Exception:
            log.exception("login_crashed")
            self.events.emit(
                ev.LoginFinished(login_id, None, f"The login failed unexpectedly: {FAULT_IN_REELD}")
            )
        else:
            self.events.emit(ev.LoginFinished(login_id, account.id, ""))
        finally:
            self._logins.pop(login_id, None)

    def cancel_login(self, login_id: str) -> None:
        task = self._logins.pop(check_text(login_id, "login id", 64), None)
        if task is None:
            raise NotFound(f"No login {login_id[:64]!r} in progress")
        # Said here, not by the task: a task cancelled before it first ran never reaches its handlers.
        task.cancel()
        self.events.emit(ev.LoginFinished(login_id, None, "The login was cancelled"))

    async def add_jellyfin_account(self, server_url: str, username: str, password: str) -> str:
        url = check_url(server_url)
        check_text(username, "user name", 256)
        if len(password) > 1024:  # an empty password is valid: Jellyfin users may have none
            raise InvalidArgument("password is too long")
        account, secrets = await self._kind(JellyfinKind).login_with_password(
            url, username, password, self.services
        )
        return await self.add_account(account, secrets)

    async def begin_jellyfin_quick_connect(self, server_url: str) -> tuple[str, str]:
        url = check_url(server_url)
        code, finish = await self._kind(JellyfinKind).begin_quick_connect(url, self.services)
        return self.begin_login(finish), code

    def _kind(self, kind_type: type[K]) -> K:
        """The daemon's kind of that type (its login methods); ``NotSupported`` when not enabled."""
        kind = self.backends.kinds.get(kind_type.account_kind)
        if not isinstance(kind, kind_type):
            raise NotSupported(
                f"{str(kind_type.account_kind).title()} accounts are not enabled in this daemon"
            )
        return kind

    async def begin_plex_login(self) -> tuple[str, str, str]:
        """Start a PIN login: ``(login id, code, URL to approve it at)``; ``LoginFinished`` tells the end."""
        code, url, finish = await self._kind(PlexKind).begin_pin_login(self.services)
        return self.begin_login(finish), code, url

    async def add_plex_account(self, token: str) -> str:
        token = check_token(token, "Plex token")  # before anything is sent: a header cannot carry it
        account, secrets = await self._kind(PlexKind).login_with_token(token, self.services)
        return await self.add_account(account, secrets)

    # -- sync -------------------------------------------------------------------------------------

    def sync_all(self, full: bool) -> None:
        self.sync.request_all(full)

    def sync_source(self, source_id: str, full: bool) -> None:
        self.coordinator.get(source_id)
        self.sync.request_by_client(source_id, full)

    def sync_library(self, source_id: str, library_id: str) -> None:
        self.coordinator.get(source_id)
        self.sync.request_by_client(source_id, False, library_id=library_id)

    def reconnect(self, source_id: str) -> None:
        self.coordinator.reconnect(source_id)

    # -- reads (cache only, never the network) ----------------------------------------------------------

    # Reads take ``present``: how to turn the rows into what the caller sends (D-Bus dictionaries),
    # done on the reader thread with the query, so the event loop never does per-row work.

    async def list_items(
        self,
        source_id: str,
        library_id: str,
        offset: int,
        limit: int,
        sort: str,
        present: Callable[[Sequence[Any]], T],
    ) -> T:
        sort = check_choice(sort or "title", SORTS, "sort")
        check_limit(limit)

        def page(conn: Any) -> Sequence[Any]:
            order = self.page_index.order(conn, self.db.generation, False, source_id, library_id, sort)
            counts = self.page_index.counts(self.db.generation, source_id)
            return browse.list_library(conn, source_id, library_id, offset, limit, sort, order, counts)

        result = await self._read(present, page)
        if not self.page_index.current(self.db.generation, source_id, library_id, sort):
            self._schedule_warm()
        return result

    async def search(self, query: str, limit: int, present: Callable[[Sequence[Any]], T]) -> T:
        check_text(query, "search text", 500)
        limit = check_limit(limit)
        generation = self.db.generation
        counts = self.page_index.all_counts(generation)
        return await self._read(
            present, browse.search, query, limit, self.recent_searches, generation, counts
        )

    async def continue_watching(self, limit: int, present: Callable[[Sequence[Any]], T]) -> T:
        return await self._read(present, browse.continue_watching, check_limit(limit))

    async def recently_added(self, limit: int, present: Callable[[Sequence[Any]], T]) -> T:
        return await self._read(present, browse.recently_added, check_limit(limit))

    async def query_library(
        self,
        source_id: str,
        library_id: str,
        raw_filter: Mapping[str, tuple[str, Any]],
        offset: int,
        limit: int,
        sort: str,
        present: Callable[[Sequence[Any]], T],
    ) -> tuple[T, int]:
        """A page of a library's items matching a filter (``{key: (D-Bus type, value)}``), and how many match."""
        return await self.browser.query(source_id, library_id, raw_filter, offset, limit, sort, present)

    async def next_up(self, limit: int, present: Callable[[Sequence[Any]], T]) -> T:
        return await self.browser.next_up(limit, present)

    def _schedule_warm(self) -> None:
        if self._warming is None or self._warming.done():
            self._warming = self.coordinator.spawn(self._warm_page_index())

    async def _warm_page_index(self) -> None:
        """(Re)build the libraries' paging orders in the background once the cache is quiet.

        Pages never wait for an order: without a current one they page by OFFSET.
        """
        # Polls the write clock: writes come from a thread, and an event per write would cost more.
        while (quiet_for := time.monotonic() - self.db.last_change) < QUIET_BEFORE_INDEXING_S:  # noqa: ASYNC110
            await asyncio.sleep(QUIET_BEFORE_INDEXING_S - quiet_for)
        for runtime in list(self.coordinator.runtimes.values()):
            for cached in runtime.libraries:
                for sort in SORTS:
                    library_id = cached.library.remote_id
                    await self.db.read(
                        self.page_index.order, self.db.generation, True, runtime.id, library_id, sort
                    )

    async def _read(
        self, present: Callable[[Sequence[Any]], T], query: Callable[..., Sequence[Any]], *args: Any
    ) -> T:
        def read_and_present(conn: Any) -> T:
            return present(query(conn, *args))

        read_and_present.__name__ = query.__name__
        return await self.db.read(read_and_present)

    async def get_item(self, item_id: str) -> Any:
        ref = self._known_item(item_id)
        row = await self.db.read(browse.get_item, ref.source_id, ref.remote_id)
        if row is None:
            raise NotFound(f"No item {item_id[:100]!r}")
        return row

    async def get_children(self, item_id: str, present: Callable[[Sequence[Any]], T]) -> T:
        await self.get_item(item_id)
        ref = ItemRef.parse(item_id)
        return await self._read(present, browse.get_children, ref.source_id, ref.remote_id)

    def _known_item(self, item_id: str) -> ItemRef:
        ref = ItemRef.parse(item_id)
        if ref.source_id not in self.coordinator.runtimes:
            raise NotFound(f"No item {item_id[:100]!r}")
        return ref

    async def get_artwork(self, item_id: str, kind: str, width: int) -> str:
        """The path of an item's image in the artwork cache, fetched now if it must be."""
        check_choice(kind, ARTWORK_KINDS, "artwork kind")  # a bad argument before an unknown item
        ref = self._known_item(item_id)
        return await self.artwork.get(ref.source_id, ref.remote_id, kind, width)

    # -- playback and watch state -------------------------------------------------------------------

    async def stream_url(self, item_id: str) -> str:
        row = await self._playable_item(item_id, "a file to play")
        self._check_reachable(row.source_id)
        backend = self.coordinator.backend_of(row.source_id)
        return await backend.get_stream_url(media_item_from_row(row))

    def _check_reachable(self, source_id: str) -> None:
        """Raise the contract's error when the source's server cannot be reached now, rather than
        hand out a URL no player can open. A folder of local files answers for itself (a file that
        is there plays even while the folder's source is away), and a source still connecting may be
        there: its URL is given."""
        runtime = self.coordinator.get(source_id)
        state, name = runtime.state, runtime.source.name
        if runtime.source.kind == "local" or state.status in (
            SourceStatus.CONNECTED,
            SourceStatus.CONNECTING,
        ):
            return
        why = state.message.rstrip(".") or str(state.status)
        if state.status is SourceStatus.OFFLINE:
            raise BackendUnavailable(f"{name} cannot be reached now ({why}); try again when it is back")
        if state.status is SourceStatus.NEEDS_AUTH:
            raise AuthRequired(f"{name} needs you to log in again: {why}")
        raise ReeldError(f"{name} cannot be used now: {why}")

    async def playback_info(self, item_id: str) -> PlaybackInfo:
        row = await self._playable_item(item_id, "tracks")
        return await self.playback.info(row.source_id, media_item_from_row(row))

    async def stream_url_with(self, item_id: str, options: Mapping[str, tuple[str, Any]]) -> str:
        """A stream URL with the player's choices: ``options`` as ``name -> (D-Bus type, value)``."""
        choice = StreamOptions.parse(options)
        row = await self._playable_item(item_id, "a file to play")
        self._check_reachable(row.source_id)
        return await self.playback.stream_url(row.source_id, media_item_from_row(row), choice)

    async def set_watched(self, item_id: str, watched: bool) -> None:
        row = await self.get_item(item_id)
        await self.sync.set_watched(row.source_id, row.remote_id, watched)

    async def report_progress(self, item_id: str, position_ms: int, state: str) -> None:
        """Where playback of an item is. Stopped at or past ``PLAYED_FRACTION`` of it, the item
        counts as watched, here at once as on its server (and for a local file, only here)."""
        check_choice(state, PLAYBACK_STATES, "playback state")
        if position_ms > MAX_POSITION_MS:
            raise InvalidArgument(
                f"A playback position of {position_ms} ms is past anything that plays (at most {MAX_POSITION_MS})"
            )
        row = await self._playable_item(item_id, "a playback position")
        duration_ms = row.duration_ms or 0
        if duration_ms:
            position_ms = min(position_ms, duration_ms)  # a player that overshoots the end
        finished = (
            state == PlaybackState.STOPPED
            and duration_ms > 0
            and position_ms >= duration_ms * PLAYED_FRACTION
        )
        await self.sync.report_progress(
            row.source_id, row.remote_id, position_ms, PlaybackState(state), finished=finished
        )

    async def _playable_item(self, item_id: str, what: str) -> Any:
        """The item, if it is one a person plays (a movie, episode or track); shows and seasons are not."""
        row = await self.get_item(item_id)
        if row.kind not in PLAYABLE_KINDS:
            raise InvalidArgument(
                f"{row.title[:100]!r} is {with_article(row.kind)}: only what is played has {what}"
            )
        return row


#: Stopped this far into an item, it was watched: what Plex and Jellyfin (MaxResumePct) count.
PLAYED_FRACTION = 0.9
#: A week, in ms: a position past it is a client's bug, not a place in a film.
MAX_POSITION_MS = 7 * 24 * 3600 * 1000


def folder_to_add(path: str, added: Sequence[Path]) -> Path:
    """``path`` as a folder of media to add, resolved; ``added`` are the folders already added.

    A folder inside one already added, or holding one, would list the same files twice. (The same
    folder again is fine: adding it answers with its account.)
    """
    folder = check_folder(path)
    for other in added:
        other = other.resolve()  # a folder reached through a symlink is that folder
        if other != folder and (folder.is_relative_to(other) or other.is_relative_to(folder)):
            raise InvalidArgument(
                f"{folder} overlaps the folder {other} already added: remove that one first, or add "
                "folders that do not contain each other"
            )
    return folder


BACKGROUND_MODULES = (
    "apscheduler.schedulers.asyncio",
    "apscheduler.triggers.interval",
    "reeld.backends.local.backend",
)


def _preload(modules: Sequence[str]) -> None:
    for name in modules:
        importlib.import_module(name)


def media_item_from_row(row: Any) -> MediaItem:
    """Enough of a cached item for a backend to build its stream URL."""

    return MediaItem(
        remote_id=row.remote_id,
        library_id=row.library_id,
        kind=ItemKind(row.kind),
        title=row.title,
        parent_id=row.parent_id,
        duration_ms=row.duration_ms,
        etag=row.etag,
        extra=json.loads(row.extra) if row.extra else {},
    )


def default_kinds() -> list[BackendKind]:
    return [LocalKind(), JellyfinKind(), PlexKind()]
