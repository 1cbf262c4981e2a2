"""PlexBackend: one Plex Media Server, reached over the best address it answers on."""

import asyncio
import functools
import sys
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson
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
    ACCEPT_ENCODING,
    MAX_LISTED,
    SMALL_ANSWER,
    claimed_total,
    counted_pages,
    http_client,
    off_loop,
    parse_http_date,
    read_bounded,
    redirect_refused,
)
from reeld.backends.plex import connection as conn
from reeld.backends.plex import playback
from reeld.backends.plex.client import TIMEOUT, PlexServerClient
from reeld.backends.plex.dto import ListingDto, MetadataDto
from reeld.backends.plex.mapping import (
    LEAF_TYPES,
    LIBRARY_IDENTIFIER,
    LIST_TYPES,
    item_from_metadata,
    library_from_section,
    watch_state_from,
)
from reeld.backends.plex.plextv import PlexConnection
from reeld.errors import AuthRequired, BackendProtocolError, BackendUnavailable
from reeld.models.media import ItemKind, Library, MediaItem, WatchState
from reeld.models.playback import PlaybackInfo, Transcode
from reeld.models.source import ConnectionKind

log = structlog.get_logger(__name__)

#: Items a listing page asks for. A Plex page is about 1.3 kB an item, decoded with the GIL held:
#: 500 rather than 1,000 shortens that pause for a client's ListItems during a first sync (p50 20 ->
#: 13-17 ms, p99 70-83 -> 60-63 ms in the benchmark) and lowers peak memory (173 -> 164-165 MB);
#: the sync takes as long (1.72-1.79x the floor of the same pages, against 1.77-1.82x).
PAGE_SIZE = 500
#: Pages in flight at once while earlier ones are written.
CONCURRENT_PAGES = 3
#: Pages of the cheap sweeps (watched ids, present ids): few fields, so larger.
SWEEP_PAGE_SIZE = 5000
#: Items changed this long before the server's clock at the start of a sync are caught again.
CURSOR_MARGIN_S = 120
FETCH_BATCH = 200


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """What the cache keeps of a server to reach it again without plex.tv (no token)."""

    client_identifier: str
    name: str
    connections: tuple[PlexConnection, ...]
    #: The address chosen last time, tried first on the next start.
    remembered: str = ""


