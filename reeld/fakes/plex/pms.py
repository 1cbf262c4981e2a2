"""A fake Plex Media Server: its catalog, its listeners, and the control methods tests call.

The HTTP endpoints live in `pms_library` (browsing), `pms_playback` (watch state, media files,
notifications) and `pms_control` (``/__control``). Every public control method may be called from
another thread while the server runs on its loop (see `LoopBound`).
"""

import asyncio
import hashlib
import socket
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from starlette.applications import Starlette

from reeld.fakes.plex.catalog import ALBUM, ARTIST, EPISODE, MOVIE, SEASON, SHOW, TRACK, Item, Section
from reeld.fakes.plex.generate import CatalogSpec, build_catalog, new_item
from reeld.fakes.plex.metadata import GUIDS, fragment
from reeld.fakes.plex.network import (
    HOST,
    HttpService,
    LoopBound,
    TlsFiles,
    black_hole_socket,
    listening_socket,
    refusing_socket,
)
from reeld.fakes.plex.notify import CREATED, DELETED, PROCESSED, Notifier
from reeld.fakes.plex.query import DATE, Condition, SortField, order, select
from reeld.fakes.plex.render import JSON
from reeld.fakes.plex.wire import Fault, RequestRecord, Wire

log = structlog.get_logger(__name__)

PMS_VERSION = "1.41.3.9314-a0bfb8370"
LIVE, REFUSED, TIMEOUT = "live", "refused", "timeout"
_QUERY_CACHE_SIZE = 32


@dataclass(frozen=True)
class ConnectionSpec:
    """One entry of the server's ``connections`` on plex.tv, and whether it really answers.

    ``reach``: ``live`` (this server listens there), ``refused`` (nothing listens) or ``timeout``
    (a listener that never answers). ``port`` 0 picks a free port.
    """

    reach: str = LIVE
    local: bool = True
    relay: bool = False
    protocol: str = "http"
    port: int = 0

    @classmethod
    def live(cls, *, local: bool = True, port: int = 0, protocol: str = "http") -> "ConnectionSpec":
        return cls(LIVE, local=local, port=port, protocol=protocol)

    @classmethod
    def refused(cls, *, local: bool = True, protocol: str = "http") -> "ConnectionSpec":
        return cls(REFUSED, local=local, protocol=protocol)

    @classmethod
    def timeout(cls, *, local: bool = False, protocol: str = "http") -> "ConnectionSpec":
        return cls(TIMEOUT, local=local, protocol=protocol)

    @classmethod
    def relayed(cls, reach: str = LIVE, *, protocol: str = "http") -> "ConnectionSpec":
        return cls(reach, local=False, relay=True, protocol=protocol)


@dataclass(frozen=True)
class ServerSpec:
    """A server: its name, whether the account owns it, its catalog and connections."""

    name: str = "Fake Plex"
    owned: bool = True
    catalog: CatalogSpec = field(default_factory=CatalogSpec)
    connections: tuple[ConnectionSpec, ...] = (ConnectionSpec(),)
    running: bool = True
    machine_identifier: str | None = None
    access_token: str | None = None
    version: str = PMS_VERSION


@dataclass
class Connection:
    """A connection with its address resolved."""

    spec: ConnectionSpec
    address: str
    port: int

    @property
    def uri(self) -> str:
        return f"{self.spec.protocol}://{self.address}:{self.port}"


def _derived(text: str, length: int, alphabet: str = "0123456789abcdef") -> str:
    digest = hashlib.sha256(text.encode()).digest()
    return "".join(alphabet[byte % len(alphabet)] for byte in (digest * 2)[:length])


