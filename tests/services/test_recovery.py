"""A source that is away says when it is tried next (Source.NextRetry, StatusMessage), is tried at
once when the network changes, and shows how many watch changes wait for it (PendingChanges)."""

import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from reeld.bus.objects import SourceInterface
from reeld.config import Paths
from reeld.daemon import Daemon
from reeld.errors import BackendUnavailable
from reeld.models.source import SourceStatus
from reeld.services import events as ev
from reeld.services.source_coordinator import MAX_RETRY_PAUSE_S
from tests.support.events import Recorder, running
from tests.support.network_manager import Connectivity, NetworkManagerMock

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
