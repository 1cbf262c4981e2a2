"""plex.tv and its servers together, on one event loop: ``async with`` or ``run_in_thread()``."""

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable, Coroutine, Iterator, Sequence
from typing import Any, TypeVar

from reeld.fakes.plex.generate import CatalogSpec
from reeld.fakes.plex.network import TlsFiles, make_tls_files, serve_in_thread
from reeld.fakes.plex.plextv import FakePlexTV, PlayerSpec
from reeld.fakes.plex.pms import LIVE, ConnectionSpec, FakePlexServer, ServerSpec

T = TypeVar("T")


def default_specs(count: int, catalog: CatalogSpec | None = None, base_port: int = 0) -> list[ServerSpec]:
    """The standard layout (the CLI's): with ``base_port``, server ``i`` listens on ``base_port + i``.

    1. "Home" — owned, reachable: a local address that refuses, then a live remote one.
    2. … count-1. "Friend i" — shared (own access token), reachable remotely; a dead relay.
    count (≥ 2). "Cabin" — shared, offline: its local port refuses until started through the
       control API, its remote address never answers (clients time out).
    """
    catalog = catalog or CatalogSpec()
    specs = []
    for number in range(1, count + 1):
        port = base_port + number if base_port else 0
        seeded = dataclasses.replace(catalog, seed=catalog.seed + number - 1)
        if number == 1:
            connections = (ConnectionSpec.refused(local=True), ConnectionSpec.live(local=False, port=port))
            specs.append(ServerSpec("Home", owned=True, catalog=seeded, connections=connections))
        elif number < count:
            connections = (ConnectionSpec.live(local=False, port=port), ConnectionSpec.relayed("refused"))
            specs.append(ServerSpec(f"Friend {number}", owned=False, catalog=seeded, connections=connections))
        else:
            connections = (ConnectionSpec.live(local=True, port=port), ConnectionSpec.timeout(local=False))
            specs.append(
                ServerSpec("Cabin", owned=False, catalog=seeded, connections=connections, running=False)
            )
    return specs


class FakePlexCluster:
    """A fake plex.tv whose account lists fake servers. ``url`` is plex.tv's base URL.

    The catalogs are built by the constructor (about 2 s for 100k items): construct a big
    cluster before entering the event loop, or with ``asyncio.to_thread``.
    """

    def __init__(
        self,
        servers: Sequence[ServerSpec] | None = None,
        *,
        token: str = "fake-plex-token",
        username: str = "demo",
        password: str = "demo",
        port: int = 0,
        players: tuple[PlayerSpec, ...] = (PlayerSpec(),),
        clock: Callable[[], int] | None = None,
    ) -> None:
        specs = list(servers) if servers is not None else [ServerSpec()]
        self.port = port
        self.tls: TlsFiles | None = None
        if any(c.reach == LIVE and c.protocol == "https" for spec in specs for c in spec.connections):
            self.tls = make_tls_files()
        self.plex_tv = FakePlexTV(
            token=token, username=username, password=password, clock=clock, players=players
        )
        self.servers = [
            FakePlexServer(_unique(spec, number, specs), clock=clock, tls=self.tls)
            for number, spec in enumerate(specs)
        ]
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def url(self) -> str:
        return self.plex_tv.url

    @property
    def token(self) -> str:
        return self.plex_tv.account.token

    def server(self, name: str) -> FakePlexServer:
        return next(server for server in self.servers if server.name == name)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        try:
            for server in self.servers:
                await server.open()
                self.plex_tv.add_server(server)
            await self.plex_tv.open(self.port)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        await asyncio.gather(self.plex_tv.close(), *(server.close() for server in self.servers))

    async def warm(self) -> None:
        """Render every server's items for JSON listings now rather than on first request."""
        for server in self.servers:
            await server.warm()

    async def __aenter__(self) -> "FakePlexCluster":
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine (``server.stop()``…) on the cluster's loop from another thread."""
        if self._loop is None:
            raise RuntimeError("the cluster is not running")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=60)

    @contextlib.contextmanager
    def run_in_thread(self) -> Iterator[str]:
        """Serve from a thread with its own loop (for blocking clients such as plexapi); yields the URL."""
        with serve_in_thread(self.start, self.stop, name="fake-plex", timeout=120):
            yield self.url


def _unique(spec: ServerSpec, number: int, specs: list[ServerSpec]) -> ServerSpec:
    """Servers with the same name and seed would share a machine identifier: tell them apart."""
    twins = [other for other in specs if (other.name, other.catalog.seed) == (spec.name, spec.catalog.seed)]
    if len(twins) > 1 and spec.machine_identifier is None:
        return dataclasses.replace(spec, name=f"{spec.name} {number + 1}")
    return spec
