"""Artwork as a poster grid uses it: a daemon on a private bus, the fake servers over loopback HTTP,
images on disk opened with GdkPixbuf, requests counted on the fakes."""

import asyncio
import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from reeld.fakes.images import encode, picture
from reeld.fakes.jellyfin import FakeJellyfin, FakeJellyfinServer
from reeld.fakes.plex import CatalogSpec, ConnectionSpec, FakePlexCluster, ServerSpec
from tests.artwork.pixbuf import open_images
from tests.conftest import StartReeld
from tests.support.bus import PrivateBus
from tests.support.keyring import KeyringDaemon
from tests.test_daemon_e2e import IFACE, Client, add_folder, libraries

USER, PASSWORD = "anna", "pw-123"
PATH_KEYS = ("poster_path", "backdrop_path", "thumb_path", "logo_path")


async def list_library(client: Client, library: str) -> list[dict[str, Any]]:
    (items,) = await client.call(library, f"{IFACE}.Library", "ListItems", "uus", 0, 500, "")
    return [{key: value.value for key, value in item.items()} for item in items]


def items_changed(library: str) -> Any:
    return lambda message: message.member == "ItemsChanged" and message.path == library


async def until_listed(
    client: Client, library: str, done: Callable[[dict[str, dict[str, Any]]], bool], timeout: float = 60
) -> dict[str, dict[str, Any]]:
    """The library's items by title once ``done`` says so: re-listed whenever the library changed."""
    async with asyncio.timeout(timeout):
        while True:
            client.signals = [m for m in client.signals if not items_changed(library)(m)]
            listed = {item["title"]: item for item in await list_library(client, library)}
            if done(listed):
                return listed
            await client.wait_signal(items_changed(library), timeout)


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


async def add_jellyfin(client: Client, url: str) -> tuple[str, str]:
    """Add the fake's account and wait for the first sync; (source path, Movies library path)."""
    (account,) = await client.manager("AddJellyfinAccount", "sss", url, USER, PASSWORD)
    source = account.replace("/accounts/", "/sources/")
    finished = await client.sync_finished(source)
    assert finished.body[1], finished.body[2]
    return source, (await libraries(client, source))["Movies"]


