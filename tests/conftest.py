"""Fixtures for tests that need real D-Bus parts: a private bus, a Secret Service, reeld itself,
a NetworkManager mock and real clients. Everything runs for real; every wait has a deadline and
every process is stopped at teardown, also when the test fails. Helpers live in ``tests.support``."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator, Mapping

import pytest
from dbus_fast.aio import MessageBus

from tests.support.bus import PrivateBus, call, name_has_owner, start_bus
from tests.support.glib_om import GlibObjectManagerClient, StartGlibClient, start_glib_client
from tests.support.keyring import SECRETS_NAME, KeyringDaemon, start_keyring_daemon
from tests.support.network_manager import NetworkManagerMock, start_network_manager
from tests.support.procs import stop_process
from tests.support.reeld import BUS_NAME, ROOT_PATH, ReeldProcess, StartReeld, start_reeld


@pytest.fixture
def private_bus() -> Iterator[PrivateBus]:
    """A private session bus with a temp home: ``.address``, ``.services_dir``, ``.env()``."""
    bus = start_bus("session")
    try:
        yield bus
    finally:
        bus.stop()


@pytest.fixture(scope="session")
def shared_private_bus() -> Iterator[PrivateBus]:
    """One private session bus for the whole run, for read-only tests that leave nothing behind."""
    bus = start_bus("session")
    try:
        yield bus
    finally:
        bus.stop()


@pytest.fixture
def keyring_daemon(private_bus: PrivateBus) -> Iterator[KeyringDaemon]:
    """gnome-keyring-daemon on ``private_bus``, login keyring unlocked; read secrets back with
    ``.secret_tool_lookup(**attributes)`` or ``.keyring_get(service, username)``."""
    daemon = start_keyring_daemon(private_bus)
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture
def no_secret_service(private_bus: PrivateBus) -> PrivateBus:
    """``private_bus``, checked to have no Secret Service running or activatable."""
    assert not name_has_owner(private_bus.address, SECRETS_NAME)
    (activatable,) = call(
        private_bus.address,
        "org.freedesktop.DBus",
        "/org/freedesktop/DBus",
        "org.freedesktop.DBus",
        "ListActivatableNames",
    )
    assert SECRETS_NAME not in activatable
    return private_bus


@pytest.fixture
def network_manager(private_bus: PrivateBus) -> Iterator[NetworkManagerMock]:
    """A NetworkManager mock on its own private system bus. While it runs, ``private_bus.env()``
    (and so every daemon started by the ``daemon`` fixture) points DBUS_SYSTEM_BUS_ADDRESS at it."""
    mock = start_network_manager()
    previous = private_bus.system_bus_address
    private_bus.system_bus_address = mock.address
    try:
        yield mock
    finally:
        private_bus.system_bus_address = previous
        mock.stop()


@pytest.fixture
def daemon(private_bus: PrivateBus) -> Iterator[StartReeld]:
    """Factory: ``daemon(*args, env=None, wait=True, timeout=20.0) -> ReeldProcess`` starts reeld on
    ``private_bus`` and (with ``wait``) returns once it owns ``io.github.reeld.Reeld1``. The wait
    blocks: an async test whose own bus objects must keep answering meanwhile can use
    ``await asyncio.to_thread(daemon)``. Every daemon still running at teardown is stopped."""
    started: list[ReeldProcess] = []

    def start(
        *args: str, env: Mapping[str, str] | None = None, wait: bool = True, timeout: float = 20.0
    ) -> ReeldProcess:
        process = start_reeld(private_bus, args, env, wait=False, number=len(started))
        started.append(process)
        if wait:
            process.wait_for_name(timeout=timeout)
        return process

    try:
        yield start
    finally:
        for process in started:
            stop_process(process.proc, timeout=10)


@pytest.fixture
async def bus_client(private_bus: PrivateBus) -> AsyncIterator[MessageBus]:
    """A dbus-fast client connection to ``private_bus``."""
    bus = await asyncio.wait_for(MessageBus(bus_address=private_bus.address).connect(), 10)
    try:
        yield bus
    finally:
        bus.disconnect()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(bus.wait_for_disconnect(), 5)


@pytest.fixture
def glib_om_client(private_bus: PrivateBus) -> Iterator[StartGlibClient]:
    """Factory: ``glib_om_client(name=BUS_NAME, path=ROOT_PATH, autostart=False)`` starts a GLib
    ObjectManager client on ``private_bus``; await its events with ``.wait_for`` /
    ``.async_wait_for``. Needs /usr/bin/python3 with python3-gi."""
    clients: list[GlibObjectManagerClient] = []

    def start(
        name: str = BUS_NAME, path: str = ROOT_PATH, autostart: bool = False
    ) -> GlibObjectManagerClient:
        client = start_glib_client(private_bus, name, path, autostart)
        clients.append(client)
        return client

    try:
        yield start
    finally:
        for client in clients:
            client.close()
