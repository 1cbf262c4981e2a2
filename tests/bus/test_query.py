"""Browsing the way a UI does (API 1.1), over a real bus, from a daemon syncing real HTTP fakes:
``Library.Query`` totals and filters, ``Manager.NextUp`` across two sources, the new item keys."""

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dbus_fast import Variant

from reeld.fakes.jellyfin import FakeJellyfin, FakeJellyfinServer
from reeld.fakes.jellyfin.catalog import UserState
from reeld.fakes.plex import CatalogSpec, ConnectionSpec, FakePlexCluster, ServerSpec
from tests.conftest import StartReeld
from tests.support.bus import PrivateBus
from tests.support.keyring import KeyringDaemon
from tests.test_daemon_e2e import IFACE, Client, add_folder, libraries, list_all

USER, PASSWORD = "anna", "pw-123"
WATCHED_AT = {"jellyfin": 1_700_000_100, "plex": 1_700_000_200, "jellyfin_finished": 1_700_000_300}
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@pytest.fixture
def jellyfin() -> Iterator[tuple[FakeJellyfin, str]]:
    """Two series of two seasons of three episodes: the first begun (1x1, 1x2 watched), the second
    finished, nothing else played."""
    fake = FakeJellyfin.generate(movies=20, series=2, seasons=2, episodes=3, user=USER, password=PASSWORD)
    user_id = fake.users[USER].id
    fake.user_data.clear()
    episodes = sorted(
        (item for item in fake.items.values() if item.type == "Episode"),
        key=lambda item: (item.series_id or "", item.parent_index or 0, item.index or 0),
    )
    first, second = episodes[:6], episodes[6:]
    for episode in first[:2]:
        fake.user_data[(user_id, episode.id)] = UserState(True, 0, 1, WATCHED_AT["jellyfin"])
    for episode in second:
        fake.user_data[(user_id, episode.id)] = UserState(True, 0, 1, WATCHED_AT["jellyfin_finished"])
    for movie in [item for item in fake.items.values() if item.type == "Movie"][:5]:
        fake.user_data[(user_id, movie.id)] = UserState(True, 0, 1, WATCHED_AT["jellyfin"])
    with FakeJellyfinServer(fake).run_in_thread() as url:
        yield fake, url


@pytest.fixture
def plex() -> Iterator[tuple[FakePlexCluster, str]]:
    """Two shows, nothing played but the first episode of the first show."""
    home = ServerSpec(
        "Home",
        catalog=CatalogSpec(movies=8, shows=2, seasons=1, episodes=3, artists=1, albums=1, tracks=2),
        connections=(ConnectionSpec.live(local=True),),
    )
    cluster = FakePlexCluster([home])
    catalog = cluster.server("Home").catalog
    for item in catalog.items.values():
        item.view_count, item.view_offset, item.last_viewed_at = 0, 0, None
    show = next(item for item in catalog.items.values() if item.type == "show")
    first_episode = next(show.leaves())
    catalog.set_watched(first_episode, True, at=WATCHED_AT["plex"])
    with cluster.run_in_thread() as url:
        yield cluster, url


async def add_jellyfin(client: Client, url: str) -> str:
    (account,) = await client.manager("AddJellyfinAccount", "sss", url, USER, PASSWORD)
    source = str(account).replace("/accounts/", "/sources/")
    finished = await client.sync_finished(source)
    assert finished.body[1], finished.body[2]
    return source


async def add_plex(client: Client, token: str, other: str) -> str:
    await client.manager("AddPlexAccount", "s", token)
    finished = await client.wait_signal(lambda m: m.member == "SyncFinished" and m.body[0] != other, 60)
    assert finished.body[1], finished.body[2]
    return str(finished.body[0])


def plain(item: dict[str, Variant]) -> dict[str, Any]:
    return {key: variant.value for key, variant in item.items()}


async def query(
    client: Client, library: str, flt: dict[str, Variant], sort: str = "", page: int = 7
) -> tuple[list[dict[str, Any]], int]:
    """Every page of a query; the total each page gave (they must agree)."""
    found: list[dict[str, Any]] = []
    totals: set[int] = set()
    while True:
        items, total = await client.call(
            library, f"{IFACE}.Library", "Query", "a{sv}uus", flt, len(found), page, sort
        )
        totals.add(total)
        found.extend(plain(item) for item in items)
        if len(items) < page:
            assert len(totals) == 1, totals
            return found, totals.pop()


