"""reelctl's side of the bus: calls to reeld, its object tree, and its signals as they arrive.

Plain messages rather than introspected proxies: one round trip per call, nothing to introspect.
"""

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from dbus_fast import BusType, Message, MessageType
from dbus_fast.aio import MessageBus

from reeld.bus.constants import BUS_NAME, MANAGER_IFACE, ROOT_PATH
from reeld.cli.output import unwrap
from reeld.cli.reelctl.errors import BusUnavailable, DaemonNotRunning, ReelctlError, error_from_dbus

DBUS_NAME = "org.freedesktop.DBus"
DBUS_PATH = "/org/freedesktop/DBus"
PROPERTIES_IFACE = "org.freedesktop.DBus.Properties"
OBJECT_MANAGER_IFACE = "org.freedesktop.DBus.ObjectManager"

CONNECT_TIMEOUT_S = 10.0
# Long enough for bus activation to start the daemon and open its cache.
CALL_TIMEOUT_S = 60.0

# path -> interface -> property -> value (unwrapped), as GetManagedObjects answers.
Objects = dict[str, dict[str, dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class Signal:
    """A signal from reeld (or the bus saying reeld's name changed owner), with unwrapped args."""

    path: str
    interface: str
    member: str
    args: list[Any]

    @property
    def is_name_owner_change(self) -> bool:
        return self.member == "NameOwnerChanged" and self.interface == DBUS_NAME


class ReeldClient:
    """A connection to the bus, speaking to ``io.github.reeld.Reeld1``."""

    def __init__(self, bus: MessageBus, address: str | None) -> None:
        self.bus = bus
        self.address = address
        self._queues: list[asyncio.Queue[Signal]] = []
        self._subscribed = False

    @classmethod
    async def connect(cls, address: str | None = None) -> "ReeldClient":
        """Connect to ``address``, or the session bus; ``BusUnavailable`` when that fails."""
        where = f"the D-Bus bus at {address}" if address else "the D-Bus session bus"
        try:
            bus = MessageBus(bus_address=address) if address else MessageBus(bus_type=BusType.SESSION)
            await asyncio.wait_for(bus.connect(), CONNECT_TIMEOUT_S)
        except TimeoutError:
            raise BusUnavailable(f"cannot connect to {where}: it did not answer") from None
        except Exception as exc:  # any failure to reach the bus is reported the same way
            reason = str(exc) or exc.__class__.__name__
            raise BusUnavailable(f"cannot connect to {where} ({reason})") from None
        return cls(bus, address)

    def disconnect(self) -> None:
        with contextlib.suppress(Exception):
            self.bus.disconnect()

    # -- calls ---------------------------------------------------------------------------------------

    async def call(
        self,
        path: str,
        interface: str,
        member: str,
        signature: str = "",
        body: tuple[Any, ...] = (),
        destination: str = BUS_NAME,
    ) -> list[Any]:
        """Call a method; its reply's values unwrapped. D-Bus errors become ``ReelctlError`` s."""
        message = Message(
            destination=destination,
            path=path,
            interface=interface,
            member=member,
            signature=signature,
            body=list(body),
        )
        try:
            reply = await asyncio.wait_for(self.bus.call(message), CALL_TIMEOUT_S)
        except TimeoutError:
            raise ReelctlError(f"the daemon did not answer {member} within {CALL_TIMEOUT_S:.0f} s") from None
        except (EOFError, OSError):
            raise BusUnavailable("lost the connection to the D-Bus bus") from None
        if reply.message_type == MessageType.ERROR:
            text = reply.body[0] if reply.body and isinstance(reply.body[0], str) else ""
            raise error_from_dbus(reply.error_name or "", text)
        return list(unwrap(reply.body))

    async def manager(self, member: str, signature: str = "", *args: Any) -> Any:
        """Call a Manager method; its single value (or ``None``, or a list for several)."""
        values = await self.call(ROOT_PATH, MANAGER_IFACE, member, signature, args)
        if not values:
            return None
        return values[0] if len(values) == 1 else values

    async def properties(self, path: str, interface: str) -> dict[str, Any]:
        (values,) = await self.call(path, PROPERTIES_IFACE, "GetAll", "s", (interface,))
        return dict(values)

    async def objects(self) -> Objects:
        """Every object reeld exports, with all its properties (the first call starts the daemon)."""
        (tree,) = await self.call(ROOT_PATH, OBJECT_MANAGER_IFACE, "GetManagedObjects")
        return dict(tree)

    async def daemon_running(self) -> bool:
        (owned,) = await self.call(
            DBUS_PATH, DBUS_NAME, "NameHasOwner", "s", (BUS_NAME,), destination=DBUS_NAME
        )
        return bool(owned)

    # -- signals -------------------------------------------------------------------------------------

    async def subscribe(self) -> asyncio.Queue[Signal]:
        """A queue that receives every reeld signal from now on, and reeld's name changing owner.

        Subscribe before making the call whose effects you want to see, so none is missed.
        """
        queue: asyncio.Queue[Signal] = asyncio.Queue()
        self._queues.append(queue)
        if not self._subscribed:
            self._subscribed = True
            self.bus.add_message_handler(self._on_message)
            for rule in (
                f"type='signal',sender='{BUS_NAME}',path_namespace='{ROOT_PATH}'",
                f"type='signal',sender='{DBUS_NAME}',interface='{DBUS_NAME}',"
                f"member='NameOwnerChanged',arg0='{BUS_NAME}'",
            ):
                await self.call(DBUS_PATH, DBUS_NAME, "AddMatch", "s", (rule,), destination=DBUS_NAME)
        return queue

    def _on_message(self, message: Message) -> None:
        if message.message_type != MessageType.SIGNAL:
            return
        path = message.path or ""
        from_reeld = path == ROOT_PATH or path.startswith(ROOT_PATH + "/")
        name_change = (
            message.member == "NameOwnerChanged" and bool(message.body) and message.body[0] == BUS_NAME
        )
        if not (from_reeld or name_change):
            return
        signal = Signal(path, message.interface or "", message.member or "", list(unwrap(message.body)))
        for queue in self._queues:
            queue.put_nowait(signal)


async def next_signal(queue: "asyncio.Queue[Signal]") -> Signal:
    """The next signal; ``DaemonNotRunning`` if it says reeld has left the bus."""
    signal = await queue.get()
    if signal.is_name_owner_change and not signal.args[2]:
        raise DaemonNotRunning("the reeld daemon stopped")
    return signal
