"""Calls to reeld's interfaces are noted as client activity (artwork prefetch gives way to them)."""

from dbus_fast import Message
from dbus_fast.aio import MessageBus

from reeld.bus.constants import MANAGER_IFACE
from reeld.bus.service import RootObjectManagerBus
from tests.support.bus import PrivateBus


async def test_every_call_to_reelds_interfaces_is_noted_and_nothing_else(private_bus: PrivateBus) -> None:
    noted: list[None] = []
    service = await RootObjectManagerBus(
        bus_address=private_bus.address, on_call=lambda: noted.append(None)
    ).connect()
    client = await MessageBus(bus_address=private_bus.address).connect()
    try:
        search = Message(
            destination=service.unique_name,
            path="/nowhere",
            interface=MANAGER_IFACE,
            member="Search",
            signature="su",
            body=["dark", 5],
        )
        reply = await client.call(search)
        assert reply is not None and reply.error_name == "org.freedesktop.DBus.Error.UnknownObject"
        assert len(noted) == 1
        # The bus's own interfaces (a ping, properties, the object tree) are not a client browsing.
        ping = Message(
            destination=service.unique_name, path="/", interface="org.freedesktop.DBus.Peer", member="Ping"
        )
        await client.call(ping)
        assert len(noted) == 1
    finally:
        client.disconnect()
        service.disconnect()
