"""Whether the system says we are online, from NetworkManager on the system bus.

No system bus, or no NetworkManager on it, means we cannot tell: reeld then assumes it is
online and lets each connection attempt speak for itself.
"""

import asyncio
import contextlib
from collections.abc import Callable

import structlog
from dbus_fast import BusType, Message, MessageType, Variant
from dbus_fast.aio import MessageBus

log = structlog.get_logger(__name__)

NM_NAME = "org.freedesktop.NetworkManager"
NM_PATH = "/org/freedesktop/NetworkManager"
PROPERTIES = "org.freedesktop.DBus.Properties"
# NMConnectivityState: 0 unknown, 1 none, 2 portal, 3 limited, 4 full.
CONNECTIVITY_NONE = 1


class NetworkMonitor:
    def __init__(self, on_change: Callable[[bool], None]) -> None:
        self.online = True
        self._on_change = on_change
        self._bus: MessageBus | None = None

    async def start(self) -> None:
        try:
            async with asyncio.timeout(2.0):  # not wait_for: see reeld.aio
                self._bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
        except (OSError, TimeoutError, ValueError, Exception) as exc:  # no system bus: assume online
            log.info("network_state_unknown", reason=exc.__class__.__name__)
            return
        self._bus.add_message_handler(self._on_message)
        match = f"type='signal',sender='{NM_NAME}',path='{NM_PATH}',interface='{PROPERTIES}',member='PropertiesChanged'"
        await self._call(
            "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "AddMatch", "s", [match]
        )
        reply = await self._call(NM_NAME, NM_PATH, PROPERTIES, "Get", "ss", [NM_NAME, "Connectivity"])
        if reply is not None and reply.message_type == MessageType.METHOD_RETURN:
            self._update(int(reply.body[0].value))

    async def _call(
        self, dest: str, path: str, iface: str, member: str, sig: str, body: list[object]
    ) -> Message | None:
        assert self._bus is not None
        try:
            async with asyncio.timeout(2.0):  # not wait_for: see reeld.aio
                return await self._bus.call(
                    Message(
                        destination=dest, path=path, interface=iface, member=member, signature=sig, body=body
                    )
                )
        except (TimeoutError, Exception) as exc:
            log.info("network_query_failed", member=member, reason=exc.__class__.__name__)
            return None

    def _on_message(self, message: Message) -> bool:
        if message.member == "PropertiesChanged" and message.path == NM_PATH and message.body[0] == NM_NAME:
            changed: dict[str, Variant] = message.body[1]
            if "Connectivity" in changed:
                self._update(int(changed["Connectivity"].value))
        return False

    def _update(self, connectivity: int) -> None:
        online = connectivity != CONNECTIVITY_NONE
        if online != self.online:
            self.online = online
            log.info("network_changed", online=online)
            self._on_change(online)

    async def stop(self) -> None:
        if self._bus is not None:
            with contextlib.suppress(Exception):
                self._bus.disconnect()
