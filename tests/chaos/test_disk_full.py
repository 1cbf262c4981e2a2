"""A disk that fills up under the daemon: a real tmpfs of a few MB holding its config and cache.

What a person sees must stay true: a sync that cannot write says the disk is full and where, an
account added meanwhile is refused and leaves no trace (not on the bus, in config.toml or after a
restart), the cache stays consistent, and once space is freed everything works again.
"""

import errno
import os
import shutil
import sqlite3
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from reeld.cache.db import Database
from reeld.errors import CacheError
from reeld.fakes.jellyfin import FakeJellyfin, FakeJellyfinServer
from reeld.fakes.media_folder import make_sample_folder
from tests.conftest import StartReeld
from tests.support.bus import PrivateBus
from tests.support.keyring import KeyringDaemon
from tests.support.tools import missing
from tests.test_daemon_e2e import IFACE, ROOT, Client, add_folder

DISK_MB = 16


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of ``DISK_MB`` MB mounted for this test (needs root, or CAP_SYS_ADMIN)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mount = shutil.which("mount")
    if mount is None:
        missing("mount not found: install the Debian package mount")
    mounted = subprocess.run(
        [mount, "-t", "tmpfs", "-o", f"size={DISK_MB}m,mode=0700", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if mounted.returncode != 0:
        missing(f"cannot mount a small tmpfs to fill up (run the tests as root): {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "--lazy", str(disk)], capture_output=True, timeout=30, check=False)


def fill(disk: Path) -> Path:
    """Write a file until the disk refuses another byte; remove it to give the space back."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 1 << 16, 1 << 12, 1 << 9, 1):
            chunk = b"\0" * size
            while True:
                try:
                    os.write(fd, chunk)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC, exc
                    break
    finally:
        os.close(fd)
    assert shutil.disk_usage(disk).free == 0
    return filler


def integrity(cache: Path) -> str:
    """``PRAGMA integrity_check`` of the cache, read-only beside the running daemon."""
    with sqlite3.connect(f"file:{cache}?mode=ro", uri=True) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


@pytest.fixture
async def client(private_bus: PrivateBus) -> AsyncIterator[Client]:
    client = await Client.connect(private_bus.address)
    yield client
    client.bus.disconnect()


async def account_paths(client: Client) -> list[str]:
    (objects,) = await client.call(ROOT, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects")
    return sorted(path for path, props in objects.items() if f"{IFACE}.Account" in props)


async def test_a_full_disk_is_said_in_words_leaves_no_half_added_account_and_passes(
    private_bus: PrivateBus, daemon: StartReeld, client: Client, small_disk: Path, tmp_path: Path
) -> None:
    state, config = small_disk / "state", small_disk / "config"
    env = {"XDG_STATE_HOME": str(state), "XDG_CONFIG_HOME": str(config)}
    media = make_sample_folder(tmp_path / "media", movies=5, shows=1, seasons=1, episodes=2).root
    other = make_sample_folder(tmp_path / "other", movies=2, shows=0).root
    cache, config_file = state / "reeld" / "cache.db", config / "reeld" / "config.toml"
    first = daemon(env=env)
    account, source = await add_folder(client, media)
    config_before = config_file.read_bytes()

    filler = fill(small_disk)
    # New files: the next sync has rows to write, more than the cache's journal has room for.
    make_sample_folder(media / "more", movies=150, shows=0, seed=1)
    client.signals.clear()
    await client.call(source, f"{IFACE}.Source", "Sync", "b", True)
    finished = await client.wait_signal(
        lambda m: m.member == "SyncFinished" and m.body[0] == source and not m.body[1], timeout=60
    )
    said = finished.body[2]
    assert "the disk is full" in said and str(state / "reeld") in said, said
    assert "Error" not in said and "(Operational" not in said
    status = await client.prop(source, "Source", "StatusMessage")
    if "the disk is full" not in status:  # a reconnect under way (seen under load): its sync says it
        await client.wait_signal(
            lambda m: (
                m.member == "PropertiesChanged"
                and m.path == source
                and "the disk is full" in str(getattr(m.body[1].get("StatusMessage"), "value", ""))
            ),
            timeout=60,
        )

    # An account added now is refused, saying why, and is nowhere afterwards.
    with pytest.raises(RuntimeError) as refused:
        await client.manager("AddLocalFolder", "s", str(other))
    assert str(refused.value).startswith(f"{IFACE}.Error.Failed: The account was not added: "), refused.value
    assert f"{config_file} could not be written: the disk is full" in str(refused.value)
    assert await account_paths(client) == [account]
    assert config_file.read_bytes() == config_before
    assert integrity(cache) == "ok"

    # Space comes back: the daemon goes on by itself, and the refused account never reappears.
    filler.unlink()
    client.signals.clear()
    await client.call(source, f"{IFACE}.Source", "Sync", "b", True)
    finished = await client.wait_signal(lambda m: m.member == "SyncFinished" and m.body[0] == source)
    assert finished.body[1], finished.body[2]
    assert "disk" not in await client.prop(source, "Source", "StatusMessage")
    first.stop()
    assert integrity(cache) == "ok"
    daemon(env=env)
    assert await account_paths(client) == [account]
    assert await client.prop(source, "Source", "ItemCount") > 150
    (added,) = await client.manager("AddLocalFolder", "s", str(other))
    assert await account_paths(client) == sorted([account, added])


async def test_a_cache_that_is_no_database_is_said_in_words(tmp_path: Path) -> None:
    """Other SQLite failures too, in words rather than a class name (DatabaseError)."""
    garbage = tmp_path / "cache.db"
    garbage.write_bytes(b"these are not the pages you are looking for\n" * 200)
    db = Database(garbage)
    with pytest.raises(CacheError) as failed:
        await db.open()
    await db.close()
    assert str(failed.value) == (
        f"Cannot open the cache at {garbage}: the file is not a reeld cache (not an SQLite database)"
    )


async def test_a_server_account_refused_for_a_full_disk_leaves_no_secret_in_the_keyring(
    private_bus: PrivateBus,
    keyring_daemon: KeyringDaemon,
    daemon: StartReeld,
    client: Client,
    small_disk: Path,
) -> None:
    """The token goes to the keyring first; when config.toml then cannot be written, it goes again."""
    env = {"XDG_STATE_HOME": str(small_disk / "state"), "XDG_CONFIG_HOME": str(small_disk / "config")}
    fake = FakeJellyfin.generate(movies=2, series=0, seasons=0, episodes=0, user="anna", password="pw-123")
    with FakeJellyfinServer(fake).run_in_thread() as url:
        daemon(env=env)
        # A first try, with a wrong password, has the daemon make its device id (kept in the cache).
        with pytest.raises(RuntimeError, match="NotAuthorized"):
            await client.manager("AddJellyfinAccount", "sss", url, "anna", "wrong")
        fill(small_disk)
        with pytest.raises(RuntimeError) as refused:
            await client.manager("AddJellyfinAccount", "sss", url, "anna", "pw-123")
    said = str(refused.value)
    assert said.startswith(f"{IFACE}.Error.Failed: The account was not added: "), said
    assert "could not be written: the disk is full" in said
    assert fake.tokens, "the server gave a token"
    assert keyring_daemon.secret_tool_search(service="reeld") == ""
    assert await account_paths(client) == []
