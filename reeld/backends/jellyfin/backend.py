"""JellyfinBackend: one user on one Jellyfin server."""

import asyncio
import functools
import ipaddress
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

import structlog

from reeld.backends.base import (
    ChangeSet,
    ItemPage,
    MediaBackend,
    PlaybackState,
    SyncContext,
    count_if_only,
    expected_count,
)
from reeld.backends.http import (
    LISTING_PAGE,
    MAX_LISTED,
    as_is,
    borne_out,
    claimed_total,
    counted_pages,
    off_loop,
    parse_http_date,
)
from reeld.backends.jellyfin import playback
from reeld.backends.jellyfin.client import JellyfinClient
from reeld.backends.jellyfin.dto import ItemDto, ItemsResult, decode_items
from reeld.backends.jellyfin.mapping import (
    FIELDS,
    IMAGE_TYPES,
    INCLUDE_TYPES,
    TICKS_PER_MS,
    format_date,
    item_from_dto,
    library_from_view,
    parse_date,
    watch_state_of,
)
from reeld.backends.jellyfin.socket import watch_socket
from reeld.errors import BackendProtocolError, BackendUnavailable
from reeld.models.media import ItemKind, Library, LibraryKind, MediaItem, WatchState
from reeld.models.playback import PlaybackInfo, Transcode
from reeld.models.source import ConnectionKind

log = structlog.get_logger(__name__)

T = TypeVar("T")

PAGE_SIZE = 1000
#: Pages in flight at once while earlier ones are written.
CONCURRENT_PAGES = 3
#: Items changed this long before the server's clock at the start of a sync are caught again.
CURSOR_MARGIN_S = 120
FETCH_BATCH = 200