async def test_jellyfin_posters_appear_as_files_after_a_sync_and_only_changed_ones_are_fetched_again(
    private_bus: PrivateBus, keyring_daemon: KeyringDaemon, daemon: StartReeld, client_for: Any
) -> None:
    fake = FakeJellyfin.generate(movies=8, series=2, seasons=1, episodes=2, user=USER, password=PASSWORD)
    server = FakeJellyfinServer(fake)
    daemon()
    client = await client_for(private_bus)
    with server.run_in_thread():
        source, movies = await add_jellyfin(client, server.url)
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
        assert {k: v for k, v in now.items() if k != fresh} == {
            k: v for k, v in posters.items() if k != fresh
        }
        for item_id in posters:
            expected = 2 if item_id == fresh else 1
            assert len(image_requests(server, item_id.split(":", 1)[1])) == expected, item_id

        # Other sizes on demand: the server resizes (never up); asked at once, fetched once.
        first, second = sorted(posters)[:2]
        sizes = {width: await get_artwork(client, first, "poster", width) for width in (100, 500, 0)}
        assert open_images(list(sizes.values())) == {
            sizes[100]: (320, 480),  # the 320 step, already kept: no request
            sizes[500]: (600, 900),  # the 780 step of a 600-wide original
            sizes[0]: (600, 900),
        }
        assert sizes[100] == now[first]
        # Eight clients asking at once for a size not kept yet: one request.
        backdrops = await asyncio.gather(*(get_artwork(client, second, "backdrop", 0) for _ in range(8)))
        assert len(set(backdrops)) == 1 and open_images(backdrops[:1]) == {backdrops[0]: (1280, 720)}
        originals = [
            r
            for r in image_requests(server, second.split(":", 1)[1], "Backdrop")
            if "maxWidth" not in r.query
        ]
        assert len(originals) == 1 and originals[0].path.endswith("/Backdrop/0")

        # An episode's picture is a frame of it: its thumb (Jellyfin's Primary image), as on Plex.
        episode = next(item for item in fake.items.values() if item.type == "Episode")
        episode_id = f"{source.rsplit('/', 1)[1]}:{episode.id}"
        frame = await get_artwork(client, episode_id, "thumb", 320)
        assert Path(frame).is_file() and image_requests(server, episode.id, "Primary")
        with pytest.raises(RuntimeError, match="NotFound"):
            await get_artwork(client, episode_id, "poster", 320)
        (item,) = await client.manager("GetItem", "s", episode_id)
        assert item["thumb_path"].value == frame and "poster_path" not in item

        for kind, error in (("banner", "InvalidArgument"), ("thumb", "NotFound")):
            with pytest.raises(RuntimeError, match=f"{error}: "):
                await get_artwork(client, first, kind, 0)
        with pytest.raises(RuntimeError, match="NotFound: "):
            await get_artwork(client, f"{source.rsplit('/', 1)[1]}:{'0' * 32}", "poster", 0)

        backdrop_paths = {
            i["id"]: i["backdrop_path"] for i in await until_every_item_has(client, movies, "backdrop_path")
        }

    # The server is gone: what is kept still answers, what is not is Offline.
    assert await get_artwork(client, first, "poster", 320) == now[first]
    # Offline, the nearest size kept stands in for one never fetched.
    assert await get_artwork(client, first, "backdrop", 320) == backdrop_paths[first]
    assert await get_artwork(client, second, "backdrop", 1000) == backdrops[0]  # the original is kept
    with pytest.raises(RuntimeError, match="Offline: "):
        await get_artwork(client, first, "logo", 0)


async def test_plex_posters_come_through_the_photo_transcoder_with_the_token_in_a_header_only(
    private_bus: PrivateBus, keyring_daemon: KeyringDaemon, daemon: StartReeld, client_for: Any
) -> None:
    home = ServerSpec(
        "Home",
        catalog=CatalogSpec(movies=6, shows=2, seasons=1, episodes=2),
        connections=(ConnectionSpec.live(local=True),),
    )
    cluster = FakePlexCluster([home])
    with cluster.run_in_thread() as url:
        reeld = daemon(env={"REELD_PLEX_TV_URL": url})
        client = await client_for(private_bus)
        await client.manager("AddPlexAccount", "s", cluster.token)
        finished = await client.sync_finished()
        assert finished.body[1], finished.body[2]
        source = finished.body[0]
        by_title = await libraries(client, source)
        server = cluster.servers[0]
        for title in ("Movies", "TV Shows"):
            listed = await until_every_item_has(client, by_title[title], "poster_path")
            posters = [item["poster_path"] for item in listed]
            assert set(open_images(posters).values()) == {(320, 480)}
        transcodes = [r for r in server.requests if r.path == "/photo/:/transcode"]
        posters_asked = [r.query["url"] for r in transcodes if r.query["width"] == "320"]
        assert len(posters_asked) == len(set(posters_asked)) >= 8  # once each (films, shows, albums)
        tokens = {server.access_token, cluster.token}
        for request in transcodes:
            assert request.query["url"].startswith("/library/metadata/")
            assert request.headers["x-plex-token"] in tokens and "X-Plex-Token" not in request.query

        # Plex's own image path (the original size) is asked for with the token in a header too.
        movie = next(item for item in listed if item["kind"] == "show")["id"]
        original = await get_artwork(client, movie, "poster", 0)
        assert open_images([original]) == {original: (600, 900)}
        own = [r for r in server.requests if r.path.startswith("/library/metadata/") and "/thumb/" in r.path]
        assert own and all(
            r.headers.get("x-plex-token") in tokens and "X-Plex-Token" not in r.query for r in own
        )
    log = reeld.stderr_text()
    assert server.access_token not in log and cluster.token not in log


