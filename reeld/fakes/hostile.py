"""Hostile HTTP servers on loopback, for the chaos tests and the benchmark.

A ``HostileServer`` serves an app (a fake Jellyfin, or nothing but a recorder) and turns chosen
requests hostile: a body of 2 GB, a body that never ends, a gzip bomb, an answer trickling one byte
a second, a listing whose count lies, a redirect to another origin. A plain ``HostileServer()``
is "the other origin": it answers ``{}`` and records every request it gets, body included, so a
test can show that no login ever reached it. ``tls=True`` serves https with a certificate no
client trusts (signed by a throwaway CA).
"""

import asyncio
import contextlib
import functools
import json
import struct
import threading
import zlib
from collections.abc import AsyncIterator, Iterator, MutableMapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from reeld.fakes.plex.network import (
    HOST,
    HttpService,
    TlsFiles,
    listening_socket,
    make_tls_files,
    serve_in_thread,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Any

MiB = 1024 * 1024
GiB = 1024 * MiB
#: How much a streamed hostile answer sends at a time.
CHUNK = MiB


class Hostility(StrEnum):
    HUGE = "huge"  # a body of `size` bytes, its length declared
    ENDLESS = "endless"  # a chunked body that never ends
    GZIP_BOMB = "gzip-bomb"  # `size` bytes of zeros, gzipped to about a thousandth of that
    TRICKLE = "trickle"  # the answer, one byte every `interval` seconds
    LYING_COUNT = "lying-count"  # the app's JSON answer with `count_field` set to `count`
    REDIRECT = "redirect"  # `status` to `location`, the request's path and query kept


@dataclass
class Hostile:
    """What to do to requests whose path starts with ``path`` (``""``: every request)."""

    kind: Hostility
    path: str = ""
    #: Only the path itself, not the paths under it (``/Items``, not ``/Items/1/Images/Primary``).
    exact: bool = False
    size: int = 2 * GiB
    interval: float = 1.0
    count: int = 10**12
    #: Where the count sits in the JSON answer: ``TotalRecordCount``, ``MediaContainer.totalSize``.
    count_field: str = "TotalRecordCount"
    location: str = ""
    status: int = 307
    #: REDIRECT: leave ``path`` out of where the request is sent (a server moved off a path prefix).
    strip: bool = False

    def matches(self, path: str) -> bool:
        return path == self.path if self.exact else path.startswith(self.path)


@dataclass
class Received:
    """One request as a server saw it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes = b""

    def carries(self, secret: str) -> bool:
        """Whether ``secret`` is anywhere in the request: its path, query, headers or body."""
        return secret in " ".join([self.path, self.query, *self.headers.values()]) or (
            secret.encode() in self.body
        )


@dataclass
class Stats:
    """What the hostile parts sent, for the benchmark."""

    hostile_answers: int = 0
    bytes_sent: int = 0
    disconnects: int = 0


class HostileApp:
    """Wraps ``app`` (``None``: answer ``{}``); records every request, with its body."""

    def __init__(self, app: ASGIApp | None, hostile: list[Hostile]) -> None:
        self.app = app
        self.hostile = hostile
        self.received: list[Received] = []
        self.stats = Stats()
        self._lock = threading.Lock()

    def _hostile_for(self, path: str) -> Hostile | None:
        with self._lock:
            return next((h for h in self.hostile if h.matches(path)), None)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            if self.app is not None:
                await self.app(scope, receive, send)
            return
        body, receive = await _read_body(receive)
        self.received.append(
            Received(
                method=scope["method"],
                path=scope["path"],
                query=scope.get("query_string", b"").decode("latin-1"),
                headers={k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]},
                body=body,
            )
        )
        hostile = self._hostile_for(scope["path"])
        if hostile is None:
            await self._normal(scope, receive, send)
            return
        self.stats.hostile_answers += 1
        if hostile.kind is Hostility.REDIRECT:
            await _redirect(send, scope, hostile)
        elif hostile.kind is Hostility.LYING_COUNT:
            await self._lying(scope, receive, send, hostile)
        else:
            await self._streamed(receive, send, hostile)

    async def _normal(self, scope: Scope, receive: Any, send: Any) -> None:
        if self.app is not None:
            await self.app(scope, receive, send)
            return
        await _whole(send, 200, b"{}")

    async def _lying(self, scope: Scope, receive: Any, send: Any, hostile: Hostile) -> None:
        status, headers, body = await _capture(self.app or _empty_object, scope, receive)
        try:
            answer = json.loads(body)
            *outer, last = hostile.count_field.split(".")
            target = functools.reduce(lambda value, key: value[key], outer, answer)
            if last in target:
                target[last] = hostile.count
                body = json.dumps(answer).encode()
        except (ValueError, KeyError, TypeError):
            pass  # not a listing: sent as it was
        kept = [(k, v) for k, v in headers if k.lower() not in (b"content-length", b"content-encoding")]
        await _whole(send, status, body, kept)

    async def _streamed(self, receive: Any, send: Any, hostile: Hostile) -> None:
        gone = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.create_task(watch())
        headers, chunks = _hostile_body(hostile)
        try:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            async for chunk in chunks:
                if gone.is_set():
                    self.stats.disconnects += 1
                    return
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                self.stats.bytes_sent += len(chunk)
            await send({"type": "http.response.body", "body": b""})
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher


def _hostile_body(hostile: Hostile) -> tuple[list[tuple[bytes, bytes]], AsyncIterator[bytes]]:
    json_type = (b"content-type", b"application/json")
    if hostile.kind is Hostility.HUGE:
        return [json_type, (b"content-length", str(hostile.size).encode())], _filler(hostile.size)
    if hostile.kind is Hostility.ENDLESS:
        return [json_type], _filler(None)
    if hostile.kind is Hostility.GZIP_BOMB:
        bomb = gzip_bomb(hostile.size)
        headers = [json_type, (b"content-encoding", b"gzip"), (b"content-length", str(len(bomb)).encode())]
        return headers, _pieces(bomb, 64 * 1024)
    if hostile.kind is Hostility.TRICKLE:
        answer = b'{"Items": [], "TotalRecordCount": 0}' + b" " * 1024
        return [json_type, (b"content-length", str(len(answer)).encode())], _trickle(answer, hostile.interval)
    raise ValueError(f"{hostile.kind} is no streamed answer")


async def _filler(size: int | None) -> AsyncIterator[bytes]:
    """The start of a JSON listing, then spaces: ``size`` bytes in all, or for ever."""
    head = b'{"Items": ['
    yield head
    sent = len(head)
    block = b" " * CHUNK
    while size is None or sent < size:
        piece = block if size is None else block[: size - sent]
        yield piece
        sent += len(piece)
        await asyncio.sleep(0)


async def _pieces(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]
        await asyncio.sleep(0)


async def _trickle(data: bytes, interval: float) -> AsyncIterator[bytes]:
    for offset in range(len(data)):
        yield data[offset : offset + 1]
        await asyncio.sleep(interval)


@functools.cache
def gzip_bomb(size: int) -> bytes:
    """A gzip body that inflates to ``size`` zero bytes (a whole number of MiB), about size/1000 long.

    Built from one compressed MiB repeated: a full flush resets the compressor, so every MiB of
    zeros compresses to the same bytes (building 1 GB the ordinary way takes seconds)."""
    zeros = bytes(MiB)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    blocks = size // MiB
    crc = 0
    for _ in range(blocks):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = deflate.flush() + struct.pack("<II", crc, (blocks * MiB) & 0xFFFFFFFF)
    return header + block * blocks + trailer


async def _read_body(receive: Any) -> tuple[bytes, Any]:
    """The request's body, and a ``receive`` that hands it to the app again."""
    messages: list[Message] = []
    body = b""
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        body += message.get("body", b"")
        if not message.get("more_body"):
            break

    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return body, replay


async def _capture(app: ASGIApp, scope: Scope, receive: Any) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    start: Message = {}
    body = bytearray()

    async def capture(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    await app(scope, receive, capture)
    return int(start.get("status", 200)), list(start.get("headers", [])), bytes(body)


async def _empty_object(scope: Scope, receive: Any, send: Any) -> None:
    await _whole(send, 200, b"{}")


async def _whole(
    send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = list(headers or [(b"content-type", b"application/json")])
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _redirect(send: Any, scope: Scope, hostile: Hostile) -> None:
    query = scope.get("query_string", b"").decode("latin-1")
    path = scope["path"].removeprefix(hostile.path) if hostile.strip else scope["path"]
    location = hostile.location.rstrip("/") + path + (f"?{query}" if query else "")
    headers = [(b"location", location.encode()), (b"content-length", b"0")]
    await send({"type": "http.response.start", "status": hostile.status, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


class HostileServer:
    """``HostileServer(app, hostile=[...])``: real HTTP (or https, untrusted) on 127.0.0.1."""

    def __init__(
        self, app: ASGIApp | None = None, hostile: list[Hostile] | None = None, tls: bool = False
    ) -> None:
        self.app = HostileApp(app, list(hostile or []))
        self.tls: TlsFiles | None = make_tls_files() if tls else None
        self._socket = listening_socket(HOST)
        self.port = self._socket.getsockname()[1]
        self.url = f"{'https' if tls else 'http'}://{HOST}:{self.port}"
        self._service = HttpService(self.app, [self._socket], tls=self.tls)

    @classmethod
    def jellyfin(cls, fake: Any, hostile: list[Hostile] | None = None, tls: bool = False) -> "HostileServer":
        """A fake Jellyfin (``reeld.fakes.jellyfin.FakeJellyfin``) behind the hostile parts."""
        from reeld.fakes.jellyfin.app import create_app
        from reeld.fakes.plex.wire import Wire

        wire = Wire(name="jellyfin")
        wire.app = create_app(fake, wire)
        return cls(wire, hostile, tls)

    @property
    def received(self) -> list[Received]:
        return self.app.received

    def turn(self, *hostile: Hostile) -> None:
        """From now on, these hostile parts (none: an honest server)."""
        with self.app._lock:
            self.app.hostile[:] = hostile

    async def start(self) -> None:
        await self._service.start()

    async def stop(self) -> None:
        await self._service.stop()

    async def __aenter__(self) -> "HostileServer":
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @contextlib.contextmanager
    def run_in_thread(self) -> Iterator[str]:
        """Serve from a thread with its own loop (for a daemon in another process); yields the URL."""
        with serve_in_thread(self.start, self.stop, name="hostile-http", timeout=60):
            yield self.url
