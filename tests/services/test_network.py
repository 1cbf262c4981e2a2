"""A change of network reaches reeld, once per change: going offline and online, and a new
connectivity, state or primary connection while online (each may make a server reachable)."""

import asyncio
from collections.abc import AsyncIterator

import pytest

from reeld.services.network import NetworkMonitor
from tests.support.bus import call
from tests.support.network_manager import MOCK_INTERFACE, MOCK_PATH, NM_NAME, Connectivity, NetworkManagerMock

NM_STATE_CONNECTED_GLOBAL, NM_STATE_CONNECTED_SITE = 70, 60


class Changes:
    """What the monitor passed on, awaitable."""

    def __init__(self) -> None:
        self.seen: list[bool] = []
        self._arrived = asyncio.Event()

    def __call__(self, online: bool) -> None:
        self.seen.append(online)
        self._arrived.set()

    async def next(self) -> bool:
        await asyncio.wait_for(self._arrived.wait(), 10)
        self._arrived.clear()
        return self.seen[-1]


@pytest.fixture
async def watching(
    network_manager: NetworkManagerMock, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[NetworkMonitor, Changes]]:
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", network_manager.address)
    network_manager.set_connectivity(Connectivity.FULL)
    changes = Changes()
    monitor = NetworkMonitor(changes)
    await monitor.start()
    yield monitor, changes
    await monitor.stop()


async def settled(changes: Changes, count: int) -> list[bool]:
    """The changes passed on once ``count`` arrived and a while more brought no other."""
    while len(changes.seen) < count:
        await changes.next()
    await asyncio.sleep(0.5)  # longer than the monitor's settling: a duplicate would be here by now
    return changes.seen


async def test_going_offline_and_online_is_passed_on_once_each(
    watching: tuple[NetworkMonitor, Changes], network_manager: NetworkManagerMock
) -> None:
    monitor, changes = watching
    network_manager.set_connectivity(Connectivity.NONE)
    assert await changes.next() is False and not monitor.online
    network_manager.set_connectivity(Connectivity.FULL)
    assert await settled(changes, 2) == [False, True]


async def test_a_better_connectivity_while_online_is_a_change(
    watching: tuple[NetworkMonitor, Changes], network_manager: NetworkManagerMock
) -> None:
    _, changes = watching
    network_manager.set_connectivity(Connectivity.LIMITED)  # still online: no flip, but a change
    assert await settled(changes, 1) == [True]
    network_manager.set_connectivity(Connectivity.FULL)
    assert await settled(changes, 2) == [True, True]


async def test_a_new_network_state_is_one_change(
    watching: tuple[NetworkMonitor, Changes], network_manager: NetworkManagerMock
) -> None:
    """NetworkManager announces a state twice (StateChanged and PropertiesChanged): passed on once."""
    _, changes = watching
    for state in (NM_STATE_CONNECTED_SITE, NM_STATE_CONNECTED_GLOBAL):
        call(
            network_manager.address,
            NM_NAME,
            MOCK_PATH,
            MOCK_INTERFACE,
            "SetGlobalConnectionState",
            "u",
            (state,),
        )
    assert await settled(changes, 1) == [True]