async def test_next_up_across_two_sources_and_the_new_keys_of_both_backends(
    private_bus: PrivateBus,
    keyring_daemon: KeyringDaemon,
    daemon: StartReeld,
    client_for: Any,
    jellyfin: tuple[FakeJellyfin, str],
    plex: tuple[FakePlexCluster, str],
) -> None:
    cluster, plex_url = plex
    daemon(env={"REELD_PLEX_TV_URL": plex_url})
    client = await client_for(private_bus)
    assert await client.prop("/io/github/reeld/Reeld1", "Manager", "ApiVersion") == "1.1"
    jf_source = await add_jellyfin(client, jellyfin[1])
    plex_source = await add_plex(client, cluster.token, jf_source)

    (up_next,) = await client.manager("NextUp", "u", 10)
    shown = [(item["source"].value, item["parent_index"].value, item["index"].value) for item in up_next]
    # Plex's show was watched last; Jellyfin's finished series is left out, its begun one goes on at 1x3.
    assert shown == [(plex_source, 1, 2), (jf_source, 1, 3)]

    jf_movies = await list_all(client, (await libraries(client, jf_source))["Movies"])
    movie = plain(jf_movies[0])
    assert movie["genres"] and all(isinstance(genre, str) for genre in movie["genres"])
    assert {"tmdb", "imdb"} <= movie["provider_ids"].keys() and movie["provider_ids"]["imdb"].startswith("tt")
    assert movie["content_rating"] and movie["studio"] and ISO_DATE.match(movie["air_date"])
    assert any("original_title" in plain(item) for item in jf_movies)
    jf_shows = [plain(item) for item in await list_all(client, (await libraries(client, jf_source))["Shows"])]
    assert all(show["child_count"] == 2 and show["leaf_count"] == 6 for show in jf_shows)
    assert sorted(show["unwatched_count"] for show in jf_shows) == [0, 4]  # one finished, one begun
    (seasons,) = await client.manager("GetChildren", "s", jf_shows[0]["id"])
    (episodes,) = await client.manager("GetChildren", "s", seasons[0]["id"].value)
    assert plain(seasons[0])["leaf_count"] == 3 and plain(episodes[-1])["index_end"] == 4  # a double episode

    plex_libraries = await libraries(client, plex_source)
    plex_movies = [plain(item) for item in await list_all(client, plex_libraries["Movies"])]
    assert all(movie["genres"] and movie["content_rating"] and movie["studio"] for movie in plex_movies)
    assert all(ISO_DATE.match(movie["air_date"]) and "imdb" in movie["provider_ids"] for movie in plex_movies)
    assert any(movie.get("original_title") for movie in plex_movies)
    # Plex sends titleSort only where it differs from the title ("Matrix, The"), and so does reeld.
    assert any(movie.get("sort_title") for movie in plex_movies)
    (album,) = [plain(item) for item in await list_all(client, plex_libraries["Music"])]
    assert album["artist"]
    plex_shows = [plain(item) for item in await list_all(client, plex_libraries["TV Shows"])]
    assert sorted(show["unwatched_count"] for show in plex_shows) == [2, 3]
    assert all(show["child_count"] == 1 and show["leaf_count"] == 3 for show in plex_shows)

    # Marked watched here: counted at once, and Next Up moves on.
    (plex_next,) = [item for item in up_next if item["source"].value == plex_source]
    await client.manager("SetWatched", "sb", plex_next["id"].value, True)
    (up_next,) = await client.manager("NextUp", "u", 10)
    assert (up_next[0]["source"].value, up_next[0]["index"].value) == (plex_source, 3)
    plex_shows = [plain(item) for item in await list_all(client, plex_libraries["TV Shows"])]
    assert sorted(show["unwatched_count"] for show in plex_shows) == [1, 3]


FILTERS: list[dict[str, Variant]] = [
    {},
    {"watched": Variant("b", False)},
    {"watched": Variant("b", True)},
    {"in_progress": Variant("b", True)},
    {"genre": Variant("s", "drama")},
    {"year_min": Variant("u", 1980), "year_max": Variant("u", 2000)},
    {"added_since": Variant("t", 10)},
    {"text": Variant("s", "silent")},
    {"kind": Variant("s", "episode"), "watched": Variant("b", False)},
    {"genre": Variant("s", "Comedy"), "watched": Variant("b", False), "year_min": Variant("u", 1960)},
]


