"""PMS playback endpoints: scrobble, timeline and progress reports, media files, notifications
(images are in ``pms_images``)."""

import asyncio
import itertools
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket

from reeld.fakes.plex.catalog import TRACK, Item, Part
from reeld.fakes.plex.notify import LIBRARY
from reeld.fakes.plex.render import Node
from reeld.fakes.plex.responses import (
    bad_request,
    guarded,
    html_error,
    not_found,
    pms_response,
    response_format,
)
from reeld.fakes.plex.wire import request_token

if TYPE_CHECKING:
    from reeld.fakes.plex.pms import FakePlexServer

_BLOCK = 65_536
_MKV_MAGIC = b"\x1aE\xdf\xa3"
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_STATES = ("playing", "paused", "stopped", "buffering")


def part_bytes(part: Part, start: int, end: int) -> Iterator[bytes]:
    """Bytes ``start..end`` (inclusive) of a part: a 64 KiB block derived from its id, repeated."""
    seed = f" reeld fake media part {part.id} ".encode()
    block = (_MKV_MAGIC + seed * (_BLOCK // len(seed) + 1))[:_BLOCK]
    position = start
    while position <= end:
        offset = position % _BLOCK
        length = min(_BLOCK - offset, end - position + 1)
        yield block[offset : offset + length]
        position += length


def routes(server: "FakePlexServer") -> list[BaseRoute]:
    api = _Playback(server)
    return [
        Route("/:/scrobble", guarded(server, api.scrobble), methods=["GET", "PUT"]),
        Route("/:/unscrobble", guarded(server, api.unscrobble), methods=["GET", "PUT"]),
        Route("/:/timeline", guarded(server, api.timeline), methods=["GET", "POST"]),
        Route("/:/progress", guarded(server, api.progress), methods=["GET", "PUT", "POST"]),
        Route("/library/parts/{pid:int}/{changed}/{filename}", guarded(server, api.part), methods=["GET"]),
        WebSocketRoute("/:/websockets/notifications", api.notifications),
        # The community spec's spelling; real servers answer on the plural path above.
        WebSocketRoute("/:/websocket/notifications", api.notifications),
    ]


class _Playback:
    def __init__(self, server: "FakePlexServer") -> None:
        self.server = server
        self.catalog = server.catalog
        self._sessions: dict[str, str] = {}
        self._session_numbers = itertools.count(1)

    def _item_from(self, request: Request, *names: str) -> Item | None:
        for name in names:
            value = request.query_params.get(name)
            if value:
                return self.catalog.get(value.rsplit("/", 1)[-1])
        return None

    async def scrobble(self, request: Request) -> Response:
        return self._mark(request, watched=True)

    async def unscrobble(self, request: Request) -> Response:
        return self._mark(request, watched=False)

    def _mark(self, request: Request, watched: bool) -> Response:
        identifier = request.query_params.get("identifier")
        if not identifier or not (request.query_params.get("key") or request.query_params.get("uri")):
            return bad_request()
        item = self._item_from(request, "key", "uri")
        if identifier != LIBRARY or item is None:
            return not_found()
        self.catalog.set_watched(item, watched)
        return Response(b"", media_type="text/html")

    def _session(self, request: Request) -> tuple[str, str]:
        client = request.headers.get("x-plex-client-identifier") or request.query_params.get(
            "X-Plex-Client-Identifier", "unknown"
        )
        if client not in self._sessions:
            self._sessions[client] = str(next(self._session_numbers))
        return self._sessions[client], client

    def _report(self, request: Request, item: Item, state: str, offset: int) -> None:
        if offset > 0 and item.is_leaf:
            self.catalog.set_progress(item, offset)
        session, client = self._session(request)
        self.server.notifier.playing(item, state, offset, session, client)

    async def timeline(self, request: Request) -> Response:
        params = request.query_params
        state = params.get("state", "")
        item = self._item_from(request, "ratingKey", "key")
        if state not in _STATES or not params.get("time", "").isdigit():
            return bad_request()
        if item is None:
            return not_found()
        self._report(request, item, state, int(params["time"]))
        return pms_response(response_format(request), Node("MediaContainer", {"size": 0}))

    async def progress(self, request: Request) -> Response:
        params = request.query_params
        item = self._item_from(request, "key")
        if params.get("identifier") != LIBRARY or not params.get("time", "").isdigit():
            return bad_request()
        if item is None:
            return not_found()
        self._report(request, item, params.get("state", "stopped"), int(params["time"]))
        return Response(b"", media_type="text/html")

    async def part(self, request: Request) -> Response:
        part = self.catalog.parts.get(request.path_params["pid"])
        if part is None:
            return not_found()
        owner = self.catalog.part_owner[part.id]
        media_type = "audio/flac" if owner.type == TRACK else "video/x-matroska"
        headers = {"Accept-Ranges": "bytes", "Content-Type": media_type}
        start, end, status = 0, part.size - 1, 200
        wanted = request.headers.get("range")
        if wanted:
            bounds = _byte_range(wanted, part.size)
            if bounds is None:
                response = html_error(416, "Requested Range Not Satisfiable")
                response.headers["Content-Range"] = f"bytes */{part.size}"
                return response
            start, end, status = bounds[0], bounds[1], 206
            headers["Content-Range"] = f"bytes {start}-{end}/{part.size}"
        headers["Content-Length"] = str(end - start + 1)
        if request.method == "HEAD":
            return Response(b"", status_code=status, headers=headers)
        return StreamingResponse(part_bytes(part, start, end), status_code=status, headers=headers)

    async def notifications(self, websocket: WebSocket) -> None:
        self.server.notifier.attempts += 1
        if self.server.notifier.refusal is not None:
            await websocket.send_denial_response(
                Response("Not Found", status_code=self.server.notifier.refusal)
            )
            return
        if not self.server.accepts(request_token(websocket.scope)):
            await websocket.close(code=1008)
            return
        wanted = _filters(websocket.query_params.get("filters", "-log"))
        # Subscribed before the handshake completes: nothing published after connect is missed.
        queue = self.server.notifier.subscribe()
        closed = asyncio.create_task(_until_closed(websocket))
        try:
            await websocket.accept()
            while True:
                getter = asyncio.create_task(queue.get())
                done, _ = await asyncio.wait({getter, closed}, return_when=asyncio.FIRST_COMPLETED)
                if closed in done:
                    getter.cancel()
                    return
                kind, text = getter.result()
                if wanted(kind):
                    await websocket.send_text(text)
        finally:
            self.server.notifier.unsubscribe(queue)
            closed.cancel()


async def _until_closed(websocket: WebSocket) -> None:
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass


def _filters(text: str) -> "_KindFilter":
    """``filters=-log`` (all but logs, the default), ``filters=a,b`` (only those), ``filters=`` (all)."""
    names = [name for name in text.split(",") if name]
    excluded = {name[1:] for name in names if name.startswith("-")}
    included = {name for name in names if not name.startswith("-")}
    return _KindFilter(included, excluded)


class _KindFilter:
    def __init__(self, included: set[str], excluded: set[str]) -> None:
        self.included, self.excluded = included, excluded

    def __call__(self, kind: str) -> bool:
        return kind not in self.excluded and (not self.included or kind in self.included)


def _byte_range(header: str, size: int) -> tuple[int, int] | None:
    match = _RANGE.fullmatch(header.strip())
    if not match or (not match.group(1) and not match.group(2)):
        return None
    first, last = match.groups()
    if not first:  # the last N bytes
        length = int(last)
        return (max(0, size - length), size - 1) if length > 0 else None
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        return None
    return start, end
