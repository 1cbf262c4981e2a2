"""A source that is away says when it is tried next (Source.NextRetry, StatusMessage), is tried at
once when the network changes, and shows how many watch changes wait for it (PendingChanges)."""

import re
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from dbus_fast import Message

from reeld.bus.objects import SourceInterface
from reeld.config import Paths
from reeld.daemon import Daemon
from reeld.errors import BackendUnavailable
from reeld.fakes.media_folder import make_sample_folder
from reeld.models.source import SourceStatus
from reeld.services import events as ev
from reeld.services.source_coordinator import MAX_RETRY_PAUSE_S
from tests.conftest import StartReeld
from tests.support.bus import PrivateBus
from tests.support.events import Recorder, running
from tests.support.network_manager import Connectivity, NetworkManagerMock
from tests.test_daemon_e2e import Client, add_folder

from .memory_backend import Catalog, MemoryKind, memory_account, movie

SOURCE = "local_mem"
GONE = "Connection refused by 127.0.0.1:9"


@pytest.fixture
def catalog() -> Catalog:
    return Catalog(libraries={"movies": [movie(n) for n in range(20)]})


@pytest.fixture
async def started(tmp_path: Path, catalog: Catalog) -> AsyncIterator[tuple[Daemon, Recorder]]:
    paths = Paths(config_dir=tmp_path / "config", state_dir=tmp_path / "state")
    daemon = Daemon(paths, kinds=[MemoryKind(catalog)], watch_network=False)
    async with running(daemon) as recorder:
        await daemon.add_account(memory_account(), {})
        assert (await recorder.sync_finished()).success
        yield daemon, recorder


def bus_view(daemon: Daemon) -> dict[str, object]:
    """The source's properties as a client reads them."""
    return SourceInterface(daemon, SOURCE).snapshot()


async def away(daemon: Daemon, recorder: Recorder, catalog: Catalog) -> None:
    """The server goes away during a sync; returns once the source says when it is tried again."""
    catalog.fail_page = (0, BackendUnavailable(GONE))
    catalog.fail_connect = catalog.fail_watch = BackendUnavailable(GONE)
    assert not await daemon.sync.sync(SOURCE, full=True)
    await recorder.wait(
        lambda e: isinstance(e, ev.SourceChanged) and daemon.coordinator.get(SOURCE).state.next_retry > 0, 20
    )


def back(catalog: Catalog, recorder: Recorder) -> None:
    """The server is back (and what the test awaits next is new)."""
    recorder.events.clear()
    catalog.fail_page = None
    catalog.fail_connect = catalog.fail_watch = None


async def test_a_source_away_says_when_it_is_tried_next(
    started: tuple[Daemon, Recorder], catalog: Catalog
) -> None:
    daemon, recorder = started
    before = time.time()
    await away(daemon, recorder, catalog)
    seen = bus_view(daemon)
    assert seen["Status"] == "offline"
    next_retry = int(str(seen["NextRetry"]))
    assert before - 1 <= next_retry <= time.time() + MAX_RETRY_PAUSE_S * 1.25 + 1
    said = re.fullmatch(rf"{GONE}; trying again in (\d+) s", str(seen["StatusMessage"]))
    assert said is not None, seen["StatusMessage"]
    assert abs(before + int(said.group(1)) - next_retry) <= 2
    # Back: connected, and no try planned any more.
    back(catalog, recorder)
    daemon.reconnect(SOURCE)
    await recorder.wait(lambda e: isinstance(e, ev.SourceConnected), 20)
    seen = bus_view(daemon)
    assert (
        seen["Status"] == "connected"
        and seen["NextRetry"] == 0
        and "trying again" not in str(seen["StatusMessage"])
    )


