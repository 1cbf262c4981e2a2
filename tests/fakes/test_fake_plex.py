"""The fake plex.tv and Plex Media Servers answer like the real ones.

The acceptance test is plexapi itself browsing a fake server and logging in against the fake
plex.tv. The rest checks what reeld's Plex backend relies on: XML and JSON from the same data,
paging, date filters (and a server that ignores them), PIN login, the resources list, addresses
that refuse or never answer, notifications, media files with ranges, faults, the CLI, and the
JSON shapes against the community OpenAPI spec.
"""

import asyncio
import importlib
import json
import socket
import ssl
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect as websocket_connect

from reeld.fakes.plex import (
    CatalogSpec,
    ConnectionSpec,
    FakePlexCluster,
    FakePlexServer,
    Fault,
    FaultKind,
    ServerSpec,
    plex_tv_session,
)
from reeld.fakes.plex.generate import build_catalog
from reeld.fakes.plex.metadata import GUIDS, fragment
from tests.support.procs import read_line, stop_process

SPECS = Path(__file__).resolve().parents[3] / "shared" / "specs" / "plex"
SMALL = CatalogSpec(movies=12, shows=3, seasons=2, episodes=3, artists=1, albums=1, tracks=3)
JSON_ACCEPT = {"Accept": "application/json"}
CLIENT = {"X-Plex-Client-Identifier": "reeld-tests", "X-Plex-Product": "reeld tests"}
EPOCH = 1_750_000_000


class Clock:
    """The fakes' notion of "now", moved by the test."""

    def __init__(self) -> None:
        self.now = EPOCH

    def __call__(self) -> int:
        return self.now


def layout() -> list[ServerSpec]:
    return [
        ServerSpec(
            "Home",
            owned=True,
            catalog=SMALL,
            connections=(ConnectionSpec.refused(local=True), ConnectionSpec.live(local=False)),
        ),
        ServerSpec(
            "Friend",
            owned=False,
            catalog=CatalogSpec(seed=2, movies=3, shows=1, seasons=1, episodes=2),
            connections=(ConnectionSpec.live(local=False), ConnectionSpec.relayed()),
        ),
        ServerSpec(
            "Cabin",
            owned=False,
            catalog=CatalogSpec(seed=3, movies=2, shows=0),
            connections=(ConnectionSpec.live(local=True), ConnectionSpec.timeout(local=False)),
            running=False,
        ),
    ]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def cluster(clock: Clock) -> AsyncIterator[FakePlexCluster]:
    async with FakePlexCluster(layout(), clock=clock) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


def token_of(cluster: FakePlexCluster) -> dict[str, str]:
    return {"X-Plex-Token": cluster.token}


