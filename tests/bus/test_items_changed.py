"""``Library.ItemsChanged`` reaches a client within a second of the cause, whatever the cause:
a change made on another device, a rename on the server, another client's ``SetWatched``, a file
added to a watched folder. The daemon runs as users run it, on a private bus."""

import asyncio
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from dbus_fast import Message

from reeld.fakes.jellyfin import FakeJellyfin, FakeJellyfinServer
from reeld.fakes.media_folder import make_sample_folder
from reeld.fakes.plex import CatalogSpec, ConnectionSpec, FakePlexCluster, ServerSpec
from tests.conftest import StartReeld
from tests.support.bus import PrivateBus
from tests.support.keyring import KeyringDaemon
from tests.test_daemon_e2e import IFACE, Client, add_folder, libraries

#: The issue's bound from cause to signal; the signal itself is sent within 250 ms of the write.
WITHIN_S = 1.0
USER, PASSWORD = "anna", "pw-123"


def items_changed(library: str, changed: str | None = None, removed: str | None = None) -> Any:
    def match(message: Message) -> bool:
        return (
            message.member == "ItemsChanged"
            and message.path == library
            and (changed is None or changed in message.body[0])
            and (removed is None or removed in message.body[1])
        )

    return match


async def first_id(client: Client, library: str) -> str:
    (items,) = await client.call(library, f"{IFACE}.Library", "ListItems", "uus", 0, 1, "")
    return str(items[0]["id"].value)


async def test_another_clients_set_watched_and_files_in_a_watched_folder_are_signalled(
    private_bus: PrivateBus, daemon: StartReeld, client_for: Any, tmp_path: Path
) -> None:
    sample = make_sample_folder(tmp_path / "media", movies=5, shows=1, seasons=1, episodes=2)
    daemon()
    frontend = await client_for(private_bus)
    other = await client_for(private_bus)
    _, source = await add_folder(frontend, sample.root)
    movies = (await libraries(frontend, source))["Movies"]
    movie = await first_id(frontend, movies)
    frontend.signals.clear()

    started = time.monotonic()
    await other.manager("SetWatched", "sb", movie, True)
    signal = await frontend.wait_signal(items_changed(movies, changed=movie), timeout=10)
    assert time.monotonic() - started < WITHIN_S
    assert signal.body[2] is False  # one item: its id, not a reload

    # The watcher starts after the first sync: a probe tells when it listens.
    for attempt in range(40):
        probe = sample.root / f"Probe.Film.{1990 + attempt}.mkv"
        probe.write_bytes(b"probe")
        with contextlib.suppress(TimeoutError):
            await frontend.wait_signal(
                items_changed(movies, changed=f"{source_id(source)}:{probe.name}"), 0.5
            )
            break
    else:
        pytest.fail("the folder watcher never reported a probe file")

    arrival = sample.root / "Fresh.Arrival.2024.1080p.mkv"
    started = time.monotonic()
    arrival.write_bytes(b"new file\n")
    await frontend.wait_signal(items_changed(movies, changed=f"{source_id(source)}:{arrival.name}"), 10)
    assert time.monotonic() - started < WITHIN_S

    started = time.monotonic()
    arrival.unlink()
    await frontend.wait_signal(items_changed(movies, removed=f"{source_id(source)}:{arrival.name}"), 10)
    assert time.monotonic() - started < WITHIN_S


def source_id(source_path: str) -> str:
    return source_path.rsplit("/", 1)[1]


@pytest.fixture
def jellyfin() -> Iterator[tuple[FakeJellyfin, str]]:
    fake = FakeJellyfin.generate(movies=12, series=2, seasons=1, episodes=3, user=USER, password=PASSWORD)
    with FakeJellyfinServer(fake).run_in_thread() as url:
        yield fake, url