async def test_a_later_try_is_said_as_a_time_of_day(
    started: tuple[Daemon, Recorder], catalog: Catalog
) -> None:
    daemon, recorder = started
    daemon.coordinator.get(SOURCE).backoff.attempt = 40  # hours away: the pause is at its cap
    await away(daemon, recorder, catalog)
    state = daemon.coordinator.get(SOURCE).state
    assert state.next_retry - time.time() <= MAX_RETRY_PAUSE_S * 1.25 + 1
    expected = time.strftime("%H:%M", time.localtime(state.next_retry))
    assert state.message == GONE and state.status_message == f"{GONE}; trying again at {expected}"


async def test_watch_changes_waiting_for_a_server_are_counted(
    started: tuple[Daemon, Recorder], catalog: Catalog
) -> None:
    daemon, recorder = started
    assert bus_view(daemon)["PendingChanges"] == 0
    await away(daemon, recorder, catalog)
    await daemon.set_watched(f"{SOURCE}:m1", True)
    await daemon.report_progress(f"{SOURCE}:m2", 61_000, "stopped")
    assert bus_view(daemon)["PendingChanges"] == 2
    back(catalog, recorder)
    daemon.reconnect(SOURCE)
    await recorder.wait(
        lambda e: isinstance(e, ev.SourceChanged) and bus_view(daemon)["PendingChanges"] == 0, 20
    )
    assert catalog.sent == [("watched", "m1", 0), ("stopped", "m2", 61_000)]


async def test_a_change_of_network_tries_a_source_away_at_once(
    network_manager: NetworkManagerMock,
    monkeypatch: pytest.MonkeyPatch,
    catalog: Catalog,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", network_manager.address)
    network_manager.set_connectivity(Connectivity.LIMITED)  # online, behind a captive portal, say
    paths = Paths(config_dir=tmp_path / "config", state_dir=tmp_path / "state")
    daemon = Daemon(paths, kinds=[MemoryKind(catalog)], watch_network=True)
    async with running(daemon) as recorder:
        await daemon.add_account(memory_account(), {})
        assert (await recorder.sync_finished()).success
        daemon.coordinator.get(SOURCE).backoff.attempt = 40  # the next try minutes away
        await away(daemon, recorder, catalog)
        assert daemon.coordinator.get(SOURCE).state.next_retry > time.time() + 30
        back(catalog, recorder)
        network_manager.set_connectivity(Connectivity.FULL)  # a better network: try now
        await recorder.wait(lambda e: isinstance(e, ev.SourceConnected), 10)
        assert daemon.coordinator.get(SOURCE).state.status is SourceStatus.CONNECTED


async def test_a_client_sees_when_an_unplugged_folder_is_tried_again(
    private_bus: PrivateBus, daemon: StartReeld, tmp_path: Path
) -> None:
    """Over the bus, with PropertiesChanged: NextRetry and the words in StatusMessage while the
    folder is missing, both gone once it is back."""
    sample = make_sample_folder(tmp_path / "media", movies=3, shows=1, seasons=1, episodes=2)
    first = daemon()
    client = await Client.connect(private_bus.address)
    try:
        _, source = await add_folder(client, sample.root)
        first.stop()
        shutil.move(sample.root, tmp_path / "unplugged")
        daemon()

        def changed(m: Message, name: str) -> Any:
            return (
                m.body[1][name].value
                if m.member == "PropertiesChanged" and m.path == source and name in m.body[1]
                else None
            )

        planned = await client.wait_signal(lambda m: bool(changed(m, "NextRetry")))
        assert time.time() - 1 <= changed(planned, "NextRetry") <= time.time() + MAX_RETRY_PAUSE_S * 1.25 + 1
        assert "; trying again in " in await client.prop(source, "Source", "StatusMessage")
        assert await client.prop(source, "Source", "Status") == "offline"
        client.signals.clear()  # what comes next is new
        shutil.move(tmp_path / "unplugged", sample.root)
        await client.wait_signal(lambda m: changed(m, "Status") == "connected")
        assert await client.prop(source, "Source", "NextRetry") == 0
        assert "trying again" not in await client.prop(source, "Source", "StatusMessage")
        assert await client.prop(source, "Source", "PendingChanges") == 0
    finally:
        client.bus.disconnect()
