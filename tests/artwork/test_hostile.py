"""Servers that answer image requests with anything but an image, and a disk that fills up:
nothing bad is kept, the source's status stays true, and everything else goes on working."""

import asyncio
import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reeld.artwork.store import item_digest
from reeld.fakes.jellyfin import FakeJellyfin, FakeJellyfinServer
from tests.artwork.pixbuf import open_images
from tests.artwork.test_artwork_e2e import PASSWORD, USER, add_jellyfin, get_artwork, until_listed
from tests.conftest import StartReeld
from tests.support.bus import PrivateBus
from tests.support.keyring import KeyringDaemon
from tests.test_daemon_e2e import IFACE, Client

HOSTILE = ("html", "empty", "huge", "garbage", "mislabelled")


def cached_files(private_bus: PrivateBus) -> list[Path]:
    return sorted(
        path for path in (private_bus.cache_home / "reeld" / "artwork").rglob("*") if path.is_file()
    )


async def source_status(client: Client, source: str) -> tuple[str, str]:
    return (
        await client.prop(source, "Source", "Status"),
        await client.prop(source, "Source", "StatusMessage"),
    )


async def test_answers_that_are_not_images_cache_nothing_and_leave_the_source_alone(
    private_bus: PrivateBus, keyring_daemon: KeyringDaemon, daemon: StartReeld, client_for: Any
) -> None:
    fake = FakeJellyfin.generate(movies=8, series=0, seasons=0, episodes=0, user=USER, password=PASSWORD)
    server = FakeJellyfinServer(fake)
    movies = sorted((item for item in fake.items.values() if item.type == "Movie"), key=lambda i: i.name)
    hostile = dict(zip((item.name for item in movies), HOSTILE, strict=False))
    reeld = daemon()
    client = await client_for(private_bus)
    with server.run_in_thread():
        async with httpx.AsyncClient(base_url=server.url) as control:
            for item in movies[: len(HOSTILE)]:
                (
                    await control.post("/__control/images", json={"id": item.id, "mode": hostile[item.name]})
                ).raise_for_status()
        source, library = await add_jellyfin(client, server.url)
        status = await source_status(client, source)
        good = [item.name for item in movies[len(HOSTILE) :]]
        # Backdrops come after every poster was tried: once the good ones have theirs, every poster was.
        listed = await until_listed(
            client, library, lambda got: all("backdrop_path" in got[name] for name in good)
        )
        for name, mode in hostile.items():
            assert not {"poster_path", "backdrop_path"} & set(listed[name]), mode
            requests = [
                r
                for r in server.wire.requests
                if r.path.startswith(f"/Items/{listed[name]['id'].split(':')[1]}/Images/Primary")
            ]
            assert len(requests) == 1, mode  # tried, and not again and again
        # Only real images are on disk, none of a hostile item, no leftovers.
        files = cached_files(private_bus)
        source_id = source.rsplit("/", 1)[1]
        hostile_digests = {item_digest(source_id, item.id) for item in movies[: len(HOSTILE)]}
        assert len(files) >= 2 * len(good) and not [f for f in files if f.name.startswith(".tmp")]
        assert not [f for f in files if f.name.split(".")[0] in hostile_digests]
        open_images([str(f) for f in files])
        assert await source_status(client, source) == status == ("connected", status[1])

        for name, mode in hostile.items():
            with pytest.raises(RuntimeError) as failed:
                await get_artwork(client, listed[name]["id"], "poster", 320)
            message = str(failed.value)
            assert message.startswith("io.github.reeld.Reeld1.Error.Failed: "), (mode, message)
            assert "Traceback" not in message and "Error(" not in message and "Exception" not in message
        assert cached_files(private_bus) == files
        assert await source_status(client, source) == status
    assert "Traceback" not in reeld.stderr_text()


@pytest.fixture
def small_disk(private_bus: PrivateBus) -> Iterator[Path]:
    """The artwork folder on a file system of 40 kB (a tmpfs; needs root, as CI has)."""
    folder = private_bus.cache_home / "reeld" / "artwork"
    folder.mkdir(parents=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=40k,mode=0700", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(
            f"a small file system for the artwork cache needs mount (root): {mounted.stderr.decode().strip()}"
        )
    try:
        yield folder
    finally:
        with contextlib.suppress(subprocess.SubprocessError):
            subprocess.run(["umount", "-l", str(folder)], check=False, timeout=10)


async def test_a_full_disk_stops_the_cache_growing_and_nothing_else(
    private_bus: PrivateBus,
    keyring_daemon: KeyringDaemon,
    daemon: StartReeld,
    client_for: Any,
    small_disk: Path,
) -> None:
    fake = FakeJellyfin.generate(movies=24, series=0, seasons=0, episodes=0, user=USER, password=PASSWORD)
    server = FakeJellyfinServer(fake)
    reeld = daemon()
    client = await client_for(private_bus)
    with server.run_in_thread():
        source, library = await add_jellyfin(client, server.url)
        async with asyncio.timeout(60):
            while "artwork_disk_full" not in reeld.stderr_text():
                await client.wait_signal(lambda m: m.member == "ItemsChanged", 60)
        # The sync and every read go on; the source is fine; what was kept still opens.
        await client.call(source, f"{IFACE}.Source", "Sync", "b", True)
        assert (await client.sync_finished(source)).body[1]
        (items,) = await client.call(library, f"{IFACE}.Library", "ListItems", "uus", 0, 100, "")
        assert len(items) == 24
        assert await client.prop(source, "Source", "Status") == "connected"
        kept = [str(p) for p in cached_files(private_bus)]
        assert kept and not [p for p in kept if Path(p).name.startswith(".tmp")]
        open_images(kept)
        # An image asked for is still answered, old ones making room for it.
        missing = next(item["id"].value for item in items if "poster_path" not in item)
        assert open_images([await get_artwork(client, missing, "poster", 320)])
    assert reeld.running()
    assert "Traceback" not in reeld.stderr_text()