async def test_a_play_and_a_rename_on_the_server_are_signalled(
    private_bus: PrivateBus,
    keyring_daemon: KeyringDaemon,
    daemon: StartReeld,
    client_for: Any,
    jellyfin: tuple[FakeJellyfin, str],
) -> None:
    _, url = jellyfin
    daemon()
    frontend = await client_for(private_bus)
    (account,) = await frontend.manager("AddJellyfinAccount", "sss", url, USER, PASSWORD)
    source = account.replace("/accounts/", "/sources/")
    finished = await frontend.sync_finished(source)
    assert finished.body[1], finished.body[2]
    movies = (await libraries(frontend, source))["Movies"]
    movie = await first_id(frontend, movies)
    remote_id = movie.split(":", 1)[1]
    async with httpx.AsyncClient(base_url=url) as control:
        await wait_for_socket(control)
        frontend.signals.clear()

        started = time.monotonic()
        await mutate(control, action="played", user=USER, id=remote_id, played=True)
        await frontend.wait_signal(items_changed(movies, changed=movie), timeout=10)
        assert time.monotonic() - started < WITHIN_S
        assert await watched(frontend, movie)

        started = time.monotonic()
        await mutate(control, action="update", id=remote_id, name="Renamed Elsewhere")
        await frontend.wait_signal(items_changed(movies, changed=movie), timeout=10)
        assert time.monotonic() - started < WITHIN_S
        (item,) = await frontend.manager("GetItem", "s", movie)
        assert item["title"].value == "Renamed Elsewhere"


async def mutate(control: httpx.AsyncClient, **body: Any) -> None:
    response = await control.post("/__control/mutate", json=body)
    response.raise_for_status()


async def wait_for_socket(control: httpx.AsyncClient, stats: str = "/__control/stats") -> None:
    """Until the daemon's live-updates socket is connected (the fake counts its listeners)."""
    async with asyncio.timeout(20):
        while not (await control.get(stats)).json().get("listeners"):
            await asyncio.sleep(0.05)


async def watched(client: Client, item_id: str) -> bool:
    (item,) = await client.manager("GetItem", "s", item_id)
    return bool(item["watched"].value)


@pytest.fixture
def plex() -> Iterator[tuple[FakePlexCluster, str]]:
    catalog = CatalogSpec(movies=12, shows=1, seasons=1, episodes=3)
    home = ServerSpec("Home", catalog=catalog, connections=(ConnectionSpec.live(local=True),))
    cluster = FakePlexCluster([home])
    with cluster.run_in_thread() as url:
        yield cluster, url


async def test_a_play_on_another_plex_device_and_a_rename_are_signalled(
    private_bus: PrivateBus,
    keyring_daemon: KeyringDaemon,
    daemon: StartReeld,
    client_for: Any,
    plex: tuple[FakePlexCluster, str],
) -> None:
    cluster, url = plex
    daemon(env={"REELD_PLEX_TV_URL": url})
    frontend = await client_for(private_bus)
    await frontend.manager("AddPlexAccount", "s", cluster.token)
    finished = await frontend.sync_finished()
    assert finished.body[1], finished.body[2]
    source = finished.body[0]
    movies = (await libraries(frontend, source))["Movies"]
    movie = await first_id(frontend, movies)
    rating_key = movie.split(":", 1)[1]
    other_device = {"X-Plex-Token": cluster.token, "X-Plex-Client-Identifier": "another-device"}
    async with httpx.AsyncClient(base_url=cluster.server("Home").url, headers=other_device) as server:
        await wait_for_socket(server, "/__control/notifications")
        frontend.signals.clear()

        started = time.monotonic()
        playing = {"ratingKey": rating_key, "key": f"/library/metadata/{rating_key}", "state": "playing"}
        response = await server.get("/:/timeline", params={**playing, "time": "60000"})
        response.raise_for_status()
        await frontend.wait_signal(items_changed(movies, changed=movie), timeout=10)
        assert time.monotonic() - started < WITHIN_S
        (item,) = await frontend.manager("GetItem", "s", movie)
        assert item["position_ms"].value == 60_000

        started = time.monotonic()
        response = await server.patch(f"/__control/items/{rating_key}", json={"title": "Renamed Elsewhere"})
        response.raise_for_status()
        await frontend.wait_signal(items_changed(movies, changed=movie), timeout=10)
        assert time.monotonic() - started < WITHIN_S
        (item,) = await frontend.manager("GetItem", "s", movie)
        assert item["title"].value == "Renamed Elsewhere"
