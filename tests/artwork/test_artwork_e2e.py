"""Artwork as a poster grid uses it: a daemon on a private bus, the fake servers over loopback HTTP,
images on disk opened with GdkPixbuf, requests counted on the fakes."""

import asyncio
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reeld.fakes.jellyfin import FakeJellyfin, FakeJellyfinServer
from tests.artwork.pixbuf import open_images
from tests.conftest import StartReeld
from tests.support.bus import PrivateBus
from tests.support.keyring import KeyringDaemon
from tests.test_daemon_e2e import IFACE, Client, libraries

USER, PASSWORD = "anna", "pw-123"
PATH_KEYS = ("poster_path", "backdrop_path", "thumb_path", "logo_path")


async def list_library(client: Client, library: str) -> list[dict[str, Any]]:
    (items,) = await client.call(library, f"{IFACE}.Library", "ListItems", "uus", 0, 500, "")
    return [{key: value.value for key, value in item.items()} for item in items]


def items_changed(library: str) -> Any:
    return lambda message: message.member == "ItemsChanged" and message.path == library


async def until_every_item_has(
    client: Client, library: str, key: str, timeout: float = 60
) -> list[dict[str, Any]]:
    """The library's items once each carries ``key``: re-listed whenever the library says it changed."""
    async with asyncio.timeout(timeout):
        while True:
            client.signals = [m for m in client.signals if not items_changed(library)(m)]
            listed = await list_library(client, library)
            if listed and all(key in item for item in listed):
                return listed
            await client.wait_signal(items_changed(library), timeout)


def image_requests(server: FakeJellyfinServer, item_id: str, image_type: str = "Primary") -> list[Any]:
    prefix = f"/Items/{item_id}/Images/{image_type}"
    return [r for r in server.wire.requests if r.path.startswith(prefix)]


async def get_artwork(client: Client, item_id: str, kind: str, width: int) -> str:
    (path,) = await client.manager("GetArtwork", "ssu", item_id, kind, width)
    return str(path)


@pytest.fixture
def jellyfin() -> Iterator[tuple[FakeJellyfin, FakeJellyfinServer]]:
    fake = FakeJellyfin.generate(movies=8, series=2, seasons=1, episodes=2, user=USER, password=PASSWORD)
    server = FakeJellyfinServer(fake)
    with server.run_in_thread():
        yield fake, server


async def test_jellyfin_posters_appear_as_files_after_a_sync_and_only_changed_ones_are_fetched_again(
    private_bus: PrivateBus,
    keyring_daemon: KeyringDaemon,
    daemon: StartReeld,
    client_for: Any,
    jellyfin: tuple[FakeJellyfin, FakeJellyfinServer],
) -> None:
    _, server = jellyfin
    daemon()
    client = await client_for(private_bus)
    (account,) = await client.manager("AddJellyfinAccount", "sss", server.url, USER, PASSWORD)
    source = account.replace("/accounts/", "/sources/")
    assert (await client.sync_finished(source)).body[1]
    movies = (await libraries(client, source))["Movies"]

    listed = await until_every_item_has(client, movies, "poster_path")
    posters = {item["id"]: item["poster_path"] for item in listed}
    artwork_dir = private_bus.cache_home / "reeld" / "artwork"
    assert stat.S_IMODE(artwork_dir.stat().st_mode) == 0o700
    assert all(
        Path(path).is_absolute() and Path(path).is_relative_to(artwork_dir) for path in posters.values()
    )
    # Posters for a grid: 320 wide, 2:3, each item its own picture.
    assert set(open_images(list(posters.values())).values()) == {(320, 480)}
    assert len({Path(path).read_bytes() for path in posters.values()}) == len(posters)

    # Each poster was asked for once, with the token in the Authorization header only.
    for item_id in posters:
        (request,) = image_requests(server, item_id.split(":", 1)[1])
        assert request.query["maxWidth"] == "320" and request.query["tag"]
        assert 'Token="' in request.headers["authorization"]
        assert not {"api_key", "ApiKey"} & set(request.query)

    # A sync that changes nothing fetches nothing; a renamed item has a new image tag: fetched again.
    renamed = next(iter(posters)).split(":", 1)[1]
    async with httpx.AsyncClient(base_url=server.url) as control:
        response = await control.post(
            "/__control/mutate", json={"action": "update", "id": renamed, "name": "Renamed"}
        )
        response.raise_for_status()
    client.signals.clear()
    await client.call(source, f"{IFACE}.Source", "Sync", "b", True)
    assert (await client.sync_finished(source)).body[1]
    fresh = f"{source.rsplit('/', 1)[1]}:{renamed}"

    async with asyncio.timeout(30):
        while len(image_requests(server, renamed)) < 2:
            await client.wait_signal(items_changed(movies))
    listed = await until_every_item_has(client, movies, "poster_path")
    now = {item["id"]: item["poster_path"] for item in listed}
    assert now[fresh] != posters[fresh] and not os.path.exists(posters[fresh])
    assert {k: v for k, v in now.items() if k != fresh} == {k: v for k, v in posters.items() if k != fresh}
    for item_id in posters:
        expected = 2 if item_id == fresh else 1
        assert len(image_requests(server, item_id.split(":", 1)[1])) == expected, item_id
