"""The daemon's bus connection (``reeld.bus.transport``): a full socket waits for dbus-daemon to
read, and a bus that really goes away stops the daemon with a non-zero exit and a logged reason.

A socket fills whenever dbus-daemon reads more slowly than a process writes. Here a connection sends
many large signals while dbus-daemon is stopped, so the second send finds the buffer full: what 20
busy clients did to the daemon's replies."""

import asyncio
import contextlib
import signal
import time
from collections.abc import Iterator

import pytest
from dbus_fast import Message, MessageType
from dbus_fast.aio import MessageBus

from reeld.bus.service import RootObjectManagerBus
from tests.conftest import StartReeld
from tests.support.bus import PrivateBus

SIGNALS = 24
PAYLOAD = 256 * 1024  # each signal is larger than a socket's whole send buffer (208 kB)
INTERFACE = "io.github.reeld.Test"


@contextlib.contextmanager
def bus_not_reading(bus: PrivateBus) -> Iterator[None]:
    """dbus-daemon stopped (SIGSTOP) for the block: whatever a client writes meanwhile stays in the
    client's socket, as when the bus is busy with other clients."""
    assert bus.process is not None
    bus.process.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        bus.process.send_signal(signal.SIGCONT)


def chunk(n: int) -> Message:
    return Message.new_signal("/burst", INTERFACE, "Chunk", "us", [n, chr(ord("a") + n % 26) * PAYLOAD])


def burst(bus: MessageBus) -> list[asyncio.Future[None]]:
    """Queue ``SIGNALS`` large signals without yielding to the event loop; their send futures
    (fewer when a send raises because the connection was dropped)."""
    sent = []
    for n in range(SIGNALS):
        try:
            sent.append(bus.send(chunk(n)))
        except OSError:  # dbus-fast alone: the socket was closed under it
            break
    return sent


async def listen(client: MessageBus) -> "asyncio.Queue[Message]":
    received: asyncio.Queue[Message] = asyncio.Queue()

    def on_message(message: Message) -> bool:
        if message.message_type == MessageType.SIGNAL and message.interface == INTERFACE:
            received.put_nowait(message)
        return False

    client.add_message_handler(on_message)
    reply = await client.call(
        Message(
            destination="org.freedesktop.DBus",
            path="/org/freedesktop/DBus",
            interface="org.freedesktop.DBus",
            member="AddMatch",
            signature="s",
            body=[f"type='signal',interface='{INTERFACE}'"],
        )
    )
    assert reply is not None and reply.message_type == MessageType.METHOD_RETURN
    return received


async def ping(bus: MessageBus) -> None:
    reply = await asyncio.wait_for(
        bus.call(
            Message(
                destination="org.freedesktop.DBus",
                path="/org/freedesktop/DBus",
                interface="org.freedesktop.DBus.Peer",
                member="Ping",
            )
        ),
        10,
    )
    assert reply is not None and reply.message_type == MessageType.METHOD_RETURN


async def test_a_full_socket_waits_and_every_message_arrives_whole_and_in_order(
    private_bus: PrivateBus, bus_client: MessageBus
) -> None:
    received = await listen(bus_client)
    bus = await RootObjectManagerBus(bus_address=private_bus.address).connect()
    try:
        with bus_not_reading(private_bus):
            sent = asyncio.gather(*burst(bus))
            await asyncio.sleep(0)  # the writer's turn: the socket is full, so it must wait
            assert bus.connected and not sent.done()
        await asyncio.wait_for(sent, 30)
        await ping(bus)
        assert bus.connected
        for n in range(SIGNALS):
            message = await asyncio.wait_for(received.get(), 10)
            number, text = message.body
            assert number == n
            assert text == chr(ord("a") + n % 26) * PAYLOAD
    finally:
        bus.disconnect()


async def test_dbus_fast_alone_still_drops_the_bus_on_a_full_socket(private_bus: PrivateBus) -> None:
    """Pins the upstream bug ``reeld.bus.transport`` works around. When a dbus-fast upgrade makes
    this fail, the bug is fixed there: remove ``PatientSocket`` and this test."""
    bus = await MessageBus(bus_address=private_bus.address).connect()
    try:
        with bus_not_reading(private_bus):
            sent = burst(bus)
        results = await asyncio.gather(*sent, return_exceptions=True)
        assert any(isinstance(result, BlockingIOError) for result in results)
        assert not bus.connected
        with pytest.raises(BlockingIOError):
            await asyncio.wait_for(bus.wait_for_disconnect(), 10)
    finally:
        bus.disconnect()


def test_a_lost_bus_stops_the_daemon_with_a_failure_exit_and_the_reason(
    private_bus: PrivateBus, daemon: StartReeld
) -> None:
    reeld = daemon()
    assert private_bus.process is not None
    private_bus.process.kill()  # dbus-daemon dies: reeld's connection ends without a goodbye
    private_bus.process.wait(timeout=5)
    code = reeld.wait_exit(timeout=20)
    assert code == 1, reeld.describe()
    log = reeld.stderr_text()
    assert "daemon_failed" in log and "the bus closed the connection" in log, log
    assert "Traceback" not in log, log


def test_a_stop_asked_for_still_exits_0(private_bus: PrivateBus, daemon: StartReeld) -> None:
    reeld = daemon()
    started = time.monotonic()
    assert reeld.stop() == 0
    assert time.monotonic() - started < 15
