"""The fake Jellyfin answers as a Jellyfin 10.11 server does, for everything reeld consumes."""

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from reeld.backends.jellyfin.client import authorization
from reeld.backends.jellyfin.mapping import FIELDS
from reeld.fakes.jellyfin import FakeJellyfin, FakeJellyfinServer
from reeld.fakes.jellyfin.app import parse_authorization
from tests.support.procs import read_line, stop_process

SPEC = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "specs"
    / "jellyfin"
    / "10.11.11"
    / "jellyfin-openapi-stable.json"
)
DEVICE = "test-device"


@pytest.fixture
async def served() -> AsyncIterator[tuple[FakeJellyfin, FakeJellyfinServer, httpx.AsyncClient, str]]:
    fake = FakeJellyfin.generate(movies=12, series=2, seasons=2, episodes=3, user="anna", password="pw")
    async with FakeJellyfinServer(fake) as server, httpx.AsyncClient(base_url=server.url) as http:
        login = await http.post(
            "/Users/AuthenticateByName",
            json={"Username": "anna", "Pw": "pw"},
            headers={"Authorization": authorization(DEVICE)},
        )
        yield fake, server, http, login.json()["AccessToken"]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": authorization(DEVICE, token)}


def test_authorization_header_is_parsed_like_the_server() -> None:
    header = 'MediaBrowser Client="reeld", Device="my%20laptop", DeviceId="abc", Version="0.1.0", Token="t0k"'
    assert parse_authorization(header) == {
        "Client": "reeld",
        "Device": "my laptop",
        "DeviceId": "abc",
        "Version": "0.1.0",
        "Token": "t0k",
    }
    assert parse_authorization("Bearer x") == {}


async def test_logins_tokens_and_401s(
    served: tuple[FakeJellyfin, FakeJellyfinServer, httpx.AsyncClient, str],
) -> None:
    fake, _, http, token = served
    wrong = await http.post(
        "/Users/AuthenticateByName", json={"Username": "anna", "Pw": "no"}, headers=auth("")
    )
    assert wrong.status_code == 401
    missing_device = await http.post("/Users/AuthenticateByName", json={"Username": "anna", "Pw": "pw"})
    assert missing_device.status_code == 400
    assert (await http.get("/Users/Me")).status_code == 401
    assert (await http.get("/Users/Me", headers=auth(token))).json()["Name"] == "anna"
    assert (await http.get("/Users/Me", params={"ApiKey": token})).status_code == 200
    fake.revoke_tokens()
    assert (await http.get("/Users/Me", headers=auth(token))).status_code == 401


async def test_paging_totals_and_filters(
    served: tuple[FakeJellyfin, FakeJellyfinServer, httpx.AsyncClient, str],
) -> None:
    fake, _, http, token = served
    user = fake.users["anna"].id
    shows = fake.views[1]["Id"]
    query = {
        "userId": user,
        "ParentId": shows,
        "Recursive": "true",
        "IncludeItemTypes": "Series,Season,Episode",
    }
    first = (
        await http.get("/Items", params={**query, "StartIndex": 0, "Limit": 5}, headers=auth(token))
    ).json()
    rest = (
        await http.get("/Items", params={**query, "StartIndex": 5, "Limit": 100}, headers=auth(token))
    ).json()
    assert first["TotalRecordCount"] == rest["TotalRecordCount"] == 2 + 4 + 12
    assert len(first["Items"]) + len(rest["Items"]) == 18 and rest["StartIndex"] == 5
    assert "Overview" not in first["Items"][0]  # only when Fields asks
    with_fields = (
        await http.get("/Items", params={**query, "Limit": 1, "Fields": FIELDS}, headers=auth(token))
    ).json()
    assert {"DateCreated", "Etag", "SortName", "ParentId"} <= set(with_fields["Items"][0])
    played = (await http.get("/Items", params={**query, "IsPlayed": "true"}, headers=auth(token))).json()
    assert played["Items"] and all(i["UserData"]["Played"] for i in played["Items"])
    movie = next(i for i in fake.items.values() if i.type == "Movie")
    by_id = (await http.get("/Items", params={"userId": user, "Ids": movie.id}, headers=auth(token))).json()
    assert [i["Id"] for i in by_id["Items"]] == [movie.id]
    searched = (
        await http.get(
            "/Items",
            params={"userId": user, "Recursive": "true", "SearchTerm": movie.name[:6]},
            headers=auth(token),
        )
    ).json()
    assert movie.id in {i["Id"] for i in searched["Items"]}
    since = "2030-01-01T00:00:00.0000000Z"
    assert (
        await http.get("/Items", params={**query, "MinDateLastSaved": since}, headers=auth(token))
    ).json()["Items"] == []
    updated = fake.update_item(movie.id, name="Changed")
    recent = (
        await http.get(
            "/Items",
            params={"userId": user, "Recursive": "true", "MinDateLastSaved": "2025-01-01T00:00:00.0000000Z"},
            headers=auth(token),
        )
    ).json()
    assert [i["Id"] for i in recent["Items"]] == [updated.id]


