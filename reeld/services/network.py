"""Whether the system says we are online, and when its network changes, from NetworkManager on
the system bus.

No system bus, or no NetworkManager on it, means we cannot tell: reeld then assumes it is
online and lets each connection attempt speak for itself.

Every change NetworkManager reports that can make an unreachable server reachable (connectivity,
its overall state, a new primary connection, i.e. a new default route) is passed on, not only
going offline and online: a source that is away is tried at once instead of at the end of its
pause, and one that chooses among addresses chooses again. Changes that arrive together (NM
sends ``StateChanged`` and ``PropertiesChanged`` for one event) are passed on once.
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
#: NetworkManager properties whose change may make a server reachable again.
WATCHED = ("Connectivity", "State", "PrimaryConnection")
#: Changes within this long of each other are one change of network.
SETTLE_S = 0.2

MATCHES = (
    f"type='signal',sender='{NM_NAME}',path='{NM_PATH}',interface='{PROPERTIES}',member='PropertiesChanged'",
    f"type='signal',sender='{NM_NAME}',path='{NM_PATH}',interface='{NM_NAME}',member='StateChanged'",
)


class NetworkMonitor:
    """``on_change(online)`` is called when going offline or online, and (with ``True``) when the
    network changes while online."""

    def __init__(self, on_change: Callable[[bool], None]) -> None:
        self.online = True
        self._on_change = on_change
        self._bus: MessageBus | None = None
        self._settling: asyncio.TimerHandle | None = None

    async def start(self) -> None:
        try:
            async with asyncio.timeout(2.0):  # not wait_for: see reeld.aio
                self._bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
        except (OSError, TimeoutError, ValueError, Exception) as exc:  # no system bus: assume online
            log.info("network_state_unknown", reason=exc.__class__.__name__)
            return
        self._bus.add_message_handler(self._on_message)
        for match in MATCHES:
            await self._call(
                "org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus",
                "AddMatch",
                "s",
                [match],
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
        if message.path != NM_PATH or message.message_type != MessageType.SIGNAL:
            return False
        if message.member == "PropertiesChanged" and message.body and message.body[0] == NM_NAME:
            changed: dict[str, Variant] = message.body[1]
            flipped = "Connectivity" in changed and self._update(int(changed["Connectivity"].value))
            if not flipped and any(name in changed for name in WATCHED):
                self._network_changed()
        elif message.member == "StateChanged" and message.interface == NM_NAME:
            self._network_changed()
        return False

    def _update(self, connectivity: int) -> bool:
        """Whether we went online or offline (passed on at once)."""
        online = connectivity != CONNECTIVITY_NONE
        if online == self.online:
            return False
        if self._settling is not None:  # this change covers the one settling
            self._settling.cancel()
            self._settling = None
        self.online = online
        log.info("network_changed", online=online)
        self._on_change(online)
        return True

    def _network_changed(self) -> None:
        """Pass a change of network on once it has settled (and only while online: going offline
        was passed on already)."""
        if self._settling is not None:
            self._settling.cancel()
        self._settling = asyncio.get_running_loop().call_later(SETTLE_S, self._settled)

    def _settled(self) -> None:
        self._settling = None
        if self.online:
            log.info("network_changed", online=True)
            self._on_change(True)

    async def stop(self) -> None:
        if self._settling is not None:
            self._settling.cancel()
        if self._bus is not None:
            with contextlib.suppress(Exception):
                self._bus.disconnect()
