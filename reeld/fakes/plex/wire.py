"""What happens on the wire around the fake apps: the request log, byte counters and injected faults.

`Wire` is the outermost ASGI app that uvicorn calls, so it sees uvicorn's own ``send`` and can
reach the connection's transport to drop it or cut a body short. Control requests
(``/__control/…``) are never logged or faulted.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl

import structlog

log = structlog.get_logger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CONTROL_PREFIX = "/__control"


class FaultKind(StrEnum):
    STATUS = "status"  # answer with `status` (5xx by default) and a small HTML body
    UNAUTHORIZED = "unauthorized"  # answer 401 as if the token had been revoked
    MALFORMED = "malformed"  # a complete response whose body does not parse
    EMPTY = "empty"  # 200 with no body at all (a proxy, or a server restarting)
    TRUNCATED = "truncated"  # headers promise the whole body, half arrives, the connection closes
    DROP = "drop"  # close the connection without answering
    LATENCY = "latency"  # answer normally after `delay` seconds


@dataclass
class Fault:
    """A fault for requests whose path starts with ``path`` (is ``path``, when it ends in ``$``), for
    ``times`` requests (None: until cleared)."""

    kind: FaultKind
    path: str = ""
    times: int | None = None
    status: int = 503
    delay: float = 0.0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Fault":
        return cls(
            kind=FaultKind(data["kind"]),
            path=str(data.get("path", "")),
            times=data.get("times"),
            status=int(data.get("status", 503)),
            delay=float(data.get("delay", 0.0)),
        )


@dataclass
class RequestRecord:
    """One request as the server saw it. ``status`` is None when the connection was dropped."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    port: int
    token: str | None
    status: int | None = None
    sent: int = 0
    fault: str | None = None
    at: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "port": self.port,
            "token": self.token,
            "status": self.status,
            "sent": self.sent,
            "fault": self.fault,
            "at": self.at,
        }


def request_token(scope: Scope) -> str | None:
    """``X-Plex-Token`` from the headers or, as clients also send it, the query string."""
    for name, value in scope.get("headers", ()):
        if name.lower() == b"x-plex-token":
            return str(value.decode("latin-1"))
    for name, value in parse_qsl(scope.get("query_string", b"").decode("latin-1")):
        if name == "X-Plex-Token":
            return value
    return None


class Wire:
    """Logs and counts requests, and applies faults before or after the wrapped app answers."""

    def __init__(self, *, name: str) -> None:
        self.app: ASGIApp = _no_app
        self.name = name
        self.faults: list[Fault] = []
        self.latency = 0.0
        self.requests: list[RequestRecord] = []
        self.bytes_sent = 0
        self._answered: list[tuple[Callable[[RequestRecord], bool], asyncio.Future[RequestRecord]]] = []

    async def answered(self, matches: Callable[[RequestRecord], bool], within_s: float = 10) -> RequestRecord:
        """The first request from now on that ``matches``, once the server has answered it (for
        tests awaiting what a client does in the background)."""
        future: asyncio.Future[RequestRecord] = asyncio.get_running_loop().create_future()
        self._answered.append((matches, future))
        try:
            async with asyncio.timeout(within_s):
                return await future
        finally:
            self._answered = [entry for entry in self._answered if entry[1] is not future]

    def reset_log(self) -> None:
        self.requests.clear()
        self.bytes_sent = 0

    def add_fault(self, fault: Fault) -> None:
        self.faults.append(fault)

    def clear_faults(self) -> None:
        self.faults.clear()
        self.latency = 0.0

    def _take_fault(self, path: str) -> Fault | None:
        for fault in self.faults:
            if path == fault.path[:-1] if fault.path.endswith("$") else path.startswith(fault.path):
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                return fault
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]
        }
        record = RequestRecord(
            method=scope["method"],
            path=scope["path"],
            query=dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)),
            headers=headers,
            port=(scope.get("server") or ("", 0))[1],
            token=request_token(scope),
        )
        self.requests.append(record)
        fault = self._take_fault(scope["path"])
        delay = self.latency + (fault.delay if fault and fault.kind == FaultKind.LATENCY else 0.0)
        if delay > 0:
            await asyncio.sleep(delay)
        if fault is not None and fault.kind != FaultKind.LATENCY:
            record.fault = fault.kind.value
            log.debug("fake_fault", server=self.name, kind=fault.kind.value, path=scope["path"])
        counted = self._counting(send, record)
        if fault is None or fault.kind == FaultKind.LATENCY:
            await self.app(scope, receive, counted)
        elif fault.kind == FaultKind.DROP:
            await _drop(send, receive)
        elif fault.kind in (FaultKind.STATUS, FaultKind.UNAUTHORIZED):
            status = 401 if fault.kind == FaultKind.UNAUTHORIZED else fault.status
            await _plain(counted, status)
        elif fault.kind == FaultKind.EMPTY:
            await counted(
                {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]}
            )
            await counted({"type": "http.response.body", "body": b""})
        else:
            await self._mangled(fault.kind, scope, receive, send, counted)
        for matches, future in list(self._answered):
            if not future.done() and matches(record):
                future.set_result(record)

    def _counting(self, send: Send, record: RequestRecord) -> Send:
        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                record.status = message["status"]
            elif message["type"] == "http.response.body":
                size = len(message.get("body", b""))
                record.sent += size
                self.bytes_sent += size
            await send(message)

        return counted

    async def _mangled(
        self, kind: FaultKind, scope: Scope, receive: Receive, send: Send, counted: Send
    ) -> None:
        start: Message = {}
        body = bytearray()

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))

        await self.app(scope, receive, capture)
        half = bytes(body[: len(body) // 2])
        if kind == FaultKind.MALFORMED:
            broken = half + b"\x00<<not what it seems"
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(broken)).encode()))
            await counted(
                {"type": "http.response.start", "status": start.get("status", 200), "headers": headers}
            )
            await counted({"type": "http.response.body", "body": broken})
            return
        await counted(dict(start))
        await counted({"type": "http.response.body", "body": half, "more_body": True})
        await _drop(send, receive)


async def _no_app(scope: Scope, receive: Receive, send: Send) -> None:
    await _plain(send, 503)


async def _plain(send: Send, status: int) -> None:
    title = {401: "Unauthorized", 500: "Internal Server Error", 503: "Service Unavailable"}.get(
        status, "Error"
    )
    body = f"<html><head><title>{title}</title></head><body><h1>{status} {title}</h1></body></html>".encode()
    headers = [(b"content-type", b"text/html"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _drop(send: Send, receive: Receive) -> None:
    """Close the connection under the request, then wait until uvicorn has noticed."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:  # not uvicorn's h11 cycle: the closest thing is an error mid-answer
        raise ConnectionAbortedError("fault: drop")
    transport.abort()
    while (await receive())["type"] != "http.disconnect":
        pass
