"""Opening a server's live-updates websocket, with every failure as a reeld error (once, here).

A socket that cannot be opened says nothing about the server: a proxy without websocket support
answers 404 (or 403, 502…) to the socket and passes every other request. So every failure to open
it is ``LiveUpdatesRefused``; whoever listens asks the server's REST API whether the server itself
is away or refuses the login, and otherwise keeps the source connected without live updates.
"""

from collections.abc import Awaitable, Callable
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import InvalidStatus, WebSocketException

from reeld.backends.base import ChangeSet
from reeld.errors import ReeldError
from reeld.models.media import MediaItem

MAX_MESSAGE_BYTES = 16 * 2**20

#: Yielded by a live-updates generator once its connection is open: a sign of life, no change.
OPENED = ChangeSet()

#: Items by their ids on the server, as a live-updates listener fetches what a message names.
FetchItems = Callable[[list[str]], Awaitable[list[MediaItem]]]


class LiveUpdatesInterrupted(ReeldError):
    """The socket died after it was open; the server may well be fine. Reconnect later."""


class LiveUpdatesRefused(ReeldError):
    """The socket could not be opened (an HTTP status, a failed handshake, no connection). Said in
    words that follow "live updates unavailable: "."""


#: How long closing waits for the server's answer: a stop must not wait on a server that is gone.
CLOSE_TIMEOUT_S = 2.0


async def open_live_updates(url: str, name: str, **options: Any) -> ClientConnection:
    """Connect to ``url`` (``name`` says which server in messages). ``options`` go to
    ``websockets.connect``."""
    try:
        return await websockets.connect(
            url, open_timeout=10, close_timeout=CLOSE_TIMEOUT_S, max_size=MAX_MESSAGE_BYTES, **options
        )
    except InvalidStatus as exc:
        raise LiveUpdatesRefused(f"{name} refused the connection (HTTP {exc.response.status_code})") from None
    except (OSError, TimeoutError, WebSocketException) as exc:
        raise LiveUpdatesRefused(f"{name}: {_in_words(exc)}") from None


def _in_words(exc: Exception) -> str:
    """Why a connection failed, for a person (not a Python class name)."""
    if isinstance(exc, ConnectionRefusedError):
        return "the connection was refused"
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    if isinstance(exc, WebSocketException):
        return "the server did not accept a websocket"
    strerror = exc.strerror if isinstance(exc, OSError) else None
    return strerror or "the network failed"
