"""A backend over an in-memory catalog, for testing the SyncManager's own rules (sweeps, cursors,
queues, locks) without a server. Faults are injected per call."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from reeld.backends.base import ItemPage, MediaBackend, PlaybackState, SyncContext
from reeld.backends.manager import BackendKind, BackendServices, Discovery
from reeld.errors import ReeldError
from reeld.models.auth import AccountKind, AuthProvider, LocalFiles
from reeld.models.media import ItemKind, Library, LibraryKind, MediaItem, WatchState
from reeld.models.source import Source


def movie(n: int, library: str = "movies", watched: bool = False, title: str | None = None) -> MediaItem:
    return MediaItem(
        remote_id=f"m{n}",
        library_id=library,
        kind=ItemKind.MOVIE,
        title=title or f"Movie {n:05d}",
        year=1990 + n % 30,
        added_at=1_700_000_000 + n,
        etag=f"v1-{n}",
        watch=WatchState(f"m{n}", watched=watched, view_count=int(watched)),
    )


@dataclass
class Catalog:
    """What the "server" holds, and what the test wants to go wrong."""

    libraries: dict[str, list[MediaItem]] = field(default_factory=dict)
    page_size: int = 100
    # Raise this error on the listing call's page with this index (0-based), once.
    fail_page: tuple[int, ReeldError] | None = None
    fail_connect: ReeldError | None = None
    fail_watch: ReeldError | None = None
    # Raise this error when this library is listed (every time, until removed).
    fail_library: dict[str, ReeldError] = field(default_factory=dict)
    # When set, listing waits on it before each page (lets a test hold a sync open).
    gate: asyncio.Event | None = None
    # Report a larger total than is listed (a truncated listing).
    overstate_total: int = 0
    listings: list[SyncContext] = field(default_factory=list)
    sent: list[tuple[str, str, int]] = field(default_factory=list)
    cursor: int = 0


class MemoryBackend(MediaBackend):
    kind = "memory"

    def __init__(self, source_id: str, catalog: Catalog) -> None:
        super().__init__(source_id)
        self.catalog = catalog

    async def initialize(self) -> None:
        if self.catalog.fail_connect is not None:
            raise self.catalog.fail_connect

    async def get_libraries(self) -> list[Library]:
        return [Library(lib, lib.title(), LibraryKind.MOVIES) for lib in self.catalog.libraries]

    async def list_items(self, library: Library, ctx: SyncContext) -> AsyncIterator[ItemPage]:
        self.catalog.listings.append(ctx)
        self.catalog.cursor += 1
        if library.remote_id in self.catalog.fail_library:
            raise self.catalog.fail_library[library.remote_id]
        items = self.catalog.libraries[library.remote_id]
        if ctx.since is not None:
            items = [i for i in items if (i.updated_at or 0) > int(ctx.since)]
        total = len(items) + self.catalog.overstate_total
        for index, start in enumerate(range(0, max(len(items), 1), self.catalog.page_size)):
            if self.catalog.gate is not None:
                await self.catalog.gate.wait()
            if self.catalog.fail_page is not None and self.catalog.fail_page[0] == index:
                error = self.catalog.fail_page[1]
                self.catalog.fail_page = None
                raise error
            yield ItemPage(
                items=items[start : start + self.catalog.page_size],
                total=total,
                cursor=str(self.catalog.cursor),
            )

    async def get_stream_url(self, item: MediaItem) -> str:
        return f"memory://{item.remote_id}"

    async def _send(self, action: str, remote_id: str, position: int = 0) -> None:
        if self.catalog.fail_watch is not None:
            raise self.catalog.fail_watch
        self.catalog.sent.append((action, remote_id, position))

    async def mark_watched(self, remote_id: str) -> None:
        await self._send("watched", remote_id)

    async def mark_unwatched(self, remote_id: str) -> None:
        await self._send("unwatched", remote_id)

    async def update_progress(self, remote_id: str, position_ms: int, state: PlaybackState) -> None:
        await self._send(str(state), remote_id, position_ms)


class MemoryKind(BackendKind):
    """Stands in for the local kind: every "folder" account gets one memory source."""

    account_kind = AccountKind.LOCAL

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    async def discover(self, account: AuthProvider, services: BackendServices) -> Discovery:
        return Discovery(
            [Source(id=account.id, account_id=account.id, kind="memory", name=account.display_name)]
        )

    def create_backend(
        self, source: Source, account: AuthProvider, services: BackendServices
    ) -> MediaBackend:
        return MemoryBackend(source.id, self.catalog)


def memory_account(name: str = "mem") -> LocalFiles:
    return LocalFiles(id=f"local_{name}", display_name=name, identity=f"/{name}", path=f"/{name}")
