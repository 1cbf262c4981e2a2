"""Live updates from Jellyfin's websocket (``/socket``).

The server asks for keep-alives (``ForceKeepAlive``, with a timeout in seconds); we send them at
half that period and treat a socket that stays silent for twice the period as dead, because a
half-open TCP connection would otherwise wait forever (the failure Kodi add-ons are known for).

The socket authenticates as every other request does (the ``Authorization: MediaBrowser …
Token="…"`` header) and with the ``ApiKey`` query parameter, which every server version takes;
the legacy ``api_key`` and ``X-Emby-Token`` forms are refused by default from Jellyfin 12.
"""

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import structlog
from websockets.exceptions import WebSocketException

from reeld.backends.base import ChangeSet
from reeld.backends.jellyfin.client import JellyfinClient, authorization
from reeld.backends.jellyfin.dto import UserDataDto
from reeld.backends.jellyfin.mapping import watch_state
from reeld.backends.live import OPENED, FetchItems, LiveUpdatesInterrupted, open_live_updates
from reeld.backends.typed import convert_each

log = structlog.get_logger(__name__)

DEFAULT_KEEPALIVE_S = 30.0


def socket_url(base_url: str, token: str, device_id: str) -> str:
    scheme = "wss" if base_url.startswith("https") else "ws"
    return f"{scheme}{base_url[base_url.index(':') :]}/socket?" + urlencode(
        {"ApiKey": token, "deviceId": device_id}
    )


@dataclass(frozen=True, slots=True)
class _Listener:
    """What handling a message needs: whose changes count, and how to fetch the items named."""

    source_id: str
    user_id: str
    fetch_items: FetchItems


async def watch_socket(
    client: JellyfinClient, user_id: str, fetch_items: FetchItems, source_id: str
) -> AsyncGenerator[ChangeSet, None]:
    """Changes for ``user_id`` on the server ``client`` talks to, as they happen; ``fetch_items``
    fetches the items a message names."""
    listener = _Listener(source_id, user_id, fetch_items)
    url = socket_url(client.base_url, client.token or "", client.device_id)
    connection = await open_live_updates(
        url,
        client.host,
        additional_headers={"Authorization": authorization(client.device_id, client.token)},
        ping_interval=None,
    )
    log.info("live_updates_connected", source=source_id)
    keepalive = _KeepAlive(connection)
    try:
        yield OPENED
        while True:
            try:
                async with asyncio.timeout(keepalive.period * 2):  # not wait_for: see reeld.aio
                    raw = await connection.recv()
            except TimeoutError:
                raise LiveUpdatesInterrupted(f"{client.host}: live updates went silent") from None
            except WebSocketException:
                raise LiveUpdatesInterrupted(f"{client.host}: the live-updates connection dropped") from None
            change = await _handle(listener, keepalive, raw)
            if change is not None:
                yield change
    finally:
        keepalive.stop()
        with contextlib.suppress(Exception):
            await connection.close()


class _KeepAlive:
    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.period = DEFAULT_KEEPALIVE_S
        self._task: asyncio.Task[None] | None = None

    def start(self, period: float) -> None:
        self.period = max(1.0, period)
        self.stop()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        with contextlib.suppress(WebSocketException):
            while True:
                await self.connection.send(json.dumps({"MessageType": "KeepAlive"}))
                await asyncio.sleep(self.period / 2)

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


async def _handle(listener: _Listener, keepalive: _KeepAlive, raw: str | bytes) -> ChangeSet | None:
    try:
        message = json.loads(raw)
        return await _apply(listener, keepalive, message.get("MessageType"), message.get("Data"))
    except (json.JSONDecodeError, AttributeError, TypeError, ValueError):  # a message of the wrong shape
        log.warning("live_update_unreadable", source=listener.source_id)
        return None


async def _apply(listener: _Listener, keepalive: _KeepAlive, kind: Any, data: Any) -> ChangeSet | None:
    if kind == "ForceKeepAlive":
        keepalive.start(float(data or DEFAULT_KEEPALIVE_S))
        return None
    if kind == "LibraryChanged" and isinstance(data, dict):
        removed = [str(i) for i in data.get("ItemsRemoved") or []]
        changed = list(
            dict.fromkeys(str(i) for i in (data.get("ItemsAdded") or []) + (data.get("ItemsUpdated") or []))
        )
        upserts = await listener.fetch_items(changed) if changed else []
        return ChangeSet(upserts=upserts, deleted=removed)
    if kind == "UserDataChanged" and isinstance(data, dict):
        if str(data.get("UserId", "")).replace("-", "") != listener.user_id.replace("-", ""):
            return None
        user_data = convert_each(data.get("UserDataList") or [], UserDataDto)
        states = [watch_state(d.item_id, d) for d in user_data if d.item_id]
        return ChangeSet(watch_states=states)
    return None