async def test_watch_state_sessions_and_stream(
    served: tuple[FakeJellyfin, FakeJellyfinServer, httpx.AsyncClient, str],
) -> None:
    fake, _, http, token = served
    user = fake.users["anna"].id
    movie = next(i for i in fake.items.values() if i.type == "Movie")
    marked = (await http.post(f"/UserPlayedItems/{movie.id}", headers=auth(token))).json()
    assert marked["Played"] is True and marked["ItemId"] == movie.id
    assert (await http.delete(f"/UserPlayedItems/{movie.id}", headers=auth(token))).json()["Played"] is False
    body = {"ItemId": movie.id, "PositionTicks": 600 * 10_000_000}
    for path in ("/Sessions/Playing", "/Sessions/Playing/Progress", "/Sessions/Playing/Stopped"):
        assert (await http.post(path, json=body, headers=auth(token))).status_code == 204
    assert [kind for kind, _ in fake.session_reports] == ["Playing", "Progress", "Stopped"]
    resume = (await http.get("/Items/Resume", params={"userId": user}, headers=auth(token))).json()
    assert movie.id in {i["Id"] for i in resume["Items"]}
    stream = await http.get(
        f"/Videos/{movie.id}/stream",
        params={"static": "true", "ApiKey": token},
        headers={"Range": "bytes=10-19"},
    )
    assert stream.status_code == 206 and len(stream.content) == 10
    assert (await http.get(f"/Videos/{movie.id}/stream")).status_code == 401


async def test_quick_connect(served: tuple[FakeJellyfin, FakeJellyfinServer, httpx.AsyncClient, str]) -> None:
    fake, _, http, _ = served
    started = (await http.post("/QuickConnect/Initiate", headers=auth(""))).json()
    assert len(started["Code"]) == 6 and started["Authenticated"] is False
    refused = await http.post(
        "/Users/AuthenticateWithQuickConnect", json={"Secret": started["Secret"]}, headers=auth("")
    )
    assert refused.status_code == 401
    fake.approve_quick_connect(started["Code"], "anna")
    state = (
        await http.get("/QuickConnect/Connect", params={"secret": started["Secret"]}, headers=auth(""))
    ).json()
    assert state["Authenticated"] is True
    login = await http.post(
        "/Users/AuthenticateWithQuickConnect", json={"Secret": started["Secret"]}, headers=auth("")
    )
    assert login.json()["AccessToken"] in fake.tokens


async def test_websocket_keepalive_and_change_messages(
    served: tuple[FakeJellyfin, FakeJellyfinServer, httpx.AsyncClient, str],
) -> None:
    fake, server, _, token = served
    url = server.url.replace("http", "ws") + f"/socket?api_key={token}&deviceId={DEVICE}"
    async with websockets.connect(url) as socket:
        hello = json.loads(await asyncio.wait_for(socket.recv(), 5))
        assert hello["MessageType"] == "ForceKeepAlive" and hello["Data"] == fake.keepalive_s
        await socket.send(json.dumps({"MessageType": "KeepAlive"}))
        assert json.loads(await asyncio.wait_for(socket.recv(), 5))["MessageType"] == "KeepAlive"
        added = fake.add_movie("Arrival")
        change = json.loads(await asyncio.wait_for(socket.recv(), 5))
        assert change["MessageType"] == "LibraryChanged" and change["Data"]["ItemsAdded"] == [added.id]
        fake.set_played("anna", added.id, True)
        data = json.loads(await asyncio.wait_for(socket.recv(), 5))
        assert data["MessageType"] == "UserDataChanged" and data["Data"]["UserDataList"][0]["Played"] is True
    with pytest.raises(websockets.exceptions.WebSocketException):
        async with websockets.connect(server.url.replace("http", "ws") + "/socket?api_key=wrong") as socket:
            await asyncio.wait_for(socket.recv(), 5)