@pytest.fixture
def plexapi(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """plexapi, imported with a config file of its own (it reads the config once, at import)."""
    monkeypatch.setenv("PLEXAPI_CONFIG_PATH", str(tmp_path / "plexapi.ini"))
    return importlib.import_module("plexapi")


# -- plexapi: the acceptance test ------------------------------------------------------------------


def test_plexapi_browses_the_fake_server(plexapi: Any) -> None:
    from plexapi.server import PlexServer

    cluster = FakePlexCluster(layout())
    home = cluster.servers[0]
    with cluster.run_in_thread():
        plex = PlexServer(home.url, cluster.token)
        assert (plex.friendlyName, plex.machineIdentifier) == ("Home", home.machine_identifier)
        sections = {section.title: section for section in plex.library.sections()}
        assert [s.type for s in sections.values()] == ["movie", "show", "artist"]

        movies = sections["Movies"].all()
        assert len(movies) == SMALL.movies
        assert sections["Movies"].totalSize == SMALL.movies
        assert all(movie.media[0].parts[0].file.startswith("/data/movies/") for movie in movies)

        show = sections["TV Shows"].all()[0]
        assert len(show.episodes()) == SMALL.seasons * SMALL.episodes
        season = show.seasons()[1]
        episodes = season.episodes()
        assert [e.index for e in episodes] == list(range(1, SMALL.episodes + 1))
        assert {e.parentIndex for e in episodes} == {2}

        episode = next(e for e in episodes if not e.isWatched)
        episode.markWatched()
        assert plex.fetchItem(episode.ratingKey).isWatched
        episode.markUnwatched()
        fetched = plex.fetchItem(episode.ratingKey)
        assert not fetched.isWatched
        assert (fetched.title, fetched.grandparentTitle) == (episode.title, show.title)
        assert plex.search(show.title)[0].title == show.title


def test_plexapi_logs_in_and_connects_through_the_fake_plex_tv(plexapi: Any) -> None:
    from plexapi.myplex import MyPlexAccount, MyPlexPinLogin

    cluster = FakePlexCluster(layout())
    with cluster.run_in_thread() as plex_tv_url:
        session = plex_tv_session(plex_tv_url)
        account = MyPlexAccount(token=cluster.token, session=session)
        assert account.username == "demo"
        resources = {resource.name: resource for resource in account.resources()}
        assert set(resources) == {"Home", "Friend", "Cabin", "Living Room TV"}
        assert [name for name, r in resources.items() if "server" in r.provides] == [
            "Home",
            "Friend",
            "Cabin",
        ]

        home = resources["Home"].connect(timeout=3)  # its local address refuses; the remote one answers
        assert home._baseurl == cluster.servers[0].connections[1].uri
        friend = resources["Friend"].connect(timeout=3)
        assert friend.friendlyName == "Friend"
        assert len(friend.library.section("Movies").all()) == 3

        login = MyPlexPinLogin(session=session, oauth=True)
        assert login.oauthUrl().startswith("https://app.plex.tv/auth/")
        assert not login.checkLogin()
        cluster.plex_tv.approve_pin(int(str(login._id)))
        assert login.checkLogin()
        assert MyPlexAccount(token=login.token, session=session).authToken == login.token


# -- formats and listings ----------------------------------------------------------------------------


def _xml_text(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


async def test_xml_and_json_carry_the_same_data(cluster: FakePlexCluster, http: httpx.AsyncClient) -> None:
    home = cluster.servers[0]
    url = f"{home.url}/library/sections/2/all?type=4&includeGuids=1"
    as_xml = ET.fromstring((await http.get(url, headers=token_of(cluster))).content)
    as_json = (await http.get(url, headers={**token_of(cluster), **JSON_ACCEPT})).json()["MediaContainer"]

    assert as_xml.tag == "MediaContainer"
    assert as_xml.attrib["size"] == str(as_json["size"]) == str(SMALL.shows * SMALL.seasons * SMALL.episodes)
    for element, item in zip(as_xml, as_json["Metadata"], strict=True):
        assert element.tag == "Video"
        scalars = {key: _xml_text(value) for key, value in item.items() if not isinstance(value, list)}
        assert element.attrib == scalars
        assert [g.attrib["id"] for g in element.iter("Guid")] == [g["id"] for g in item["Guid"]]
        (part,) = element.iter("Part")
        assert part.attrib["file"] == item["Media"][0]["Part"][0]["file"]
        assert int(part.attrib["size"]) == item["Media"][0]["Part"][0]["size"]


async def test_paging_by_headers_and_by_query_parameters(
    cluster: FakePlexCluster, http: httpx.AsyncClient
) -> None:
    base = f"{cluster.servers[0].url}/library/sections/1/all"
    headers = {**token_of(cluster), **JSON_ACCEPT}
    everything = (await http.get(base, headers=headers)).json()["MediaContainer"]["Metadata"]
    keys = [item["ratingKey"] for item in everything]

    by_header, by_query = [], []
    for start in range(0, len(keys), 5):
        window = {"X-Plex-Container-Start": str(start), "X-Plex-Container-Size": "5"}
        answer = await http.get(base, headers={**headers, **window})
        page = answer.json()["MediaContainer"]
        assert (page["offset"], page["totalSize"]) == (start, len(keys))
        assert answer.headers["X-Plex-Container-Total-Size"] == str(len(keys))
        by_header += [item["ratingKey"] for item in page["Metadata"]]
        page = (await http.get(base, params=window, headers=headers)).json()["MediaContainer"]
        by_query += [item["ratingKey"] for item in page["Metadata"]]
    assert by_header == by_query == keys

    count_only = {"X-Plex-Container-Start": "0", "X-Plex-Container-Size": "0"}
    container = (await http.get(base, params=count_only, headers=headers)).json()["MediaContainer"]
    assert (container["size"], container["totalSize"], "Metadata" in container) == (0, len(keys), False)


async def test_date_filters_narrow_unless_the_server_ignores_them(
    cluster: FakePlexCluster, http: httpx.AsyncClient, clock: Clock
) -> None:
    home = cluster.servers[0]
    headers = {**token_of(cluster), **JSON_ACCEPT}
    url = f"{home.url}/library/sections/2/all"

    async def keys(**params: int) -> list[str]:
        container = (await http.get(url, params={"type": 4, **params}, headers=headers)).json()[
            "MediaContainer"
        ]
        return [item["ratingKey"] for item in container.get("Metadata", [])]

    everything = await keys()
    assert await keys(**{"updatedAt>>": EPOCH}) == []  # generated data predates the clock
    clock.now = EPOCH + 100
    season = next(item for item in home.catalog.items.values() if item.type == "season")
    added = home.add_episode(season.rating_key, "Brand New")
    edited = home.update_item(everything[0], summary="Edited.")
    home.set_watched(everything[1])  # watch state is not an update
    assert set(await keys(**{"updatedAt>>": EPOCH})) == {str(edited.rating_key), str(added.rating_key)}
    assert await keys(**{"addedAt>>": EPOCH}) == [str(added.rating_key)]
    assert await keys(**{"lastViewedAt>>": EPOCH}) == [everything[1]]
    assert len(await keys(**{"updatedAt<<": EPOCH})) == len(everything) - 1

    home.set_ignore_date_filters()
    assert len(await keys(**{"updatedAt>>": EPOCH})) == len(everything) + 1


async def test_sorts(cluster: FakePlexCluster, http: httpx.AsyncClient) -> None:
    url = f"{cluster.servers[0].url}/library/sections/1/all"
    headers = {**token_of(cluster), **JSON_ACCEPT}

    async def listing(sort: str) -> list[dict[str, Any]]:
        answer = await http.get(url, params={"sort": sort}, headers=headers)
        return list(answer.json()["MediaContainer"]["Metadata"])

    ascending = [item["ratingKey"] for item in await listing("titleSort")]
    assert [item["ratingKey"] for item in await listing("titleSort:desc")] == ascending[::-1]
    added = [item["addedAt"] for item in await listing("movie.addedAt:desc")]
    assert added == sorted(added, reverse=True)
    assert (await http.get(url, params={"sort": "bogus"}, headers=headers)).status_code == 400


async def test_metadata_children_and_leaves(cluster: FakePlexCluster, http: httpx.AsyncClient) -> None:
    home = cluster.servers[0]
    headers = {**token_of(cluster), **JSON_ACCEPT}
    show = next(item for item in home.catalog.items.values() if item.type == "show")
    movies = [item for item in home.catalog.items.values() if item.type == "movie"][:3]

    keys = ",".join(str(movie.rating_key) for movie in movies[::-1])
    listed = (await http.get(f"{home.url}/library/metadata/{keys}", headers=headers)).json()["MediaContainer"]
    assert [item["ratingKey"] for item in listed["Metadata"]] == keys.split(",")
    assert all(item["librarySectionID"] == 1 and item["Guid"] for item in listed["Metadata"])

    children = (await http.get(f"{home.url}{show.key}/children", headers=headers)).json()["MediaContainer"]
    first, *seasons = children["Metadata"]
    assert (first["title"], "ratingKey" in first) == ("All episodes", False)
    assert [season["index"] for season in seasons] == [1, 2]
    plain = await http.get(f"{home.url}{show.key}/children?excludeAllLeaves=1", headers=headers)
    assert [s["ratingKey"] for s in plain.json()["MediaContainer"]["Metadata"]] == [
        s["ratingKey"] for s in seasons
    ]
    leaves = (await http.get(f"{home.url}{show.key}/allLeaves", headers=headers)).json()["MediaContainer"]
    assert leaves["size"] == SMALL.seasons * SMALL.episodes
    assert {episode["grandparentTitle"] for episode in leaves["Metadata"]} == {show.title}
    await http.patch(f"{home.url}/__control/items/{show.rating_key}", json={"title": "Renamed"})
    leaves = (await http.get(f"{home.url}{show.key}/allLeaves", headers=headers)).json()["MediaContainer"]
    assert {episode["grandparentTitle"] for episode in leaves["Metadata"]} == {"Renamed"}
    assert (await http.get(f"{home.url}/library/metadata/999999", headers=headers)).status_code == 404


# -- plex.tv -------------------------------------------------------------------------------------------


async def test_pin_login_approved_and_expired(
    cluster: FakePlexCluster, http: httpx.AsyncClient, clock: Clock
) -> None:
    pins = f"{cluster.url}/api/v2/pins"
    headers = {**CLIENT, **JSON_ACCEPT}
    created = await http.post(f"{pins}?strong=true", headers=headers)
    assert created.status_code == 201
    pin = created.json()
    assert (len(pin["code"]), pin["authToken"], pin["clientIdentifier"]) == (25, None, "reeld-tests")
    assert (await http.get(f"{pins}/{pin['id']}", headers=headers)).json()["authToken"] is None

    approved = await http.post(f"{cluster.url}/__control/pins/{pin['id']}/approve")
    token = approved.json()["authToken"]
    assert (await http.get(f"{pins}/{pin['id']}", headers=headers)).json()["authToken"] == token
    user = await http.get(f"{cluster.url}/api/v2/user", headers={**headers, "X-Plex-Token": token})
    assert (user.status_code, user.json()["authToken"]) == (200, token)
    other_client = {**headers, "X-Plex-Client-Identifier": "someone-else"}
    assert (await http.get(f"{pins}/{pin['id']}", headers=other_client)).status_code == 404

    second = (await http.post(pins, headers=headers)).json()
    assert len(second["code"]) == 4
    await http.post(f"{cluster.url}/__control/pins/{second['id']}/expire")
    gone = await http.get(f"{pins}/{second['id']}", headers=headers)
    assert (gone.status_code, gone.json()["errors"][0]["code"]) == (404, 1020)
    third = (await http.post(f"{pins}?strong=true", headers=headers)).json()
    clock.now += third["expiresIn"]
    assert (await http.get(f"{pins}/{third['id']}", headers=headers)).status_code == 404
    assert (await http.post(pins, headers=JSON_ACCEPT)).status_code == 400  # no client identifier


async def test_resources_list_owned_and_shared_servers_and_a_player(
    cluster: FakePlexCluster, http: httpx.AsyncClient
) -> None:
    url = f"{cluster.url}/api/v2/resources?includeHttps=1&includeRelay=1&includeIPv6=1"
    answer = await http.get(url, headers={**CLIENT, **JSON_ACCEPT, **token_of(cluster)})
    resources = {resource["name"]: resource for resource in answer.json()}
    assert {name: r["provides"] for name, r in resources.items()} == {
        "Home": "server",
        "Friend": "server",
        "Cabin": "server",
        "Living Room TV": "client,player,pubsub-player",
    }
    home, friend, cabin = resources["Home"], resources["Friend"], resources["Cabin"]
    assert (home["owned"], home["ownerId"], home["accessToken"]) == (True, None, cluster.token)
    assert (friend["owned"], friend["accessToken"]) == (False, cluster.servers[1].access_token)
    assert [c["local"] for c in home["connections"]] == [True, False]
    assert [c["relay"] for c in friend["connections"]] == [False, True]
    assert (cabin["presence"], friend["presence"]) == (False, True)

    friend_url = friend["connections"][0]["uri"]
    assert (await http.get(f"{friend_url}/library/sections", headers=token_of(cluster))).status_code == 401
    shared = {"X-Plex-Token": friend["accessToken"]}
    assert (await http.get(f"{friend_url}/library/sections", headers=shared)).status_code == 200

    without_relays = await http.get(
        f"{cluster.url}/api/v2/resources", headers={**CLIENT, **JSON_ACCEPT, **token_of(cluster)}
    )
    friend_again = next(r for r in without_relays.json() if r["name"] == "Friend")
    assert [c["relay"] for c in friend_again["connections"]] == [False]

    as_xml = await http.get(url, headers={**CLIENT, **token_of(cluster)})
    root = ET.fromstring(as_xml.content)
    assert (root.tag, root.attrib["size"]) == ("resources", "4")
    assert [c.attrib["uri"] for c in root[0].iter("connection")] == [c["uri"] for c in home["connections"]]


async def test_tokens_are_checked_and_revocation_takes_effect(
    cluster: FakePlexCluster, http: httpx.AsyncClient
) -> None:
    home = cluster.servers[0]
    refused = await http.get(f"{home.url}/library/sections")
    assert (refused.status_code, refused.headers["content-type"]) == (401, "text/html; charset=utf-8")
    assert ET.fromstring(refused.content).findtext("body/h1") == "401 Unauthorized"
    assert (await http.get(f"{home.url}/library/sections", params=token_of(cluster))).status_code == 200
    assert (await http.get(f"{home.url}/identity")).status_code == 200  # needs no token

    await http.post(f"{cluster.url}/__control/tokens/revoke", json={"token": cluster.token})
    assert (await http.get(f"{home.url}/library/sections", headers=token_of(cluster))).status_code == 401
    user = await http.get(f"{cluster.url}/api/v2/user", headers={**CLIENT, **token_of(cluster)})
    assert (user.status_code, ET.fromstring(user.content)[0].attrib["code"]) == (401, "1001")


async def test_unreachable_connections_refuse_or_time_out(
    cluster: FakePlexCluster, http: httpx.AsyncClient
) -> None:
    home, _, cabin = cluster.servers
    with pytest.raises(httpx.ConnectError):
        await http.get(f"{home.connections[0].uri}/identity")
    cabin_local, cabin_remote = (connection.uri for connection in cabin.connections)
    assert cabin_remote.startswith("http://127.")
    with pytest.raises(httpx.ConnectError):
        await http.get(f"{cabin_local}/identity")
    with pytest.raises(httpx.TimeoutException):
        await http.get(f"{cabin_remote}/identity", timeout=0.3)

    await http.post(f"{cluster.url}/__control/servers/{cabin.machine_identifier}/start")
    assert (await http.get(f"{cabin_local}/identity")).status_code == 200
    await http.post(f"{cluster.url}/__control/servers/{cabin.machine_identifier}/stop")
    with pytest.raises(httpx.ConnectError):
        await http.get(f"{cabin_local}/identity")


async def test_https_connections_use_the_clusters_certificate(http: httpx.AsyncClient) -> None:
    spec = ServerSpec("Secure", catalog=SMALL, connections=(ConnectionSpec.live(protocol="https"),))
    async with FakePlexCluster([spec]) as cluster:
        assert cluster.tls is not None
        uri = cluster.servers[0].connections[0].uri
        assert uri.startswith("https://127.0.0.1:")
        trusted = ssl.create_default_context(cafile=str(cluster.tls.ca))
        async with httpx.AsyncClient(verify=trusted) as client:
            assert (await client.get(f"{uri}/identity")).status_code == 200
        with pytest.raises(httpx.ConnectError):
            await http.get(f"{uri}/identity")  # not trusted by default


# -- watch state, files, notifications ------------------------------------------------------------------


async def test_watch_state_from_another_device_leaves_updated_at(
    cluster: FakePlexCluster, http: httpx.AsyncClient, clock: Clock
) -> None:
    home = cluster.servers[0]
    headers = {**token_of(cluster), **JSON_ACCEPT}
    movie = next(i for i in home.catalog.items.values() if i.type == "movie" and not i.view_count)

    async def fetched() -> dict[str, Any]:
        answer = await http.get(f"{home.url}{movie.key}", headers=headers)
        return dict(answer.json()["MediaContainer"]["Metadata"][0])

    before = await fetched()
    clock.now += 60
    await http.post(f"{home.url}/__control/items/{movie.rating_key}/progress", json={"offset": 60_000})
    started = await fetched()
    assert (started["viewOffset"], started["lastViewedAt"], "viewCount" in started) == (
        60_000,
        clock.now,
        False,
    )
    timeline: dict[str, str | int | None] = {
        "ratingKey": movie.rating_key,
        "key": movie.key,
        "state": "stopped",
        "duration": movie.duration,
    }
    await http.get(f"{home.url}/:/timeline", params={**timeline, "time": movie.duration}, headers=headers)
    watched = await fetched()
    assert (watched["viewCount"], "viewOffset" in watched) == (1, False)
    await http.put(
        f"{home.url}/:/unscrobble", params={"key": movie.rating_key, "identifier": "x"}, headers=headers
    )
    assert (await fetched())["viewCount"] == 1  # unknown identifier: 404, nothing changes
    assert watched["updatedAt"] == before["updatedAt"]


async def test_part_files_serve_deterministic_bytes_with_ranges(
    cluster: FakePlexCluster, http: httpx.AsyncClient
) -> None:
    home = cluster.servers[0]
    headers = token_of(cluster)
    movie = next(i for i in home.catalog.items.values() if i.type == "movie")
    assert movie.part is not None
    key = f"/library/parts/{movie.part.id}/{movie.part.changed_at}/file.mkv"
    size = movie.part.size

    head = await http.head(f"{home.url}{key}", headers=headers)
    assert (head.status_code, int(head.headers["content-length"])) == (200, size)
    first = await http.get(f"{home.url}{key}", headers={**headers, "Range": "bytes=0-99999"})
    assert (first.status_code, first.headers["content-range"]) == (206, f"bytes 0-99999/{size}")
    assert first.content[:4] == b"\x1aE\xdf\xa3" and len(first.content) == 100_000
    middle = await http.get(f"{home.url}{key}", headers={**headers, "Range": "bytes=70000-70009"})
    assert middle.content == first.content[70_000:70_010]
    tail = await http.get(f"{home.url}{key}", headers={**headers, "Range": "bytes=-10"})
    assert tail.headers["content-range"] == f"bytes {size - 10}-{size - 1}/{size}"
    beyond = await http.get(f"{home.url}{key}", headers={**headers, "Range": f"bytes={size}-"})
    assert (beyond.status_code, beyond.headers["content-range"]) == (416, f"bytes */{size}")


async def test_websocket_notifications_follow_changes(
    cluster: FakePlexCluster, http: httpx.AsyncClient
) -> None:
    home = cluster.servers[0]
    socket_url = (
        home.url.replace("http://", "ws://") + f"/:/websockets/notifications?X-Plex-Token={cluster.token}"
    )
    async with websocket_connect(socket_url) as notifications:

        async def receive() -> dict[str, Any]:
            return dict(json.loads(await asyncio.wait_for(notifications.recv(), 5))["NotificationContainer"])

        added = await http.post(f"{home.url}/__control/items", json={"type": "movie", "title": "Fresh"})
        key = added.json()["ratingKey"]
        created, processed = await receive(), await receive()
        assert (created["type"], created["TimelineEntry"][0]["state"]) == ("timeline", 0)
        entry = processed["TimelineEntry"][0]
        assert (entry["itemID"], entry["sectionID"], entry["type"], entry["state"]) == (key, "1", 1, 5)
        assert entry["identifier"] == "com.plexapp.plugins.library"

        await http.delete(f"{home.url}/__control/items/{key}")
        assert (await receive())["TimelineEntry"][0]["state"] == 9

        await http.get(
            f"{home.url}/library/sections/2/refresh", headers=token_of(cluster)
        )  # as plexapi's update()
        events = [(await receive())["ActivityNotification"][0] for _ in range(2)]
        assert [e["event"] for e in events] == ["started", "ended"]
        assert {e["Activity"]["type"] for e in events} == {"library.update.section"}

        movie = next(i for i in home.catalog.items.values() if i.type == "movie")
        report: dict[str, str | int] = {
            "ratingKey": movie.rating_key,
            "key": movie.key,
            "state": "playing",
            "time": 5000,
        }
        await http.post(f"{home.url}/:/timeline", params=report, headers=token_of(cluster))
        playing = (await receive())["PlaySessionStateNotification"][0]
        assert (playing["ratingKey"], playing["state"], playing["viewOffset"]) == (
            str(movie.rating_key),
            "playing",
            5000,
        )

    with pytest.raises(Exception, match="403"):
        async with websocket_connect(socket_url.replace(cluster.token, "wrong")):
            pass


# -- faults and the request log -------------------------------------------------------------------------


async def test_faults_and_request_log(cluster: FakePlexCluster, http: httpx.AsyncClient) -> None:
    home = cluster.servers[0]
    url = f"{home.url}/library/sections/1/all"
    headers = {**token_of(cluster), **JSON_ACCEPT}
    await http.delete(f"{home.url}/__control/requests")

    home.add_fault(Fault(FaultKind.STATUS, path="/library/sections", times=1, status=503))
    assert (await http.get(url, headers=headers)).status_code == 503
    healthy = await http.get(url, headers=headers)
    assert healthy.status_code == 200

    home.add_fault(Fault(FaultKind.MALFORMED, times=1))
    with pytest.raises(json.JSONDecodeError):
        (await http.get(url, headers=headers)).json()
    home.add_fault(Fault(FaultKind.TRUNCATED, times=1))
    with pytest.raises(httpx.RemoteProtocolError):
        await http.get(url, headers=headers)
    home.add_fault(Fault(FaultKind.DROP, times=1))
    with pytest.raises(httpx.RemoteProtocolError):
        await http.get(url, headers=headers)
    await http.post(f"{home.url}/__control/faults", json={"kind": "unauthorized", "times": 1})
    assert (await http.get(url, headers=headers)).status_code == 401

    home.set_latency(0.2)
    started = time.monotonic()
    assert (await http.get(url, headers=headers)).status_code == 200
    assert time.monotonic() - started >= 0.2
    await http.delete(f"{home.url}/__control/faults")

    log = (await http.get(f"{home.url}/__control/requests")).json()
    assert [record["status"] for record in log["requests"]] == [503, 200, 200, 200, None, 401, 200]
    assert [record["fault"] for record in log["requests"]][:6] == [
        "status",
        None,
        "malformed",
        "truncated",
        "drop",
        "unauthorized",
    ]
    assert log["requests"][1]["sent"] == len(healthy.content)
    assert log["bytesSent"] == sum(record["sent"] for record in log["requests"])


# -- catalogs --------------------------------------------------------------------------------------------


def test_catalogs_are_deterministic_and_big_ones_build_quickly() -> None:
    first, second = build_catalog(SMALL), build_catalog(SMALL)
    assert [fragment(item, "json", GUIDS) for item in first.items.values()] == [
        fragment(item, "json", GUIDS) for item in second.items.values()
    ]
    started = time.perf_counter()
    big = build_catalog(CatalogSpec(movies=20_000, shows=2_000, seasons=4, episodes=10))
    elapsed = time.perf_counter() - started
    assert len(big.of_type(2, "episode")) == 80_000 and len(big.of_type(1, "movie")) == 20_000
    assert elapsed < 8, f"a 100k-item catalog took {elapsed:.1f} s to build (about 2 s expected)"


async def test_a_standalone_server_takes_its_own_token(http: httpx.AsyncClient) -> None:
    async with FakePlexServer(ServerSpec("Solo", catalog=SMALL), token="solo-token") as server:
        answer = await http.get(f"{server.url}/library/sections", headers={"X-Plex-Token": "solo-token"})
        assert answer.status_code == 200
        assert (
            await http.get(f"{server.url}/library/sections", headers={"X-Plex-Token": "x"})
        ).status_code == 401


# -- the command line ------------------------------------------------------------------------------------


def _free_port_run(length: int) -> int:
    """A port P such that P … P+length-1 are free right now."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + length > 65535:
            continue
        try:
            for offset in range(length):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", base + offset))
        except OSError:
            continue
        return base
    raise RuntimeError("no run of free ports")


@pytest.fixture
def cli() -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = _free_port_run(3)
    args = ["--port", str(port), "--servers", "2", "--movies", "3", "--shows", "1"]
    args += ["--seasons", "1", "--episodes", "2", "--token", "cli-token"]
    command = [sys.executable, "-m", "reeld.fakes.plex", *args]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        yield proc, port
    finally:
        stop_process(proc)


def test_cli_prints_the_url_serves_and_exits_on_sigterm(cli: tuple[subprocess.Popen[bytes], int]) -> None:
    proc, port = cli
    assert read_line(proc, 30, "the fake Plex CLI") == f"http://127.0.0.1:{port}"
    headers = {**CLIENT, **JSON_ACCEPT, "X-Plex-Token": "cli-token"}
    resources = httpx.get(f"http://127.0.0.1:{port}/api/v2/resources", headers=headers).json()
    servers = [r for r in resources if r["provides"] == "server"]
    assert [(s["name"], s["presence"]) for s in servers] == [("Home", True), ("Cabin", False)]
    identity = httpx.get(f"http://127.0.0.1:{port + 1}/identity", headers=JSON_ACCEPT).json()[
        "MediaContainer"
    ]
    assert identity["machineIdentifier"] == servers[0]["clientIdentifier"]
    assert stop_process(proc) == 0


# -- the community OpenAPI spec --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spec_validators() -> dict[str, Any]:
    yaml = pytest.importorskip("yaml")
    validators = pytest.importorskip("openapi_schema_validator")
    referencing = pytest.importorskip("referencing")
    jsonschema_specs = pytest.importorskip("referencing.jsonschema")
    if not SPECS.is_dir():
        pytest.skip(f"the Plex API specs are not at {SPECS} (shared/ beside the repository)")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    documents = {
        "current": yaml.load((SPECS / "current-ae9507ea" / "plex-api-spec.yaml").read_text(), Loader=loader),
        "legacy": yaml.load(
            (SPECS / "legacy-6c561d88" / "plex-media-server-spec-dereferenced.yaml").read_text(),
            Loader=loader,
        ),
    }
    registry = referencing.Registry()
    for name, document in documents.items():
        resource = referencing.Resource.from_contents(
            document, default_specification=jsonschema_specs.DRAFT202012
        )
        registry = registry.with_resource(f"urn:plex:{name}", resource)

    def validator(document: str, path: str, method: str, status: str) -> Any:
        pointer = "/".join(
            part.replace("~", "~0").replace("/", "~1")
            for part in ("paths", path, method, "responses", status, "content", "application/json", "schema")
        )
        return validators.OAS31Validator({"$ref": f"urn:plex:{document}#/{pointer}"}, registry=registry)

    return {"make": validator}


def _spec_cases(cluster: FakePlexCluster) -> list[tuple[str, str, str, str, str, dict[str, str], str]]:
    home = cluster.servers[0]
    movie = next(item for item in home.catalog.items.values() if item.type == "movie")
    episode = next(item for item in home.catalog.items.values() if item.type == "episode")
    account = {**CLIENT, "X-Plex-Token": cluster.token}
    server = {"X-Plex-Token": cluster.token}
    resources = "/api/v2/resources?includeHttps=1&includeRelay=1&includeIPv6=1"
    # (spec document, spec path, method, status, URL, headers, HTTP method)
    return [
        ("current", "/identity", "get", "200", f"{home.url}/identity", {}, "GET"),
        ("current", "/library/sections/all", "get", "200", f"{home.url}/library/sections", server, "GET"),
        (
            "current",
            "/library/sections/{sectionId}/all",
            "get",
            "200",
            f"{home.url}/library/sections/2/all?type=4&includeGuids=1",
            server,
            "GET",
        ),
        (
            "current",
            "/library/sections/{sectionId}/all",
            "get",
            "200",
            f"{home.url}/library/sections/1/all",
            server,
            "GET",
        ),
        ("current", "/library/metadata/{ids}", "get", "200", f"{home.url}{movie.key}", server, "GET"),
        ("current", "/library/metadata/{ids}", "get", "200", f"{home.url}{episode.key}", server, "GET"),
        ("current", "/resources", "get", "200", f"{cluster.url}{resources}", account, "GET"),
        ("current", "/user", "get", "200", f"{cluster.url}/api/v2/user", account, "GET"),
        ("legacy", "/pins", "post", "201", f"{cluster.url}/api/v2/pins?strong=true", CLIENT, "POST"),
    ]


async def test_json_responses_match_the_community_spec(
    cluster: FakePlexCluster, http: httpx.AsyncClient, spec_validators: dict[str, Any]
) -> None:
    for document, path, method, status, url, headers, verb in _spec_cases(cluster):
        answer = await http.request(verb, url, headers={**headers, **JSON_ACCEPT})
        assert str(answer.status_code) == status, url
        errors = [
            error.message
            for error in spec_validators["make"](document, path, method, status).iter_errors(answer.json())
        ]
        assert errors == [], f"{verb} {url}: {errors[:3]}"
