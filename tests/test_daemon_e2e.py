"""The daemon as users run it: a subprocess on a private bus, driven over D-Bus."""

import asyncio
import contextlib
import shutil
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from dbus_fast import Message, MessageType, Variant
from dbus_fast.aio import MessageBus

from reeld.fakes.media_folder import make_sample_folder
from tests.conftest import StartReeld
from tests.support.bus import PrivateBus
from tests.support.cli import busctl
from tests.support.cli import reelctl_process as reelctl
from tests.support.network_manager import Connectivity, NetworkManagerMock

NAME = "io.github.reeld.Reeld1"
ROOT = "/io/github/reeld/Reeld1"
IFACE = "io.github.reeld.Reeld1"


class Client:
    """A dbus-fast client that records signals, so a test can await the one it needs."""

    def __init__(self, bus: MessageBus) -> None:
        self.bus = bus
        self.signals: list[Message] = []
        self._changed = asyncio.Event()
        bus.add_message_handler(self._on_message)

    @classmethod
    async def connect(cls, address: str) -> "Client":
        bus = await MessageBus(bus_address=address).connect()
        client = cls(bus)
        await client.call(
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "AddMatch",
            "s",
            f"type='signal',sender='{NAME}'",
            destination="org.freedesktop.DBus",
        )
        return client

    def _on_message(self, message: Message) -> bool:
        if message.message_type == MessageType.SIGNAL:
            self.signals.append(message)
            self._changed.set()
        return False

    async def call(
        self, path: str, iface: str, member: str, sig: str = "", *body: Any, destination: str = NAME
    ) -> list[Any]:
        reply = await asyncio.wait_for(
            self.bus.call(
                Message(
                    destination=destination,
                    path=path,
                    interface=iface,
                    member=member,
                    signature=sig,
                    body=list(body),
                )
            ),
            20,
        )
        assert reply is not None
        if reply.message_type == MessageType.ERROR:
            raise RuntimeError(f"{reply.error_name}: {reply.body[0] if reply.body else ''}")
        return list(reply.body)

    async def manager(self, member: str, sig: str = "", *body: Any) -> list[Any]:
        return await self.call(ROOT, f"{IFACE}.Manager", member, sig, *body)

    async def prop(self, path: str, iface: str, name: str) -> Any:
        (value,) = await self.call(
            path, "org.freedesktop.DBus.Properties", "Get", "ss", f"{IFACE}.{iface}", name
        )
        return value.value

    async def wait_signal(self, match: Callable[[Message], bool], timeout: float = 30) -> Message:
        async with asyncio.timeout(timeout):
            while True:
                for message in self.signals:
                    if match(message):
                        self.signals.remove(message)
                        return message
                self._changed.clear()
                await self._changed.wait()

    async def sync_finished(self, source: str | None = None) -> Message:
        return await self.wait_signal(
            lambda m: m.member == "SyncFinished" and (source is None or m.body[0] == source), timeout=60
        )


@pytest.fixture
async def client_for() -> AsyncIterator[Callable[[PrivateBus], Any]]:
    clients: list[Client] = []

    async def make(bus: PrivateBus) -> Client:
        client = await Client.connect(bus.address)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.bus.disconnect()


async def add_folder(client: Client, path: Path) -> tuple[str, str]:
    """Add a folder and wait for its first sync; returns (account path, source path)."""
    (account,) = await client.manager("AddLocalFolder", "s", str(path))
    source = account.replace("/accounts/", "/sources/")
    finished = await client.sync_finished(source)
    assert finished.body[1], finished.body[2]
    return account, source


