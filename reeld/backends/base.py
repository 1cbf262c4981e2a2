"""The one interface every kind of source implements.

A backend knows how to talk to one source: log in, list libraries and items page by page,
report watch state, and hand out stream URLs. It knows nothing about the cache, the bus or
the schedule: paging into the database, cursors and sweeps belong to the SyncManager.

Backends raise only ``reeld.errors`` types: ``AuthRequired`` when a person must act,
``BackendUnavailable`` when trying again later may help, ``BackendProtocolError`` when the
server answered nonsense.
"""

import abc
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType
from typing import Self

from reeld.errors import NotSupported
from reeld.models.media import ItemKind, Library, MediaItem, WatchState
from reeld.models.playback import PlaybackInfo, Transcode
from reeld.models.source import ConnectionKind


class PlaybackState(StrEnum):
    PLAYING = "playing"
    PAUSED = "paused"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class KnownItem:
    """What the cache remembers of an item, enough to tell whether it changed."""

    etag: str | None
    parent_id: str | None
    library_id: str = ""


async def _nothing_cached(ids: Collection[str]) -> tuple[int, int]:
    return 0, 0


@dataclass(frozen=True, slots=True)
class SyncContext:
    """What the SyncManager tells a listing.

    ``since`` is the cursor stored after the last successful listing of this library
    (``None``: list everything). ``known`` maps remote id → what the cache holds of it, for
    backends that set ``uses_known_items`` (the local backend skips unchanged files).
    """

    full: bool
    since: str | None = None
    known: Mapping[str, KnownItem] = field(default_factory=dict)
    #: ``await cache_counts(ids)``: how many items of the library the cache holds now (every kind),
    #: and how many of ``ids`` are among them. With the ids a listing brought, what the server's
    #: count must reach if nothing was deleted.
    cache_counts: Callable[[Collection[str]], Awaitable[tuple[int, int]]] = _nothing_cached
    #: The library's playable items the cache holds as watched, and as partly watched (backends that
    #: set ``uses_cached_watched``, on incremental listings): lets a server without a watch-state
    #: delta prove from counts that nothing was unwatched or had its resume point cleared.
    cached_watched: frozenset[str] = frozenset()
    cached_in_progress: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ItemPage:
    """One page of a listing.

    ``total`` is how many items the whole listing will yield, when known (for progress).
    ``unchanged`` names items still present that the backend did not send again.
    ``cursor`` (on any page) is what to store as ``since`` once the listing has completed.
    ``watched_ids``, when set, is the complete set of watched items of the library (for servers
    whose watch state has no delta): everything else in it is unwatched. ``present_ids`` is the
    same for existence.
    """

    items: Sequence[MediaItem] = ()
    watch_states: Sequence[WatchState] = ()
    unchanged: Sequence[str] = ()
    deleted: Sequence[str] = ()
    total: int | None = None
    cursor: str | None = None
    watched_ids: frozenset[str] | None = None
    #: When set, every id the library has now (an incremental listing's way to report deletions):
    #: the cache sweeps the rest, with the same guard as a full listing's sweep.
    present_ids: frozenset[str] | None = None
    #: Playback info the listing read on the way, by remote id (a local file's tracks come from the
    #: same probe as its duration): kept with the items, so it answers before anyone asks.
    playback: Sequence[tuple[str, PlaybackInfo]] = ()


@dataclass(frozen=True, slots=True)
class ChangeSet:
    """A live change pushed by a source (websocket, file watcher)."""

    upserts: Sequence[MediaItem] = ()
    deleted: Sequence[str] = ()
    watch_states: Sequence[WatchState] = ()
    # Items that only moved (a renamed file: old id -> new id); they keep their watch state.
    moved: Mapping[str, str] = field(default_factory=dict)
    # Libraries whose contents changed in ways only a listing can tell (a finished server scan).
    libraries_to_sync: Sequence[str] = ()


def pair_moves(gone: Mapping[str, str], arrived: Mapping[str, str]) -> dict[str, str]:
    """Old id -> new id of items that moved, from the etags (id -> etag) of the items gone and of
    those new: paired where an etag is that of one gone item and one new item alone."""

    def by_etag(etags: Mapping[str, str]) -> dict[str, list[str]]:
        ids: dict[str, list[str]] = {}
        for remote_id, etag in etags.items():
            ids.setdefault(etag, []).append(remote_id)
        return ids

    gone_ids = by_etag(gone)
    return {
        old[0]: new[0]
        for etag, new in by_etag(arrived).items()
        if len(new) == 1 and len(old := gone_ids.get(etag, [])) == 1
    }


async def expected_count(ctx: SyncContext, listed: Collection[str]) -> int:
    """How many items the server must count in the library if none was deleted: what the cache
    holds, plus what this listing brought that the cache does not hold."""
    cached, listed_cached = await ctx.cache_counts(listed)
    return cached + len(listed) - listed_cached


def count_if_only(
    cached: frozenset[str], recent: Sequence[WatchState], holds: Callable[[WatchState], bool]
) -> int:
    """How many items a server should count in a set (watched, partly watched) if the set changed
    only through ``recent`` since the cache learnt ``cached``. A server whose count differs had
    other changes (an unwatch elsewhere) and must be asked for the whole set."""
    gained = sum(1 for state in recent if holds(state) and state.remote_id not in cached)
    lost = sum(1 for state in recent if not holds(state) and state.remote_id in cached)
    return len(cached) + gained - lost