def derived_token(text: str) -> str:
    """A token-like string (20 characters, as real ones) derived from ``text``."""
    return _derived(text, 20, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


class FakePlexServer(LoopBound):
    """One fake PMS. Use ``async with FakePlexServer(spec, token=…) as server`` or via a cluster."""

    def __init__(
        self,
        spec: ServerSpec | None = None,
        *,
        token: str | None = None,
        clock: Callable[[], int] | None = None,
        tls: TlsFiles | None = None,
    ) -> None:
        self.spec = spec = spec or ServerSpec()
        self.name = spec.name
        self.owned = spec.owned
        self.version = spec.version
        self.clock = clock or (lambda: int(time.time()))
        self.machine_identifier = spec.machine_identifier or _derived(f"{spec.name}/{spec.catalog.seed}", 40)
        self.access_token = spec.access_token or derived_token(f"server/{self.machine_identifier}")
        self.catalog = build_catalog(spec.catalog, self.clock)
        #: Tokens this server accepts besides the owner account's (see `account_tokens`).
        self.tokens: set[str] = {self.access_token} | ({token} if token else set())
        #: The owning account's live tokens, shared with the fake plex.tv (owned servers only).
        self.account_tokens: set[str] | None = None
        self.notifier = Notifier()
        self.ignore_date_filters = False
        self.tls = tls
        self.connections: list[Connection] = []
        self.running = False
        self._sockets: dict[int, socket.socket] = {}
        self._held: list[socket.socket] = []
        self._services: list[HttpService] = []
        self._cache: OrderedDict[tuple[Any, ...], list[Item]] = OrderedDict()
        self.wire = Wire(name=self.name)
        self.wire.app = self._build_app()

    def _build_app(self) -> Starlette:
        from reeld.fakes.plex import pms_control, pms_images, pms_library, pms_playback, transcode

        routes = [
            *pms_control.routes(self),
            *pms_images.routes(self),
            *pms_library.routes(self),
            *pms_playback.routes(self),
            *transcode.routes(self),
        ]
        return Starlette(routes=routes)

    # -- lifecycle --------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The first live connection's URI (what a test talks to directly)."""
        live = [c for c in self.connections if c.spec.reach == LIVE]
        if not live:
            raise RuntimeError(f"{self.name} has no live connection")
        return next((c for c in live if c.spec.protocol == "http"), live[0]).uri

    async def open(self) -> None:
        """Bind every connection's address, then start serving if the spec says it runs."""
        if self.connections:
            raise RuntimeError(f"{self.name} is already open")
        self._bind_loop()
        for number, conn_spec in enumerate(self.spec.connections):
            if conn_spec.reach == LIVE:
                sock = refusing_socket(HOST, conn_spec.port)
                self._sockets[number] = sock
            elif conn_spec.reach == REFUSED:
                sock = refusing_socket()
                self._held.append(sock)
            else:
                sock = black_hole_socket()
                self._held.append(sock)
            address, port = sock.getsockname()[:2]
            self.connections.append(Connection(conn_spec, address, port))
        if self.spec.running:
            await self.start()

    async def start(self) -> None:
        """Listen on the live connections (a stopped server refuses them)."""
        if self.running:
            return
        by_protocol: dict[str, list[socket.socket]] = {}
        for number, placeholder in list(self._sockets.items()):
            connection = self.connections[number]
            placeholder.close()
            sock = listening_socket(HOST, connection.port)
            self._sockets[number] = sock
            by_protocol.setdefault(connection.spec.protocol, []).append(sock)
        for protocol, sockets in by_protocol.items():
            if protocol == "https" and self.tls is None:
                raise RuntimeError(f"{self.name}: an https connection needs TLS files")
            service = HttpService(self.wire, sockets, self.tls if protocol == "https" else None)
            await service.start()
            self._services.append(service)
        self.running = True
        log.debug("fake_pms_started", server=self.name, uris=[c.uri for c in self.connections])

    async def stop(self) -> None:
        """Stop listening; the ports stay reserved and refuse connections until `start`."""
        if not self.running:
            return
        for service in self._services:
            await service.stop()
        self._services.clear()
        for number in self._sockets:
            self._sockets[number] = refusing_socket(HOST, self.connections[number].port)
        self.running = False
        log.debug("fake_pms_stopped", server=self.name)

    async def close(self) -> None:
        await self.stop()
        for sock in [*self._sockets.values(), *self._held]:
            sock.close()
        self._sockets.clear()
        self._held.clear()

    async def __aenter__(self) -> "FakePlexServer":
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- requests ---------------------------------------------------------------------------------

    def accepts(self, token: str | None) -> bool:
        if not token:
            return False
        return token in self.tokens or (self.account_tokens is not None and token in self.account_tokens)

    def listing(
        self,
        section: Section,
        type_name: str,
        conditions: tuple[Condition, ...],
        sorts: tuple[SortField, ...],
    ) -> list[Item]:
        """A section's items of one type, filtered and sorted; cached until the catalog changes."""
        if self.ignore_date_filters:
            conditions = tuple(c for c in conditions if c.kind != DATE)
        now = self.clock()
        relative = any(v[:1] in ("-", "+") for c in conditions if c.kind == DATE for v in c.values)
        key = (section.id, type_name, conditions, sorts, self.catalog.version, now if relative else None)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        if conditions:
            # Filter the cached whole listing: sorting 100k items costs more than any filter.
            result = select(self.listing(section, type_name, (), sorts), conditions, now)
        else:
            result = order(self.catalog.of_type(section.id, type_name), sorts)
        self._cache[key] = result
        while len(self._cache) > _QUERY_CACHE_SIZE:
            self._cache.popitem(last=False)
        return result

    async def warm(self, fmt: str = JSON, flags: int = GUIDS) -> None:
        """Render every item for listings ahead of requests (about 30 µs an item when cold)."""
        items = list(self.catalog.items.values())
        for start in range(0, len(items), 2000):
            for item in items[start : start + 2000]:
                fragment(item, fmt, flags)
            await asyncio.sleep(0)  # let requests through between chunks

    @property
    def requests(self) -> list[RequestRecord]:
        return self.wire.requests

    @property
    def bytes_sent(self) -> int:
        return self.wire.bytes_sent

    # -- control ----------------------------------------------------------------------------------

    def item(self, rating_key: int | str) -> Item:
        found = self.catalog.get(rating_key)
        if found is None:
            raise KeyError(f"no item {rating_key}")
        return found

    def add_item(
        self,
        kind: str,
        title: str = "",
        *,
        parent: int | None = None,
        index: int | None = None,
        year: int | None = None,
        children: int = 0,
        grandchildren: int = 0,
    ) -> Item:
        """Add an item "now" (with ``children``/``grandchildren`` under a show or artist) and notify."""
        return self._on_loop(self._add_item, kind, title, parent, index, year, children, grandchildren)

    def _add_item(
        self,
        kind: str,
        title: str,
        parent: int | None,
        index: int | None,
        year: int | None,
        children: int,
        grandchildren: int,
    ) -> Item:
        parent_item = self.item(parent) if parent is not None else None
        now = self.clock()
        item = self.catalog.add(
            new_item(self.catalog, kind, title, parent=parent_item, index=index, year=year, now=now)
        )
        added = [item]
        child_kind = {SHOW: SEASON, ARTIST: ALBUM}.get(kind)
        leaf_kind = {SHOW: EPISODE, ARTIST: TRACK}.get(kind)
        for _ in range(children if child_kind else 0):
            child = self.catalog.add(new_item(self.catalog, str(child_kind), "", parent=item, now=now))
            added.append(child)
            for number in range(1, grandchildren + 1):
                leaf = new_item(self.catalog, str(leaf_kind), f"Episode {number}", parent=child, now=now)
                added.append(self.catalog.add(leaf))
        self.notifier.timeline(added, CREATED)
        self.notifier.timeline(added, PROCESSED)
        log.debug("fake_pms_added", server=self.name, kind=kind, rating_key=item.rating_key, count=len(added))
        return item

    def add_movie(self, title: str, *, year: int | None = None) -> Item:
        return self.add_item(MOVIE, title, year=year)

    def add_show(self, title: str, *, seasons: int = 1, episodes: int = 3, year: int | None = None) -> Item:
        return self.add_item(SHOW, title, year=year, children=seasons, grandchildren=episodes)

    def add_episode(self, season: int, title: str, *, index: int | None = None) -> Item:
        return self.add_item(EPISODE, title, parent=season, index=index)

    def update_item(self, rating_key: int | str, **fields: Any) -> Item:
        """Edit metadata (``title``, ``summary``, ``year``, ``rating``…): bumps ``updatedAt``, notifies."""
        return self._on_loop(self._update_item, rating_key, fields)

    def _update_item(self, rating_key: int | str, fields: dict[str, Any]) -> Item:
        item = self.catalog.update(self.item(rating_key), **fields)
        self.notifier.timeline([item], PROCESSED)
        return item

    def delete_item(self, rating_key: int | str) -> list[int]:
        """Delete an item and everything under it; notifies state 9 for each. Returns the keys."""
        return self._on_loop(self._delete_item, rating_key)

    def _delete_item(self, rating_key: int | str) -> list[int]:
        removed = self.catalog.remove(self.item(rating_key))
        self.notifier.timeline(removed, DELETED)
        return [item.rating_key for item in removed]

    def set_watched(self, rating_key: int | str, watched: bool = True, *, at: int | None = None) -> None:
        """Watched/unwatched "from another device": view counts change, ``updatedAt`` does not."""
        self._on_loop(lambda: self.catalog.set_watched(self.item(rating_key), watched, at))

    def set_progress(self, rating_key: int | str, offset_ms: int, *, at: int | None = None) -> bool:
        """A resume point "from another device"; past 90 % it marks watched (returns True then)."""
        return self._on_loop(lambda: self.catalog.set_progress(self.item(rating_key), offset_ms, at))

    def scan_section(self, section_id: int) -> None:
        """A library scan: ``activity`` started and ended notifications, ``scannedAt`` now."""
        self._on_loop(self._scan, section_id)

    def _scan(self, section_id: int) -> None:
        section = self.catalog.sections[section_id]
        self.notifier.scan(section, "started")
        section.scanned_at = self.clock()
        self.notifier.scan(section, "ended")

    def add_fault(self, fault: Fault) -> None:
        self._on_loop(self.wire.add_fault, fault)

    def clear_faults(self) -> None:
        """Remove faults, latency and the ignore-date-filters switch."""

        def clear() -> None:
            self.wire.clear_faults()
            self.ignore_date_filters = False

        self._on_loop(clear)

    def set_latency(self, seconds: float) -> None:
        self._on_loop(setattr, self.wire, "latency", seconds)

    def set_ignore_date_filters(self, ignore: bool = True) -> None:
        """Make listings ignore date filters (return everything), as some servers effectively do."""
        self._on_loop(setattr, self, "ignore_date_filters", ignore)

    def state(self) -> dict[str, Any]:
        """What a test needs to aim at this server, as JSON-ready data."""
        return {
            "name": self.name,
            "machineIdentifier": self.machine_identifier,
            "owned": self.owned,
            "running": self.running,
            "accessToken": self.access_token,
            "url": self.url if any(c.spec.reach == LIVE for c in self.connections) else None,
            "connections": [
                {"uri": c.uri, "reach": c.spec.reach, "local": c.spec.local, "relay": c.spec.relay}
                for c in self.connections
            ],
            "sections": [
                {
                    "id": s.id,
                    "type": s.type,
                    "title": s.title,
                    "count": len(self.catalog.of_type(s.id, s.type)),
                }
                for s in self.catalog.sections.values()
            ],
            "items": self.catalog.count(),
            "ignoreDateFilters": self.ignore_date_filters,
        }
