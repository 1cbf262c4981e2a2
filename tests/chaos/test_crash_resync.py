"""A full sync a client asked for and a kill -9 cut short is done after the restart: the request
was kept in the cache, not only in the killed process."""

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from reeld.bus.constants import BUS_NAME, SOURCE_IFACE
from reeld.fakes.jellyfin import FakeJellyfin, FakeJellyfinServer
from tests.conftest import StartReeld
from tests.support.bus import PrivateBus, call, get_property
from tests.support.cli import reelctl_process as reelctl
from tests.support.keyring import KeyringDaemon
from tests.support.reeld import ReeldProcess

USER, PASSWORD = "anna", "pw-123"
#: Each listing request of the cut sync waits this long: the kill lands while it runs.
SLOW_S = 1.0


@pytest.fixture
def jellyfin() -> Iterator[str]:
    fake = FakeJellyfin.generate(movies=40, series=2, seasons=2, episodes=3, user=USER, password=PASSWORD)
    with FakeJellyfinServer(fake).run_in_thread() as url:
        yield url


def wait_until(holds: Callable[[], bool], what: str, reeld: ReeldProcess, timeout: float = 30.0) -> None:
    """Poll ``holds`` (a property read over the bus) until true; fail saying ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not holds():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not {what} after {timeout} s; {reeld.describe()}")
        time.sleep(0.05)


def test_a_full_sync_asked_for_and_cut_by_kill_9_is_redone_after_restart(
    private_bus: PrivateBus, keyring_daemon: KeyringDaemon, daemon: StartReeld, jellyfin: str
) -> None:
    url = jellyfin
    reeld = daemon()
    added = reelctl(
        private_bus, "add-jellyfin", url, "--user", USER, "--password-stdin", stdin=f"{PASSWORD}\n"
    )
    assert added.returncode == 0, added.stderr
    assert reelctl(private_bus, "sync").returncode == 0
    (source,) = json.loads(reelctl(private_bus, "--json", "sources").stdout)
    path = source["path"]

    def prop(name: str) -> Any:
        return get_property(private_bus.address, BUS_NAME, path, SOURCE_IFACE, name)

    full_before = prop("LastFullSync")
    time.sleep(1.1)  # LastFullSync counts seconds: the redone sync must show a later one
    httpx.post(f"{url}/__control/fault", json={"kind": "latency", "path": "/Items", "delay": SLOW_S})
    call(private_bus.address, BUS_NAME, path, SOURCE_IFACE, "Sync", "b", (True,))
    wait_until(lambda: prop("Syncing"), "syncing", reeld)
    reeld.kill()  # SIGKILL, mid-sync

    httpx.post(f"{url}/__control/clear")
    restarted = daemon()
    wait_until(lambda: prop("LastFullSync") > full_before, "fully synced again", restarted, timeout=60)
    assert prop("Status") == "connected"