# -- against the OpenAPI document ------------------------------------------------------------------


@pytest.fixture(scope="module")
def schema() -> Any:
    validators = pytest.importorskip("openapi_schema_validator")
    referencing = pytest.importorskip("referencing")
    if not SPEC.is_file():
        pytest.skip(f"the Jellyfin OpenAPI document is not at {SPEC} (shared/ beside the repository)")
    document = json.loads(SPEC.read_text())
    registry = referencing.Registry().with_resource(
        "urn:jf",
        referencing.Resource.from_contents(document, default_specification=referencing.jsonschema.DRAFT4),
    )

    def validate(name: str, value: Any) -> None:
        validator = validators.OAS30Validator(
            {"$ref": f"urn:jf#/components/schemas/{name}"}, registry=registry
        )
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(value)]
        assert errors == [], f"{name}: {errors[:5]}"

    return validate


async def test_responses_reeld_consumes_match_the_openapi_document(
    served: tuple[FakeJellyfin, FakeJellyfinServer, httpx.AsyncClient, str], schema: Any
) -> None:
    fake, server, http, token = served
    user = fake.users["anna"].id
    schema("PublicSystemInfo", (await http.get("/System/Info/Public")).json())
    login = await http.post(
        "/Users/AuthenticateByName", json={"Username": "anna", "Pw": "pw"}, headers=auth("")
    )
    schema("AuthenticationResult", login.json())
    schema("UserDto", (await http.get("/Users/Me", headers=auth(token))).json())
    schema(
        "BaseItemDtoQueryResult",
        (await http.get("/UserViews", params={"userId": user}, headers=auth(token))).json(),
    )
    for view in fake.views:
        listing = await http.get(
            "/Items",
            headers=auth(token),
            params={
                "userId": user,
                "ParentId": view["Id"],
                "Recursive": "true",
                "Fields": FIELDS + ",MediaSources",
            },
        )
        schema("BaseItemDtoQueryResult", listing.json())
    schema(
        "BaseItemDtoQueryResult",
        (await http.get("/Items/Resume", params={"userId": user}, headers=auth(token))).json(),
    )
    movie = next(i for i in fake.items.values() if i.type == "Movie")
    schema("UserItemDataDto", (await http.post(f"/UserPlayedItems/{movie.id}", headers=auth(token))).json())
    schema("QuickConnectResult", (await http.post("/QuickConnect/Initiate", headers=auth(""))).json())
    url = server.url.replace("http", "ws") + f"/socket?api_key={token}&deviceId={DEVICE}"
    async with websockets.connect(url) as socket:
        schema("ForceKeepAliveMessage", json.loads(await asyncio.wait_for(socket.recv(), 5)))
        fake.add_movie("Checked")
        schema("LibraryChangedMessage", json.loads(await asyncio.wait_for(socket.recv(), 5)))
        fake.set_played("anna", movie.id, False)
        schema("UserDataChangedMessage", json.loads(await asyncio.wait_for(socket.recv(), 5)))


def test_standalone_cli_serves_until_terminated() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reeld.fakes.jellyfin",
            "--port",
            "0",
            "--movies",
            "3",
            "--series",
            "1",
            "--seasons",
            "1",
            "--episodes",
            "2",
            "--user",
            "u",
            "--password",
            "p",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        url = read_line(proc, 30, "the fake's URL")
        info = httpx.get(f"{url}/System/Info/Public", timeout=10).json()
        assert info["ProductName"] == "Jellyfin Server"
    finally:
        assert stop_process(proc) == 0