async def libraries(client: Client, source: str) -> dict[str, str]:
    (objects,) = await client.call(ROOT, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects")
    return {
        props[f"{IFACE}.Library"]["Title"].value: path
        for path, props in objects.items()
        if f"{IFACE}.Library" in props and path.startswith(source + "/")
    }


async def list_all(client: Client, library: str, sort: str = "", page: int = 7) -> list[dict[str, Variant]]:
    found: list[dict[str, Variant]] = []
    while True:
        (items,) = await client.call(library, f"{IFACE}.Library", "ListItems", "uus", len(found), page, sort)
        found.extend(items)
        if len(items) < page:
            return found


async def test_restart_with_cache_and_nothing_reachable_is_browsable_at_once(
    private_bus: PrivateBus, daemon: StartReeld, client_for: Any, tmp_path: Path
) -> None:
    sample = make_sample_folder(tmp_path / "media", movies=12, shows=2, seasons=1, episodes=3)
    first = daemon()
    client = await client_for(private_bus)
    _, source = await add_folder(client, sample.root)
    libs = await libraries(client, source)
    movies_before = await list_all(client, libs["Movies"])
    first.stop()

    shutil.move(sample.root, tmp_path / "unplugged")  # the disk is gone
    second = daemon()
    libs_after = await libraries(client, source)
    assert libs_after == libs
    assert await list_all(client, libs["Movies"]) == movies_before
    (results,) = await client.manager("Search", "su", movies_before[0]["title"].value, 5)
    assert results and results[0]["id"] == movies_before[0]["id"]
    # The status tells why, and nothing was swept away.
    await client.wait_signal(
        lambda m: (
            m.member == "PropertiesChanged"
            and m.path == source
            and "Status" in m.body[1]
            and m.body[1]["Status"].value == "offline"
        )
    )
    assert "missing" in (await client.prop(source, "Source", "StatusMessage")).lower()
    assert await client.prop(libs["Movies"], "Library", "ItemCount") == len(movies_before)
    second.stop()


async def test_list_items_sorts_and_pages_without_gaps(
    private_bus: PrivateBus, daemon: StartReeld, client_for: Any, tmp_path: Path
) -> None:
    sample = make_sample_folder(tmp_path / "media", movies=40, shows=1, seasons=1, episodes=2)
    daemon()
    client = await client_for(private_bus)
    _, source = await add_folder(client, sample.root)
    movies = (await libraries(client, source))["Movies"]
    expected = sample.movies
    for sort in ("", "title", "added", "year", "rating"):
        items = await list_all(client, movies, sort)
        assert len(items) == expected and len({i["id"].value for i in items}) == expected
    titles = [i["title"].value.casefold() for i in await list_all(client, movies, "title")]
    assert titles == sorted(titles)
    years = [i["year"].value for i in await list_all(client, movies, "year") if "year" in i]
    assert years == sorted(years, reverse=True)
    with pytest.raises(RuntimeError, match="InvalidArgument"):
        await client.call(movies, f"{IFACE}.Library", "ListItems", "uus", 0, 10, "popularity")


async def test_watch_state_and_progress_of_local_items_persist(
    private_bus: PrivateBus, daemon: StartReeld, client_for: Any, tmp_path: Path
) -> None:
    sample = make_sample_folder(tmp_path / "media", movies=5, shows=1, seasons=1, episodes=2)
    first = daemon()
    client = await client_for(private_bus)
    _, source = await add_folder(client, sample.root)
    movies = await list_all(client, (await libraries(client, source))["Movies"])
    watched, paused = movies[0]["id"].value, movies[1]["id"].value
    await client.manager("SetWatched", "sb", watched, True)
    await client.manager("ReportProgress", "sts", paused, 1_234_000, "paused")
    first.stop()
    daemon()
    (item,) = await client.manager("GetItem", "s", watched)
    assert item["watched"].value is True and item["view_count"].value == 1
    (shelf,) = await client.manager("ContinueWatching", "u", 10)
    assert [(i["id"].value, i["position_ms"].value) for i in shelf] == [(paused, 1_234_000)]
    (url,) = await client.manager("GetStreamUrl", "s", watched)
    assert url.startswith("file://")
    assert Path(unquote(url.removeprefix("file://"))).is_file()
    await client.manager("SetWatched", "sb", watched, False)
    (item,) = await client.manager("GetItem", "s", watched)
    assert item["watched"].value is False


async def test_a_folder_s_source_is_on_the_bus_when_add_local_folder_answers(
    private_bus: PrivateBus, daemon: StartReeld, client_for: Any, tmp_path: Path
) -> None:
    sample = make_sample_folder(tmp_path / "media", movies=2, shows=1, seasons=1, episodes=1)
    daemon()
    client = await client_for(private_bus)
    (account,) = await client.manager("AddLocalFolder", "s", str(sample.root))
    (objects,) = await client.call(ROOT, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects")
    assert f"{IFACE}.Source" in objects[account.replace("/accounts/", "/sources/")]


async def test_a_file_renamed_while_the_daemon_was_stopped_keeps_its_watch_state(
    private_bus: PrivateBus, daemon: StartReeld, client_for: Any, tmp_path: Path
) -> None:
    sample = make_sample_folder(tmp_path / "media", movies=5, shows=1, seasons=1, episodes=2)
    first = daemon()
    client = await client_for(private_bus)
    _, source = await add_folder(client, sample.root)
    (movie, *_) = await list_all(client, (await libraries(client, source))["Movies"])
    await client.manager("SetWatched", "sb", movie["id"].value, True)
    first.stop()
    source_id, old_path = movie["id"].value.split(":", 1)
    (sample.root / old_path).rename(sample.root / "Renamed.While.Away.2003.mkv")
    daemon()  # its start-up sync finds the file under its new name
    await client.sync_finished(source)
    (item,) = await client.manager("GetItem", "s", f"{source_id}:Renamed.While.Away.2003.mkv")
    assert item["watched"].value is True and item["title"].value == "Renamed While Away"
    with pytest.raises(RuntimeError, match="NotFound"):
        await client.manager("GetItem", "s", movie["id"].value)


async def test_kill_9_mid_sync_leaves_a_consistent_cache_and_the_next_sync_completes(
    private_bus: PrivateBus, daemon: StartReeld, client_for: Any, tmp_path: Path
) -> None:
    sample = make_sample_folder(tmp_path / "media", movies=1500, shows=30, seasons=3, episodes=10)
    first = daemon()
    client = await client_for(private_bus)
    (account,) = await client.manager("AddLocalFolder", "s", str(sample.root))
    source = account.replace("/accounts/", "/sources/")
    await client.wait_signal(
        lambda m: (
            m.member == "PropertiesChanged"
            and m.path == source
            and m.body[1].get("Progress", Variant("d", 0)).value > 0
        )
    )
    first.kill()
    db = private_bus.state_home / "reeld" / "cache.db"
    with contextlib.closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("INSERT INTO items_fts(items_fts) VALUES ('integrity-check')") is not None
    daemon()
    finished = await client.sync_finished(source)
    assert finished.body[1], finished.body[2]
    movies = (await libraries(client, source))["Movies"]
    assert await client.prop(movies, "Library", "ItemCount") == sample.movies
    every_item = sample.movies + sample.others + sample.shows + sample.seasons + sample.episodes
    assert await client.prop(source, "Source", "ItemCount") == every_item


async def test_online_follows_network_manager(
    private_bus: PrivateBus, network_manager: NetworkManagerMock, daemon: StartReeld, client_for: Any
) -> None:
    network_manager.set_connectivity(Connectivity.FULL)
    daemon()
    client = await client_for(private_bus)
    assert await client.prop(ROOT, "Manager", "Online") is True
    network_manager.set_connectivity(Connectivity.NONE)
    await client.wait_signal(
        lambda m: m.member == "PropertiesChanged" and m.body[1].get("Online") == Variant("b", False)
    )
    network_manager.set_connectivity(Connectivity.FULL)
    await client.wait_signal(
        lambda m: m.member == "PropertiesChanged" and m.body[1].get("Online") == Variant("b", True)
    )


def install_activation_file(bus: PrivateBus) -> None:
    """The project's activation file on ``bus``, starting this checkout's daemon in the bus's home."""
    exec_line = " ".join(
        [
            "/usr/bin/env",
            *(f"{k}={v}" for k, v in bus.vars().items() if v),
            sys.executable,
            "-m",
            "reeld.cli.daemon",
        ]
    )
    template = (Path(__file__).parents[1] / "dbus" / "io.github.reeld.Reeld1.service").read_text()
    lines = [f"Exec={exec_line}" if line.startswith("Exec=") else line for line in template.splitlines()]
    (bus.services_dir / "io.github.reeld.Reeld1.service").write_text("\n".join(lines) + "\n")
    bus.reload_config()


def test_bus_activation_starts_the_daemon(private_bus: PrivateBus) -> None:
    """A client's first call starts reeld through the activation file, as the session bus would."""
    install_activation_file(private_bus)
    reply = busctl(private_bus.address, "get-property", NAME, ROOT, f"{IFACE}.Manager", "Version", timeout=30)
    assert reply["data"] == "0.1.0"
    busctl(private_bus.address, "call", NAME, ROOT, f"{IFACE}.Manager", "SyncAll", "b", "false")


def test_a_daemon_that_cannot_start_under_activation_tells_reelctl_why(private_bus: PrivateBus) -> None:
    """Its log goes to the bus's stderr; reelctl must not say only "not running"."""
    install_activation_file(private_bus)
    config = private_bus.config_home / "reeld" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("[sync]\nfull_hours = 0\n")
    failed = reelctl(private_bus, "status")
    assert failed.returncode == 2, failed.stderr
    assert failed.stderr.startswith("reelctl: the reeld daemon is not running: it exited at "), failed.stderr
    assert " with: config.toml: [sync] full_hours must be a number from 1 to 8760, not 0" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert (
        private_bus.runtime_dir / "reeld" / "start-failure.json"
    ).exists()  # in memory: a full disk is no bar

    config.write_text("[sync]\nfull_hours = 12\n")  # fixed: the next call starts it, and the word is gone
    assert reelctl(private_bus, "status").returncode == 0
    assert not (private_bus.runtime_dir / "reeld" / "start-failure.json").exists()