class JellyfinBackend(MediaBackend):
    kind = "jellyfin"
    supports_live_updates = True
    uses_cached_watched = True

    def __init__(
        self,
        source_id: str,
        open_client: Callable[[], Awaitable[JellyfinClient]],
        user_id: str,
        server_id: str,
    ) -> None:
        super().__init__(source_id)
        # The client needs the token, and the token comes from the keyring (off the loop): opened on connect.
        self._open_client = open_client
        self._client: JellyfinClient | None = None
        self.user_id = user_id
        self.server_id = server_id
        self._libraries: list[Library] = []
        self._playing: set[str] = set()

    @property
    def client(self) -> JellyfinClient:
        if self._client is None:
            raise BackendUnavailable("Not connected to the Jellyfin server yet")
        return self._client

    async def initialize(self) -> None:
        if self._client is None:
            self._client = await self._open_client()
        info = await self.client.public_info()
        if self.server_id and info.id != self.server_id:
            raise BackendProtocolError(
                f"{self.client.host} is now a different Jellyfin server ({info.name}); remove the account and add it again"
            )
        await self.client.get("/Users/Me")  # the token still works

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    @property
    def address(self) -> str:
        return self._client.base_url if self._client else ""

    @property
    def connection_kind(self) -> ConnectionKind:
        if self._client is None:
            return ConnectionKind.NONE
        return ConnectionKind.LOCAL if is_local_host(self._client.base_url) else ConnectionKind.REMOTE

    # -- listing -------------------------------------------------------------------------------------

    async def get_libraries(self) -> list[Library]:
        result: ItemsResult = await self.client.get("/UserViews", decode=decode_items, userId=self.user_id)
        self._libraries = [library_from_view(view) for view in result.items if view.id]
        return self._libraries

    async def list_items(self, library: Library, ctx: SyncContext) -> AsyncIterator[ItemPage]:
        types = INCLUDE_TYPES.get(library.kind)
        if types is None:
            yield ItemPage(total=0, cursor=self._next_cursor())
            return
        cursor = self._next_cursor()
        query: dict[str, Any] = {
            "IncludeItemTypes": types,
            "Fields": FIELDS,
            "EnableImageTypes": IMAGE_TYPES,
            "ImageTypeLimit": 1,
            "SortBy": "SortName",
            "SortOrder": "Ascending",
        }
        if ctx.since and not ctx.full:
            query["MinDateLastSaved"] = ctx.since
        # A music library's artists, few and not under it: all of them, every listing.
        artists = await self._album_artists(library) if library.kind is LibraryKind.MUSIC else []
        artist_ids = {artist.remote_id for artist in artists}
        listed: set[str] = set(artist_ids)
        async for page in self._pages(query, library):
            if not ctx.full:
                listed.update(item.remote_id for item in page.items)
            total = None if page.total is None else page.total + len(artist_ids)
            yield ItemPage(items=page.items, total=total, cursor=cursor)
            if artists:  # after the first page, once the total is known
                yield ItemPage(items=artists, total=total, cursor=cursor)
                artists = []
        if not ctx.full:
            present, (states, watched) = await asyncio.gather(
                self._present_ids_if_fewer(library, types, ctx, listed, artist_ids),
                self._watch_changes(library, types, ctx),
            )
            yield ItemPage(watch_states=states, watched_ids=watched, present_ids=present, cursor=cursor)

    def _next_cursor(self) -> str:
        now = time.time()
        if self.client.server_date:
            parsed = parse_http_date(self.client.server_date)
            now = parsed if parsed is not None else now
        return format_date(now - CURSOR_MARGIN_S)

    async def _pages(self, query: dict[str, Any], library: Library) -> AsyncIterator[ItemPage]:
        """Every page of an /Items listing, in order, with a few fetched ahead concurrently; the
        count the first page claims is checked against the pages that follow."""
        first, sent = await self._fetch_page(query, 0, library)
        claim = (self.client.host, library.title)
        total = claimed_total(self.client.host, first.total or 0, library.title)
        yield first
        if sent < min(PAGE_SIZE, total):
            borne_out(sent, total, PAGE_SIZE, claim)
            return
        fetch = functools.partial(self._fetch_page, query, library=library)
        async for page in counted_pages(fetch, PAGE_SIZE, total, PAGE_SIZE, CONCURRENT_PAGES, claim):
            yield page

    async def _fetch_page(self, query: dict[str, Any], start: int, library: Library) -> tuple[ItemPage, int]:
        """A page of the listing, and how many entries the server sent in it."""
        map_page = functools.partial(_page_of, library.remote_id, self.client.base_url)
        page: tuple[ItemPage, int] = await self._under(
            library, map_page, **query, StartIndex=start, Limit=PAGE_SIZE, EnableTotalRecordCount="true"
        )
        return page

    async def _under(self, library: Library, then: Callable[[ItemsResult], T] = as_is, /, **params: Any) -> T:
        """An ``/Items`` listing of everything under ``library``, as this user sees it."""
        result: T = await self.client.get(
            "/Items",
            then,
            decode=decode_items,
            budget=LISTING_PAGE,
            userId=self.user_id,
            ParentId=library.remote_id,
            Recursive="true",
            **params,
        )
        return result

    async def _album_artists(self, library: Library) -> list[MediaItem]:
        """A music library's artists (``/Artists/AlbumArtists``, as Jellyfin's own apps list them)."""
        found: list[ItemDto] = []
        while True:
            result: ItemsResult = await self.client.get(
                "/Artists/AlbumArtists",
                decode=decode_items,
                budget=LISTING_PAGE,
                userId=self.user_id,
                ParentId=library.remote_id,
                Fields=FIELDS,
                EnableImageTypes=IMAGE_TYPES,
                ImageTypeLimit=1,
                StartIndex=len(found),
                Limit=PAGE_SIZE,
                EnableTotalRecordCount="true",
            )
            found.extend(dto for dto in result.items if dto.id)
            if not result.items or len(found) >= result.total_record_count:
                break
            if len(found) > MAX_LISTED:  # full pages for ever: a server's lie, not a library
                claimed_total(self.client.host, len(found), library.title)
        base_url = self.client.base_url
        return [
            item for dto in found if (item := item_from_dto(dto, library.remote_id, base_url)) is not None
        ]

    async def _present_ids_if_fewer(
        self, library: Library, types: str, ctx: SyncContext, listed: set[str], artist_ids: set[str]
    ) -> frozenset[str] | None:
        """Every id of the library, when the server has fewer items than the cache and what this
        sync ``listed`` would make (something was deleted).

        Jellyfin has no delta for deletions (the websocket tells, when it is up): compare counts, one
        small request, and only when they differ list the ids."""
        count = await self._count(library, IncludeItemTypes=types) + len(artist_ids)
        if count >= await expected_count(ctx, listed):
            return None
        return frozenset(await self._ids(library, IncludeItemTypes=types)) | artist_ids

    async def _watch_changes(
        self, library: Library, types: str, ctx: SyncContext
    ) -> tuple[list[WatchState], frozenset[str] | None]:
        """Watch state changed on other devices since the last sync (Jellyfin has no delta for it).

        Items played since come sorted by ``DatePlayed``. An unwatch, or a resume point cleared,
        leaves no trace but in the number of played and of resumable items: when a number does not
        add up, that whole list is read too (played ids as ``watched_ids``: the rest is unwatched).
        """
        playable = _playable(types)
        since = parse_date(ctx.since)
        recent, played_count, resumable_count = await asyncio.gather(
            self._played_since(library, playable, since),
            self._count(library, IncludeItemTypes=playable, IsPlayed="true"),
            self._count(library, IncludeItemTypes=playable, Filters="IsResumable"),
        )
        states = list(recent)
        watched_ids: frozenset[str] | None = None
        if played_count != count_if_only(ctx.cached_watched, recent, lambda s: s.watched):
            watched_ids = frozenset(await self._ids(library, IncludeItemTypes=playable, IsPlayed="true"))
        if resumable_count != count_if_only(ctx.cached_in_progress, recent, lambda s: s.position_ms > 0):
            dtos = await self._dtos(library, 1000, IncludeItemTypes=playable, Filters="IsResumable")
            resuming = await off_loop(_map_watch_states, dtos)  # every resumable item: off the loop
            states += resuming
            # Resume points the cache has and the server no longer lists: read back those items.
            cleared = ctx.cached_in_progress - {s.remote_id for s in resuming} - {s.remote_id for s in recent}
            if cleared:
                states += [i.watch for i in await self.fetch_items(sorted(cleared)) if i.watch is not None]
        return states, watched_ids

    async def _played_since(self, library: Library, playable: str, since: int | None) -> list[WatchState]:
        """Watch states of the items played (or partly played) since ``since``, newest first."""
        found: list[WatchState] = []
        start = 0
        while since is not None:
            result: ItemsResult = await self._under(
                library,
                IncludeItemTypes=playable,
                SortBy="DatePlayed",
                SortOrder="Descending",
                EnableImages="false",
                StartIndex=start,
                Limit=200,
            )
            for dto in result.items:
                state = watch_state_of(dto)
                if state.last_viewed_at is None or state.last_viewed_at < since:
                    return found
                found.append(state)
            if len(result.items) < 200 or len(found) > MAX_LISTED:
                return found
            start += len(result.items)
        return found

    async def _count(self, library: Library, **filters: str) -> int:
        result: ItemsResult = await self._under(
            library,
            Limit=0,
            EnableTotalRecordCount="true",
            **filters,
        )
        return max(0, result.total_record_count)

    async def _ids(self, library: Library, **filters: str) -> set[str]:
        """The ids of a library's items matching ``filters``, in large pages of minimal items."""
        dtos = await self._dtos(library, 5000, EnableUserData="false", **filters)
        return {dto.id for dto in dtos if dto.id}

    async def _dtos(self, library: Library, page_size: int, **filters: str) -> list[ItemDto]:
        """Every item of a library matching ``filters`` (no images, default fields), page by page."""
        found: list[ItemDto] = []
        while True:
            result: ItemsResult = await self._under(
                library,
                EnableImages="false",
                StartIndex=len(found),
                Limit=page_size,
                EnableTotalRecordCount="true",
                **filters,
            )
            found.extend(dto for dto in result.items if dto.id)
            if not result.items or len(found) >= result.total_record_count:
                return found
            if len(found) > MAX_LISTED:  # full pages for ever: a server's lie, not a library
                claimed_total(self.client.host, len(found), library.title)

    async def fetch_items(self, item_ids: list[str]) -> list[MediaItem]:
        """Items by id, each with its library (asked per library: a view's listing filters by both)."""
        found: list[MediaItem] = []
        libraries = self._libraries or await self.get_libraries()
        for library in libraries:
            types = INCLUDE_TYPES.get(library.kind)
            if types is None:
                continue
            for start in range(0, len(item_ids), FETCH_BATCH):
                result: ItemsResult = await self._under(
                    library,
                    IncludeItemTypes=types,
                    Ids=",".join(item_ids[start : start + FETCH_BATCH]),
                    Fields=FIELDS,
                )
                for dto in result.items:
                    item = item_from_dto(dto, library.remote_id, self.client.base_url)
                    if item is not None:
                        found.append(item)
        return found

    def watch_changes(self) -> AsyncGenerator[ChangeSet, None]:
        return watch_socket(self.client, self.user_id, self.fetch_items, self.source_id)

    # -- playback and watch state ------------------------------------------------------------------------

    async def get_stream_url(self, item: MediaItem) -> str:
        if self._client is None:  # not connected (yet): the URL needs the token, not the server
            self._client = await self._open_client()
        if item.kind not in (ItemKind.MOVIE, ItemKind.EPISODE, ItemKind.VIDEO, ItemKind.TRACK):
            raise BackendProtocolError(f"{item.title} is not playable")
        media_source = str(item.extra.get("media_source_id") or item.remote_id)
        query = urlencode(
            {"static": "true", "MediaSourceId": media_source, "ApiKey": self.client.token or ""}
        )
        path = "Audio" if item.kind is ItemKind.TRACK else "Videos"
        return f"{self.client.base_url}/{path}/{item.remote_id}/stream?{query}"

    async def get_playback_info(self, item: MediaItem) -> PlaybackInfo:
        return await playback.fetch_playback_info(self.client, self.user_id, item)

    async def get_transcode_url(self, item: MediaItem, info: PlaybackInfo, choice: Transcode) -> str:
        return await playback.transcode_url(self.client, self.user_id, item, info, choice)

    async def mark_watched(self, remote_id: str) -> None:
        await self.client.request("POST", f"/UserPlayedItems/{remote_id}", params={"userId": self.user_id})

    async def mark_unwatched(self, remote_id: str) -> None:
        await self.client.request("DELETE", f"/UserPlayedItems/{remote_id}", params={"userId": self.user_id})

    async def update_progress(self, remote_id: str, position_ms: int, state: PlaybackState) -> None:
        body = {
            "ItemId": remote_id,
            "MediaSourceId": remote_id,
            "PositionTicks": position_ms * TICKS_PER_MS,
            "IsPaused": state is PlaybackState.PAUSED,
            "PlayMethod": "DirectPlay",
            "CanSeek": True,
        }
        if state is PlaybackState.STOPPED:
            await self.client.request("POST", "/Sessions/Playing/Stopped", body=body, expect_json=False)
            self._playing.discard(remote_id)
            return
        if remote_id not in self._playing:
            await self.client.request("POST", "/Sessions/Playing", body=body, expect_json=False)
            self._playing.add(remote_id)
        await self.client.request("POST", "/Sessions/Playing/Progress", body=body, expect_json=False)


def _map_watch_states(dtos: list[ItemDto]) -> list[WatchState]:
    return [watch_state_of(dto) for dto in dtos]


def _page_of(library_id: str, base_url: str, result: ItemsResult) -> tuple[ItemPage, int]:
    """A decoded ``/Items`` page as mapped items and the listing's total, and how many entries it had."""
    items = [item for dto in result.items if (item := item_from_dto(dto, library_id, base_url))]
    return ItemPage(items=items, total=max(0, result.total_record_count)), len(result.items)


def _playable(types: str) -> str:
    playable = [t for t in types.split(",") if t in ("Movie", "Episode", "Video", "Audio")]
    return ",".join(playable) or types


def is_local_host(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host in ("localhost",) or host.endswith((".local", ".lan", ".home.arpa")):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_private or address.is_loopback or address.is_link_local