def write_image(path: Path, seed: str, fmt: str = "jpg") -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = encode(picture(seed, "backdrop" if "fanart" in path.name else "poster"), fmt)
    path.write_bytes(data)
    return data


def write_video(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x1aE\xdf\xa3 not really a film " + path.name.encode())


async def test_local_folders_sidecar_images_are_copied_into_the_cache_and_follow_the_files(
    private_bus: PrivateBus, daemon: StartReeld, client_for: Any, tmp_path: Path
) -> None:
    media = tmp_path / "media"
    write_video(media / "Movies/Heat (1995)/Heat (1995).mkv")
    heat_poster = write_image(media / "Movies/Heat (1995)/poster.jpg", "heat")
    write_video(media / "Movies/Heat (1995)/Heat (1995)-trailer.mp4")  # its own: still alone in its folder
    heat_fanart = write_image(media / "Movies/Heat (1995)/fanart.jpg", "heat-fanart")
    write_video(media / "Movies/Alien (1979)/Alien (1979).mkv")
    alien_poster = write_image(media / "Movies/Alien (1979)/Alien (1979)-poster.png", "alien", "png")
    for loose in ("Brazil.1985.mkv", "Solaris.1972.mkv"):  # films side by side: folder.jpg is no one's
        write_video(media / "Movies" / loose)
    write_image(media / "Movies/folder.jpg", "not-a-film-poster")
    dark_poster = write_image(media / "Shows/Dark/poster.jpg", "dark")
    write_video(media / "Shows/Dark/Season 1/Dark.S01E01.mkv")
    write_video(media / "Shows/Dark/Season 1/Dark.S01E02.mkv")
    season_one = write_image(media / "Shows/Dark/Season 1/folder.jpg", "dark-1")
    write_video(media / "Shows/Dark/Season 2/Dark.S02E01.mkv")
    season_two = write_image(media / "Shows/Dark/season02-poster.jpg", "dark-2")

    daemon()
    client = await client_for(private_bus)
    _, source = await add_folder(client, media)
    found = await libraries(client, source)
    movies, shows = found["Movies"], found["TV Shows"]
    films = await until_listed(
        client,
        movies,
        lambda got: (
            all("poster_path" in got[t] for t in ("Heat", "Alien")) and "backdrop_path" in got["Heat"]
        ),
    )
    assert Path(films["Heat"]["poster_path"]).read_bytes() == heat_poster
    assert Path(films["Heat"]["backdrop_path"]).read_bytes() == heat_fanart
    assert Path(films["Alien"]["poster_path"]).read_bytes() == alien_poster
    assert not {"poster_path", "backdrop_path"} & (set(films["Brazil"]) | set(films["Solaris"]))
    (dark,) = (await until_listed(client, shows, lambda got: "poster_path" in got.get("Dark", {}))).values()
    assert Path(dark["poster_path"]).read_bytes() == dark_poster
    (seasons,) = await client.manager("GetChildren", "s", dark["id"])
    by_index = {season["index"].value: season["id"].value for season in seasons}
    assert Path(await get_artwork(client, by_index[1], "poster", 0)).read_bytes() == season_one
    assert Path(await get_artwork(client, by_index[2], "poster", 320)).read_bytes() == season_two
    with pytest.raises(RuntimeError, match="NotFound: "):
        await get_artwork(client, films["Brazil"]["id"], "poster", 0)

    # A replaced poster is copied again; one removed is no longer announced; the others stay as they are.
    alien_kept = Path(films["Alien"]["poster_path"])
    alien_stamp = alien_kept.stat().st_mtime_ns
    new_heat = write_image(media / "Movies/Heat (1995)/poster.jpg", "heat-new")
    (media / "Shows/Dark/poster.jpg").unlink()
    await client.call(source, f"{IFACE}.Source", "Sync", "b", True)
    assert (await client.sync_finished(source)).body[1]
    films = await until_listed(
        client,
        movies,
        lambda got: (
            Path(got["Heat"].get("poster_path", "/")).is_file()
            and got["Heat"]["poster_path"] != str(alien_kept)
            and Path(got["Heat"]["poster_path"]).read_bytes() == new_heat
        ),
    )
    assert films["Alien"]["poster_path"] == str(alien_kept) and alien_kept.stat().st_mtime_ns == alien_stamp
    await until_listed(client, shows, lambda got: "poster_path" not in got["Dark"])

    # The folder is away (a disk unplugged): what was copied still answers; the rest is Offline.
    media.rename(tmp_path / "unplugged")
    assert Path(await get_artwork(client, films["Heat"]["id"], "poster", 0)).read_bytes() == new_heat
    with pytest.raises(RuntimeError, match="Offline: "):
        await get_artwork(client, films["Heat"]["id"], "logo", 0)


async def test_posters_survive_a_kill_9_and_go_with_their_account(
    private_bus: PrivateBus, daemon: StartReeld, client_for: Any, tmp_path: Path
) -> None:
    media = tmp_path / "media"
    for number, title in enumerate(("Heat (1995)", "Alien (1979)", "Brazil (1985)")):
        write_video(media / "Movies" / title / f"{title}.mkv")
        write_image(media / "Movies" / title / "poster.jpg", f"film-{number}")
    first = daemon()
    client = await client_for(private_bus)
    account, source = await add_folder(client, media)
    movies = (await libraries(client, source))["Movies"]
    before = await until_every_item_has(client, movies, "poster_path")
    first.kill()

    daemon()
    client = await client_for(private_bus)
    # Read at once, before any sync could copy anything again: the cache answers from its files.
    after = await list_library(client, movies)
    assert {item["id"]: item["poster_path"] for item in after} == {
        item["id"]: item["poster_path"] for item in before
    }
    open_images([item["poster_path"] for item in after])

    # Removing the folder's account takes its images along (not just when the bound evicts them).
    await client.call(account, f"{IFACE}.Account", "Remove")
    folder = private_bus.cache_home / "reeld" / "artwork"
    async with asyncio.timeout(15):
        while any(path.is_file() for path in folder.rglob("*")):
            await asyncio.sleep(0.05)  # nothing signals the files going; this asks the folder


async def until_gone(client: Client, library: str, title: str, key: str) -> None:
    """Until the item no longer carries ``key`` (the daemon hears of files removed within a second
    or so; nothing signals it, so this asks again every 0.1 s)."""
    async with asyncio.timeout(15):
        while key in {item["title"]: item for item in await list_library(client, library)}[title]:
            await asyncio.sleep(0.1)


async def test_images_removed_behind_reelds_back_are_no_longer_announced_and_come_back_when_asked(
    private_bus: PrivateBus, daemon: StartReeld, client_for: Any, tmp_path: Path
) -> None:
    media = tmp_path / "media"
    for number, title in enumerate(("Heat (1995)", "Alien (1979)")):
        write_video(media / "Movies" / title / f"{title}.mkv")
        write_image(media / "Movies" / title / "poster.jpg", f"film-{number}")
    daemon()
    client = await client_for(private_bus)
    _, source = await add_folder(client, media)
    movies = (await libraries(client, source))["Movies"]
    films = {item["title"]: item for item in await until_every_item_has(client, movies, "poster_path")}

    Path(films["Heat"]["poster_path"]).unlink()  # a cache cleaner
    await until_gone(client, movies, "Heat", "poster_path")
    assert Path(await get_artwork(client, films["Heat"]["id"], "poster", 0)).is_file()

    shutil.rmtree(private_bus.cache_home / "reeld" / "artwork")  # rm -r ~/.cache/reeld/artwork
    await until_gone(client, movies, "Alien", "poster_path")
    path = Path(await get_artwork(client, films["Alien"]["id"], "poster", 0))
    assert path.is_file() and stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700
    relisted = {item["title"]: item for item in await list_library(client, movies)}
    assert relisted["Alien"]["poster_path"] == str(path)