class MediaBackend(abc.ABC):
    """A live connection to one source. Use as ``async with backend:`` or call ``aclose()``."""

    #: The ``kind`` of sources this backend serves (``local``, ``jellyfin``, ``plex``).
    kind: str = ""
    #: Whether ``list_items`` wants ``SyncContext.known`` (costs a cache read per sync).
    uses_known_items: bool = False
    #: Whether an incremental ``list_items`` wants ``SyncContext.cached_watched``.
    uses_cached_watched: bool = False
    #: Whether ``watch_changes`` pushes live changes (a websocket, a file watcher).
    supports_live_updates: bool = False
    #: Whether the source is reached on one of several addresses, chosen again when the network changes.
    chooses_address: bool = False
    #: Whether an etag names content, not a version of one item (a file's size and mtime): an item
    #: gone and one new with its etag, in one listing, are the same thing moved; it keeps its watch state.
    etag_follows_content: bool = False

    def __init__(self, source_id: str) -> None:
        self.source_id = source_id
        self.last_sync_time: int = 0

    # -- lifecycle -------------------------------------------------------------------------

    @abc.abstractmethod
    async def initialize(self) -> None:
        """Authenticate and connect. Raises ``AuthRequired`` or ``BackendUnavailable``."""

    async def authenticate(self) -> None:
        """The design's name for ``initialize``."""
        await self.initialize()

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections and background tasks."""

    async def __aenter__(self) -> Self:
        await self.initialize()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # -- identity and connection -----------------------------------------------------------

    def get_backend_id(self) -> str:
        return self.source_id

    def get_last_sync_time(self) -> int:
        return self.last_sync_time

    def supports_offline(self) -> bool:
        """True when cached items stay playable without the source (local files do)."""
        return False

    @property
    def address(self) -> str:
        """The URI in use, never with a token."""
        return ""

    @property
    def connection_kind(self) -> ConnectionKind:
        return ConnectionKind.NONE

    # -- listing ---------------------------------------------------------------------------

    @abc.abstractmethod
    async def get_libraries(self) -> list[Library]: ...

    @abc.abstractmethod
    def list_items(self, library: Library, ctx: SyncContext) -> AsyncIterator[ItemPage]:
        """Every item of ``library`` (``ctx.since`` set: only what changed since), page by page."""

    def listing_is_exhaustive(self, ctx: SyncContext) -> bool:
        """Whether a listing names every item still present, so the rest may be swept."""
        return ctx.full

    async def watch_changes(self) -> AsyncGenerator[ChangeSet, None]:
        """Live changes, for as long as the source pushes them. Default: none."""
        return
        yield  # pragma: no cover - makes this an async generator

    async def fetch_items(self, remote_ids: list[str]) -> list[MediaItem]:
        """Items by id as the source has them now. Default: none known."""
        return []

    async def is_watched(self, remote_id: str) -> bool:
        """Whether the source has the item watched now (an item it does not list: no)."""
        return any(
            item.remote_id == remote_id and item.watch is not None and item.watch.watched
            for item in await self.fetch_items([remote_id])
        )

    async def get_movies(self, library: Library) -> list[MediaItem]:
        return await self._collect(library, {ItemKind.MOVIE})

    async def get_shows(self, library: Library) -> list[MediaItem]:
        return await self._collect(library, {ItemKind.SHOW})

    async def get_episodes(self, library: Library, show_id: str) -> list[MediaItem]:
        items = await self._collect(library, {ItemKind.SEASON, ItemKind.EPISODE})
        seasons = {item.remote_id for item in items if item.parent_id == show_id}
        return [i for i in items if i.kind is ItemKind.EPISODE and i.parent_id in seasons | {show_id}]

    async def _collect(self, library: Library, kinds: set[ItemKind]) -> list[MediaItem]:
        found: list[MediaItem] = []
        async for page in self.list_items(library, SyncContext(full=True)):
            found.extend(item for item in page.items if item.kind in kinds)
        return found

    async def search(self, query: str) -> list[MediaItem]:
        """Search on the source itself. Reads normally come from the cache's index instead."""
        raise NotSupported(f"{self.kind} sources are searched through the cache")

    # -- playback and watch state ----------------------------------------------------------

    @abc.abstractmethod
    async def get_stream_url(self, item: MediaItem) -> str: ...

    async def get_playback_info(self, item: MediaItem) -> PlaybackInfo:
        """The item's tracks, chapters and markers, from its server or file."""
        raise NotSupported(f"{self.kind} sources tell nothing of an item's tracks")

    async def get_transcode_url(self, item: MediaItem, info: PlaybackInfo, choice: Transcode) -> str:
        """A URL of the server's HLS transcode of ``item`` with the tracks and bitrate of ``choice``."""
        raise NotSupported(f"{self.kind} sources play files as they are")

    @abc.abstractmethod
    async def mark_watched(self, remote_id: str) -> None: ...

    @abc.abstractmethod
    async def mark_unwatched(self, remote_id: str) -> None: ...

    @abc.abstractmethod
    async def update_progress(self, remote_id: str, position_ms: int, state: PlaybackState) -> None: ...
