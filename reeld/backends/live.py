"""Opening a server's live-updates websocket, with every failure as a reeld error (once, here)."""

from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import InvalidStatus, WebSocketException

from reeld.errors import AuthRequired, BackendUnavailable, ReeldError

MAX_MESSAGE_BYTES = 16 * 2**20


class LiveUpdatesInterrupted(ReeldError):
    """The socket died after it was open; the server may well be fine. Reconnect later."""


#: How long closing waits for the server's answer: a stop must not wait on a server that is gone.
CLOSE_TIMEOUT_S = 2.0


async def open_live_updates(url: str, name: str, rejected: str, **options: Any) -> ClientConnection:
    """Connect to ``url`` (``name`` says which server in messages; ``rejected`` is the message when
    it refuses the credentials). ``options`` go to ``websockets.connect``."""
    try:
        return await websockets.connect(
            url, open_timeout=10, close_timeout=CLOSE_TIMEOUT_S, max_size=MAX_MESSAGE_BYTES, **options
        )
    except InvalidStatus as exc:
        if exc.response.status_code in (401, 403):
            raise AuthRequired(rejected) from None
        raise BackendUnavailable(f"{name} refused live updates (HTTP {exc.response.status_code})") from None
    except (OSError, TimeoutError, WebSocketException) as exc:
        raise BackendUnavailable(f"{name}: live updates cannot connect ({_in_words(exc)})") from None


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