async def test_query_totals_equal_what_it_lists_for_every_filter_and_bad_filters_are_named(
    private_bus: PrivateBus,
    keyring_daemon: KeyringDaemon,
    daemon: StartReeld,
    client_for: Any,
    jellyfin: tuple[FakeJellyfin, str],
) -> None:
    daemon()
    client = await client_for(private_bus)
    source = await add_jellyfin(client, jellyfin[1])
    found = await libraries(client, source)
    everything = {
        title: [plain(item) for item in await list_all(client, path)] for title, path in found.items()
    }
    for title, library in found.items():
        for flt in FILTERS:
            for sort in ("", "-added", "year", "-rating", "last_viewed", "random"):
                items, total = await query(client, library, flt, sort)
                assert total == len(items) == len({item["id"] for item in items}), (title, flt, sort)
            kind = flt.get("kind")
            if kind is None:  # the top level: a subset of what ListItems lists
                assert {item["id"] for item in items} <= {item["id"] for item in everything[title]}
            for item in items:
                assert kind is None or item["kind"] == kind.value
                assert "watched" not in flt or item["watched"] == flt["watched"].value
                assert "genre" not in flt or flt["genre"].value.casefold() in map(
                    str.casefold, item["genres"]
                )
                assert "year_min" not in flt or item["year"] >= flt["year_min"].value
                assert "year_max" not in flt or item["year"] <= flt["year_max"].value
        all_items, total = await query(client, library, {}, "title")
        assert total == len(everything[title]) and [i["id"] for i in all_items] == [
            i["id"] for i in everything[title]
        ]
    movies = found["Movies"]
    watched, _ = await query(client, movies, {"watched": Variant("b", True)})
    unwatched, _ = await query(client, movies, {"watched": Variant("b", False)})
    assert len(watched) == 5 and len(watched) + len(unwatched) == len(everything["Movies"])
    newest_first, _ = await query(client, movies, {}, "added")
    oldest_first, _ = await query(client, movies, {}, "-added")
    assert [item["id"] for item in oldest_first] == [item["id"] for item in newest_first][::-1]

    bad = [
        ({"watched": Variant("s", "no")}, "filter 'watched' takes a boolean (b), not a string (s)"),
        ({"year_min": Variant("i", 1990)}, "filter 'year_min' takes an unsigned number (u), not i"),
        ({"colour": Variant("s", "red")}, "unknown filter key 'colour'"),
        ({"kind": Variant("s", "dinosaur")}, "unknown kind 'dinosaur'"),
    ]
    for flt, message in bad:
        with pytest.raises(RuntimeError) as raised:
            await client.call(movies, f"{IFACE}.Library", "Query", "a{sv}uus", flt, 0, 10, "")
        assert str(raised.value).startswith(f"{IFACE}.Error.InvalidArgument: ")
        assert message in str(raised.value) and "Traceback" not in str(raised.value)
    for sort in ("popularity", "--added"):
        with pytest.raises(RuntimeError, match=f"{IFACE}.Error.InvalidArgument: unknown sort"):
            await client.call(movies, f"{IFACE}.Library", "Query", "a{sv}uus", {}, 0, 10, sort)
    with pytest.raises(RuntimeError, match="InvalidArgument: Query takes"):
        await client.call(movies, f"{IFACE}.Library", "Query", "suus", "watched", 0, 10, "")


async def test_local_files_give_their_air_date_and_last_episode(
    private_bus: PrivateBus, daemon: StartReeld, client_for: Any, tmp_path: Path
) -> None:
    media = tmp_path / "media"
    (media / "Dark").mkdir(parents=True)
    (media / "Dark" / "Dark.S01E01E02.mkv").write_bytes(b"two episodes")
    (media / "The Daily Show").mkdir()
    (media / "The Daily Show" / "The.Daily.Show.2024.03.05.mkv").write_bytes(b"a dated episode")
    daemon()
    client = await client_for(private_bus)
    _, source = await add_folder(client, media)
    shows = (await libraries(client, source))["TV Shows"]
    episodes, _ = await client.call(
        shows, f"{IFACE}.Library", "Query", "a{sv}uus", {"kind": Variant("s", "episode")}, 0, 10, ""
    )
    by_show = {plain(item)["show_title"]: plain(item) for item in episodes}
    assert by_show["Dark"]["index"] == 1 and by_show["Dark"]["index_end"] == 2
    assert by_show["The Daily Show"]["air_date"] == "2024-03-05"
