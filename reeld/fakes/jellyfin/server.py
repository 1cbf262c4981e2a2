"""Serving a ``FakeJellyfin`` on loopback: inside a running loop, from a thread, or standalone."""

import contextlib
from collections.abc import Iterator
from types import TracebackType

from reeld.fakes.jellyfin.app import create_app
from reeld.fakes.jellyfin.catalog import FakeJellyfin
from reeld.fakes.plex.network import HOST, HttpService, listening_socket, serve_in_thread
from reeld.fakes.plex.wire import Wire


class FakeJellyfinServer:
    """``async with FakeJellyfinServer(fake) as server: server.url`` — real HTTP on 127.0.0.1."""

    def __init__(self, fake: FakeJellyfin, port: int = 0) -> None:
        self.fake = fake
        self.wire = Wire(name="jellyfin")
        self.wire.app = create_app(fake, self.wire)
        self._socket = listening_socket(HOST, port)
        self.port = self._socket.getsockname()[1]
        self.url = f"http://{HOST}:{self.port}"
        self._service = HttpService(self.wire, [self._socket])

    async def start(self) -> None:
        await self._service.start()

    async def stop(self) -> None:
        await self._service.stop()

    async def __aenter__(self) -> "FakeJellyfinServer":
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @contextlib.contextmanager
    def run_in_thread(self) -> Iterator[str]:
        """Serve from a thread with its own loop (for blocking code); yields the URL."""
        with serve_in_thread(self.start, self.stop, name="fake-jellyfin", timeout=60):
            yield self.url