class PlexBackend(MediaBackend):
    kind = "plex"
    supports_live_updates = True
    uses_cached_watched = True
    chooses_address = True

    def __init__(
        self,
        source_id: str,
        server: ServerSettings,
        token: Callable[[], Awaitable[str]],
        headers: Callable[[], Awaitable[dict[str, str]]],
        http: Callable[[], httpx.AsyncClient] | None = None,
    ) -> None:
        super().__init__(source_id)
        self.server = server
        self._token = token
        self._headers = headers
        self._make_http = http or (lambda: http_client(TIMEOUT))
        self._http: httpx.AsyncClient | None = None
        self._client: PlexServerClient | None = None
        self._connection: PlexConnection | None = None
        self._connected_before = False
        #: Cleared when a server answers a date filter with items it should have left out.
        self.date_filters_work = True
        self.last_choice_s = 0.0

    @property
    def client(self) -> PlexServerClient:
        if self._client is None:
            raise BackendUnavailable(f"Not connected to {self.server.name} yet")
        return self._client

    # -- connecting ------------------------------------------------------------------------------

    async def initialize(self) -> None:
        """Choose an address (the remembered one first, on the first connection) and check the token."""
        token = await self._token()
        headers = await self._headers()
        if self._http is None:
            self._http = self._make_http()
        probe = functools.partial(self._probe, token, headers)
        remembered = [c for c in self.server.connections if c.uri == self.server.remembered]
        chosen: conn.Chosen | None = None
        if remembered and not self._connected_before:
            try:
                chosen = await conn.choose(remembered, probe, grace_s=0)
            except BackendUnavailable:
                chosen = None  # moved, or the network changed: choose among all
        if chosen is None:
            chosen = await conn.choose(self.server.connections, probe)
        self._connected_before = True
        self._connection = chosen.connection
        self.last_choice_s = chosen.elapsed_s
        self._client = PlexServerClient(chosen.connection.uri, token, headers, self._http, self.server.name)
        log.info(
            "plex_connection_chosen",
            source=self.source_id,
            address=self.address,
            kind=str(self.connection_kind),
            elapsed_s=round(chosen.elapsed_s, 3),
        )

    async def _probe(self, token: str, headers: dict[str, str], connection: PlexConnection) -> None:
        """Whether ``connection`` reaches this server and it takes the token (``GET /`` needs one)."""
        assert self._http is not None
        request = self._http.build_request(
            "GET",
            connection.uri.rstrip("/") + "/",
            headers={
                **headers,
                "X-Plex-Token": token,
                "Accept": "application/json",
                "Accept-Encoding": ACCEPT_ENCODING,
            },
            timeout=conn.PROBE_TIMEOUT_S,
        )
        # Its deadline is the probe's own (``conn.choose``); httpx's errors are left to it to describe.
        response = await self._http.send(request, stream=True, follow_redirects=False)
        try:
            if response.is_redirect and response.next_request is not None:
                raise redirect_refused(conn.label(connection), request.url, response.next_request.url)
            body = await read_bounded(response, conn.label(connection), SMALL_ANSWER.max_bytes)
        finally:
            await response.aclose()
        if response.status_code in (401, 403):
            raise AuthRequired(
                f"{self.server.name} rejected its access token: log in to Plex again (reelctl login-plex)"
            )
        response.raise_for_status()
        try:
            machine = orjson.loads(body)["MediaContainer"]["machineIdentifier"]
        except (ValueError, KeyError, TypeError):
            raise BackendProtocolError(f"{conn.label(connection)} is not a Plex Media Server") from None
        if machine != self.server.client_identifier:
            raise BackendProtocolError(
                f"{conn.label(connection)} is another Plex server now ({machine[:8]}…), not {self.server.name}"
            )

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        self._client = None

    @property
    def address(self) -> str:
        return self._connection.uri if self._connection else ""

    @property
    def connection_kind(self) -> ConnectionKind:
        return conn.connection_kind(self._connection) if self._connection else ConnectionKind.NONE

    # -- listing -------------------------------------------------------------------------------------

    async def get_libraries(self) -> list[Library]:
        container = await self.client.container("/library/sections")
        return [library_from_section(s) for s in container.get("Directory") or () if s.get("key")]

    def listing_is_exhaustive(self, ctx: SyncContext) -> bool:
        return ctx.full or not ctx.since or not self.date_filters_work

    async def list_items(self, library: Library, ctx: SyncContext) -> AsyncIterator[ItemPage]:
        cursor = self._next_cursor()
        types = LIST_TYPES.get(library.kind, ())
        since = int(ctx.since) if ctx.since and ctx.since.isdigit() else None
        filters = {} if self.listing_is_exhaustive(ctx) or since is None else {"updatedAt>>": since}
        counts = await asyncio.gather(*(self._count(library, t, filters) for t in types))
        total = sum(counts)
        listed: set[str] = set()
        claim = (self.server.name, library.title)
        for plex_type, count in zip(types, counts, strict=True):
            fetch = functools.partial(self._fetch_page, library, plex_type, filters, since)
            async for items in counted_pages(fetch, 0, count, PAGE_SIZE, CONCURRENT_PAGES, claim):
                if filters:
                    listed.update(item.remote_id for item in items)
                yield ItemPage(items=items, total=total, cursor=cursor)
        if filters and since is not None:
            present, (states, watched) = await asyncio.gather(
                self._present_ids_if_fewer(library, types, ctx, listed),
                self._watch_changes(library, ctx, since),
            )
            yield ItemPage(
                watch_states=states, watched_ids=watched, present_ids=present, total=total, cursor=cursor
            )
        else:
            yield ItemPage(total=total, cursor=cursor)

    def _next_cursor(self) -> str:
        now = time.time()
        if self._client is not None and self._client.server_date:
            now = parse_http_date(self._client.server_date) or now
        return str(int(now) - CURSOR_MARGIN_S)

    def _section_path(self, library: Library) -> str:
        return f"/library/sections/{library.remote_id}/all"

    async def _count(self, library: Library, plex_type: int, filters: dict[str, Any]) -> int:
        container = await self.client.container(
            self._section_path(library), headers=_page(0, 0), type=plex_type, **filters
        )
        try:
            claimed = int(container.get("totalSize", container.get("size", 0)) or 0)
        except (TypeError, ValueError):
            raise BackendProtocolError(f"{self.server.name} sent a count reeld does not understand") from None
        return claimed_total(self.server.name, claimed, library.title)

    async def _fetch_page(
        self, library: Library, plex_type: int, filters: dict[str, Any], since: int | None, start: int
    ) -> tuple[list[MediaItem], int]:
        """A page of the listing, and how many entries the server sent in it."""
        check_dates = bool(filters) and since is not None and self.date_filters_work
        map_page = functools.partial(_page_of, library.remote_id, self.client.base_url, check_dates)
        items, oldest_update, sent = await self.client.listing(
            self._section_path(library),
            map_page,
            headers=_page(start, PAGE_SIZE),
            type=plex_type,
            includeGuids=1,
            **filters,
        )
        if check_dates and since is not None and oldest_update < since:
            # A server that ignores ``updatedAt>>=`` sends everything: trust it no more (full listings).
            self.date_filters_work = False
            log.warning("plex_date_filter_ignored", source=self.source_id)
        return items, sent

    async def _entries(self, library: Library, plex_type: int, **filters: Any) -> list[MetadataDto]:
        """The entries of a listing, in large pages."""
        found: list[MetadataDto] = []
        while True:
            listing: ListingDto = await self.client.listing(
                self._section_path(library),
                headers=_page(len(found), SWEEP_PAGE_SIZE),
                type=plex_type,
                **filters,
            )
            found.extend(listing.metadata)
            if not listing.metadata or len(found) >= (listing.total_size or 0):
                return found
            if len(found) > MAX_LISTED:  # full pages for ever: a server's lie, not a library
                claimed_total(self.server.name, len(found), library.title)

    async def _present_ids_if_fewer(
        self, library: Library, types: tuple[int, ...], ctx: SyncContext, listed: set[str]
    ) -> frozenset[str] | None:
        """Every id of the library, when the server has fewer items than the cache and what this
        sync ``listed`` would make (some were deleted while no websocket was listening). Counting
        is one small request per type."""
        counts = await asyncio.gather(*(self._count(library, t, {}) for t in types))
        if sum(counts) >= await expected_count(ctx, listed):
            return None
        present: set[str] = set()
        for plex_type in types:
            present.update(str(e.rating_key) for e in await self._entries(library, plex_type) if e.rating_key)
        return frozenset(present)

    async def _watch_changes(
        self, library: Library, ctx: SyncContext, since: int
    ) -> tuple[list[WatchState], frozenset[str] | None]:
        """Watch state changed on other devices since ``since`` (it does not touch ``updatedAt``).

        Items viewed since come from a ``lastViewedAt`` filter. An unwatch, or a resume point
        cleared, leaves no trace but in the number of watched and of partly watched items: when a
        number does not add up, that whole list is read too (for watched items as ``watched_ids``:
        the rest of the library is unwatched).
        """
        leaf_types = LEAF_TYPES.get(library.kind, ())
        viewed, counts = await asyncio.gather(
            asyncio.gather(*(self._entries(library, t, **{"lastViewedAt>>": since}) for t in leaf_types)),
            asyncio.gather(
                *(self._count(library, t, {"unwatched": 0}) for t in leaf_types),
                *(self._count(library, t, {"inProgress": 1}) for t in leaf_types),
            ),
        )
        recent = [watch_state_from(entry) for entries in viewed for entry in entries]
        watched_on_server = sum(counts[: len(leaf_types)])
        in_progress_on_server = sum(counts[len(leaf_types) :])
        states = list(recent)
        watched_ids: frozenset[str] | None = None
        if watched_on_server != count_if_only(ctx.cached_watched, recent, lambda s: s.watched):
            watched = await self._watch_states(library, leaf_types, unwatched=0)
            states += watched
            watched_ids = frozenset(state.remote_id for state in watched)
        if in_progress_on_server != count_if_only(
            ctx.cached_in_progress, recent, lambda s: s.position_ms > 0
        ):
            resuming = await self._watch_states(library, leaf_types, inProgress=1)
            states += resuming
            # Resume points the cache has and the server no longer lists: read back those items.
            cleared = ctx.cached_in_progress - {s.remote_id for s in resuming} - {s.remote_id for s in recent}
            if cleared:
                states += [i.watch for i in await self.fetch_items(sorted(cleared)) if i.watch is not None]
        return states, watched_ids

    async def _watch_states(
        self, library: Library, plex_types: tuple[int, ...], **filters: Any
    ) -> list[WatchState]:
        """Watch states of the library's items matching ``filters``; the list can be long (every
        watched item), so it is mapped on the page worker, not the event loop."""
        entries = [entry for t in plex_types for entry in await self._entries(library, t, **filters)]
        return await off_loop(_map_watch_states, entries)

    async def fetch_items(self, rating_keys: list[str]) -> list[MediaItem]:
        """Items by rating key (live updates), each with its section as library."""
        found: list[MediaItem] = []
        for start in range(0, len(rating_keys), FETCH_BATCH):
            batch = ",".join(rating_keys[start : start + FETCH_BATCH])
            listing: ListingDto = await self.client.listing(f"/library/metadata/{batch}", includeGuids=1)
            section = str(listing.library_section_id or "")
            for entry in listing.metadata:
                library_id = str(entry.library_section_id or section)
                item = item_from_metadata(entry, library_id, self.client.base_url)
                if item is not None:
                    found.append(item)
        return found

    def watch_changes(self) -> AsyncGenerator[ChangeSet, None]:
        from reeld.backends.plex.notifications import watch_notifications

        return watch_notifications(self.client, self.fetch_items, self.source_id)

    # -- playback and watch state ----------------------------------------------------------------------

    async def get_stream_url(self, item: MediaItem) -> str:
        """The direct-play URL of the item's file, with this server's token (works until it is revoked)."""
        part = item.extra.get("part_key")
        if item.kind not in (ItemKind.MOVIE, ItemKind.EPISODE, ItemKind.VIDEO, ItemKind.TRACK) or not part:
            raise BackendProtocolError(f"{item.title} has no file to play")
        base = self.address or self.server.remembered
        if not base:
            raise BackendUnavailable(f"{self.server.name} has not been reached yet: no address to play from")
        token = await self._token()
        return f"{base.rstrip('/')}{part}?{urlencode({'X-Plex-Token': token})}"

    async def get_playback_info(self, item: MediaItem) -> PlaybackInfo:
        return await playback.fetch_playback_info(self.client, item)

    async def get_transcode_url(self, item: MediaItem, info: PlaybackInfo, choice: Transcode) -> str:
        return playback.transcode_url(
            self.client.base_url, await self._token(), await self._headers(), item, choice
        )

    async def mark_watched(self, remote_id: str) -> None:
        await self.client.request(
            "GET",
            "/:/scrobble",
            params={"key": remote_id, "identifier": LIBRARY_IDENTIFIER},
            expect_json=False,
        )

    async def mark_unwatched(self, remote_id: str) -> None:
        await self.client.request(
            "GET",
            "/:/unscrobble",
            params={"key": remote_id, "identifier": LIBRARY_IDENTIFIER},
            expect_json=False,
        )

    async def update_progress(self, remote_id: str, position_ms: int, state: PlaybackState) -> None:
        await self.client.request(
            "GET",
            "/:/timeline",
            params={
                "ratingKey": remote_id,
                "key": f"/library/metadata/{remote_id}",
                "identifier": LIBRARY_IDENTIFIER,
                "state": str(state),
                "time": max(0, position_ms),
            },
            expect_json=False,
        )


def _page(start: int, size: int) -> dict[str, str]:
    return {"X-Plex-Container-Start": str(start), "X-Plex-Container-Size": str(size)}


def _map_watch_states(entries: list[MetadataDto]) -> list[WatchState]:
    return [watch_state_from(entry) for entry in entries]


def _page_of(
    library_id: str, base_url: str, check_dates: bool, listing: ListingDto
) -> tuple[list[MediaItem], int, int]:
    """A decoded page of a listing as mapped items, with ``check_dates`` the oldest ``updatedAt``
    among its entries (to check that a date filter was honoured), and how many entries it had."""
    entries = listing.metadata
    items = [item for entry in entries if (item := item_from_metadata(entry, library_id, base_url))]
    if not check_dates:
        return items, sys.maxsize, len(entries)
    return items, min((entry.updated_at or 0 for entry in entries), default=sys.maxsize), len(entries)
