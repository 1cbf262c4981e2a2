"""What every HTTP backend shares: large pages decoded off the loop, with the collector paused."""

import asyncio
import contextlib
import gc
import time
import tracemalloc
import weakref
from typing import Any

import httpx
import orjson
import pytest

from reeld.backends.http import LARGE_BODY, LISTING_PAGE, decode_json, fetch, http_client
from reeld.backends.jellyfin.client import JellyfinClient
from reeld.backends.jellyfin.dto import ItemsResult, decode_items
from reeld.backends.plex.client import PlexServerClient
from reeld.backends.plex.plextv import fetch_user
from reeld.errors import AnswerRefused, BackendProtocolError, BackendUnavailable, UntrustedCertificate
from reeld.fakes.hostile import GiB, Hostile, HostileServer, Hostility, gzip_bomb
from reeld.fakes.jellyfin import FakeJellyfin

PAGE = orjson.dumps({"Items": [{"Id": str(n), "Name": "x" * 50} for n in range(2000)]})


async def test_a_large_page_is_decoded_with_the_cycle_collector_paused_then_restored() -> None:
    assert len(PAGE) > LARGE_BODY
    seen: list[bool] = []

    def loads(body: bytes) -> object:
        seen.append(gc.isenabled())
        return orjson.loads(body)

    decoded: Any = await decode_json(httpx.Response(200, content=PAGE), "jf.example", decode=loads)
    assert len(decoded["Items"]) == 2000
    assert seen == [False]
    assert gc.isenabled()


async def test_a_truncated_large_page_is_a_protocol_error_and_the_collector_runs_again() -> None:
    with pytest.raises(BackendProtocolError, match="malformed or truncated"):
        await decode_json(httpx.Response(200, content=PAGE[:-100]), "jf.example")
    assert gc.isenabled()


async def test_a_listing_that_is_no_listing_is_a_protocol_error_that_says_where() -> None:
    page = orjson.dumps({"Items": {"Id": "1"}, "TotalRecordCount": 1})
    with pytest.raises(BackendProtocolError, match=r"jf.example sent an answer .* \(in `Items`\)"):
        await decode_json(httpx.Response(200, content=page), "jf.example", decode=decode_items)


async def test_an_odd_field_of_an_item_is_left_out_not_the_page() -> None:
    items = [
        {
            "Id": "1",
            "Name": "Heat",
            "ProductionYear": "nineteen",
            "UserData": {"Played": True},
            "ImageTags": {"Primary": "t1", "Logo": None},  # nullable in Jellyfin's API
        },
        {"Id": "2", "Name": "Ronin", "ProductionYear": "1998"},  # a number as a string is a number
    ]
    page = orjson.dumps({"Items": items, "TotalRecordCount": "2"})
    decoded: ItemsResult = await decode_json(
        httpx.Response(200, content=page), "jf.example", decode=decode_items
    )
    assert [(i.name, i.production_year) for i in decoded.items] == [("Heat", None), ("Ronin", 1998)]
    assert decoded.items[0].user_data is not None and decoded.items[0].user_data.played
    assert decoded.items[0].image_tags == {"Primary": "t1", "Logo": None}
    assert decoded.total_record_count == 2


async def test_the_mapping_runs_in_the_same_pause_and_only_its_result_is_kept() -> None:
    seen: list[bool] = []

    def count_items(decoded: dict[str, list[object]]) -> int:
        seen.append(gc.isenabled())
        return len(decoded["Items"])

    assert await decode_json(httpx.Response(200, content=PAGE), "jf.example", count_items) == 2000
    assert seen == [False]
    assert gc.isenabled()


async def test_a_read_body_is_freed_at_once_not_when_the_cycle_collector_runs() -> None:
    """httpx 0.28 ties a response and its stream in a cycle; a 1.3 MB page body then lived until a
    full collection, and dozens of them made a Plex first sync's peak memory."""
    responses: list[weakref.ref[httpx.Response]] = []

    async def remember(response: httpx.Response) -> None:
        responses.append(weakref.ref(response))

    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=PAGE))
    async with httpx.AsyncClient(transport=transport, event_hooks={"response": [remember]}) as http:
        client = JellyfinClient("http://jf.example", "device", "token", http=http)
        gc.disable()
        try:
            decoded = await client.get("/Items")
            assert len(decoded["Items"]) == 2000 and len(responses) == 1
            assert responses[0]() is None
        finally:
            gc.enable()


# -- a request bounded in size and time, its login kept to its origin ---------------------------------

USER, PASSWORD = "anna", "s3cret-pw-123"


def fake_jellyfin() -> FakeJellyfin:
    return FakeJellyfin.generate(movies=3, series=0, seasons=0, episodes=0, user=USER, password=PASSWORD)


async def test_a_redirect_within_the_origin_is_followed_for_a_login() -> None:
    """A proxy that moved the server to another path of the same origin still gets the login."""
    async with HostileServer.jellyfin(fake_jellyfin()) as server:
        server.turn(Hostile(Hostility.REDIRECT, "/old", location=server.url, status=308, strip=True))
        client = JellyfinClient(server.url + "/old", "device")
        try:
            login = await client.authenticate_by_name(USER, PASSWORD)
        finally:
            await client.aclose()
    assert login.user_name == USER
    assert [r.path for r in server.received] == ["/old/Users/AuthenticateByName", "/Users/AuthenticateByName"]
    assert all(r.carries(PASSWORD) for r in server.received)  # 308 keeps the body, within the origin


async def test_a_redirect_from_http_to_https_says_to_use_the_https_address() -> None:
    """The common cause: an http URL that a proxy upgrades to https. The password stays unsent there."""
    async with HostileServer.jellyfin(fake_jellyfin()) as server:
        https = server.url.replace("http://", "https://").rsplit(":", 1)[0] + ":8920"
        server.turn(Hostile(Hostility.REDIRECT, "/Users", location=https, status=307))
        client = JellyfinClient(server.url, "device")
        try:
            with pytest.raises(AnswerRefused) as refused:
                await client.authenticate_by_name(USER, PASSWORD)
        finally:
            await client.aclose()
    assert str(refused.value) == (
        f"{server.url.removeprefix('http://')} redirected reeld to {https}/Users/AuthenticateByName, another "
        "address; reeld does not take your login there (the server wants https: use https://127.0.0.1:8920)"
    )


async def test_a_gzip_bomb_is_refused_without_holding_up_the_event_loop() -> None:
    """httpx inflated a body whole, on the loop: a 1 GB bomb took the daemon to 1.5 GB and froze it
    for seconds. Inflated a step at a time on a worker, it is refused at the page's bound."""
    gzip_bomb(GiB)  # built now: the server shares this test's loop
    async with HostileServer.jellyfin(fake_jellyfin()) as server:
        server.turn(Hostile(Hostility.GZIP_BOMB, "/Items", size=GiB))
        client = JellyfinClient(server.url, "device", token="t")
        longest_pause = 0.0
        done = asyncio.Event()

        async def tick() -> None:
            nonlocal longest_pause
            loop = asyncio.get_running_loop()
            while not done.is_set():
                before = loop.time()
                await asyncio.sleep(0.005)
                longest_pause = max(longest_pause, loop.time() - before)

        ticker = asyncio.create_task(tick())
        try:
            with pytest.raises(AnswerRefused, match=r"sent too much \(more than 32 MB in one answer\)"):
                await client.get("/Items", budget=LISTING_PAGE)
        finally:
            done.set()
            await ticker
            await client.aclose()
    assert longest_pause < 0.25, longest_pause


async def test_what_was_read_of_a_refused_answer_is_freed_at_once() -> None:
    """The error's traceback holds the reading frame: what it had read lived as long as the error
    (the runner keeps it through the library's bookkeeping), and a daemon refusing an endless
    answer per library grew 30 MB a library."""
    async with HostileServer.jellyfin(fake_jellyfin()) as server:
        server.turn(Hostile(Hostility.ENDLESS, "/Items"))
        client = JellyfinClient(server.url, "device", token="t")
        tracemalloc.start()
        try:
            with pytest.raises(AnswerRefused) as refused:
                await client.get("/Items", budget=LISTING_PAGE)
            held, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
            await client.aclose()
    assert refused.value.__traceback__ is not None  # the error, and its frames, still alive
    assert held < 8 * 1024 * 1024


async def test_a_declared_length_past_the_bound_is_refused_before_reading() -> None:
    async with HostileServer.jellyfin(fake_jellyfin()) as server:
        server.turn(Hostile(Hostility.HUGE, "/System", size=2 * GiB))
        client = JellyfinClient(server.url, "device")
        try:
            with pytest.raises(AnswerRefused, match=r"sent too much \(more than 4 MB in one answer\)"):
                await client.public_info()
        finally:
            await client.aclose()
    assert server.app.stats.bytes_sent < 64 * 1024 * 1024


@pytest.mark.parametrize(
    ("hostile", "error", "said"),
    [
        (Hostile(Hostility.ENDLESS), AnswerRefused, "plex.tv sent too much (more than 4 MB in one answer)"),
        (Hostile(Hostility.GZIP_BOMB, size=GiB), AnswerRefused, "plex.tv sent too much"),
        (
            Hostile(Hostility.TRICKLE, interval=0.2),
            BackendUnavailable,
            "plex.tv did not finish its answer within 1 s",
        ),
    ],
    ids=lambda value: value.kind.value if isinstance(value, Hostile) else "",
)
async def test_plex_tv_answers_are_bounded_in_size_and_time(
    monkeypatch: pytest.MonkeyPatch, hostile: Hostile, error: type[Exception], said: str
) -> None:
    """plexapi reads plex.tv through ``requests``, whose timeout is per read and whose reads have no
    bound: the session's adapter reads every answer itself."""
    monkeypatch.setenv("REELD_HTTP_DEADLINE_S", "1")
    async with HostileServer(hostile=[hostile]) as plex_tv:
        monkeypatch.setenv("REELD_PLEX_TV_URL", plex_tv.url)
        started = time.monotonic()
        with pytest.raises(error) as failed:
            await fetch_user("token", "client-id")
    assert said in str(failed.value)
    assert time.monotonic() - started < 1 + 1


async def test_an_untrusted_certificate_is_no_passing_trouble() -> None:
    async with HostileServer.jellyfin(fake_jellyfin(), tls=True) as server:
        client = JellyfinClient(server.url, "device")
        try:
            with pytest.raises(UntrustedCertificate) as untrusted:
                await client.public_info()
        finally:
            await client.aclose()
    assert not isinstance(untrusted.value, BackendUnavailable)  # a source shows error, not offline
    assert str(untrusted.value) == (
        f"{server.url.removeprefix('https://')} has a TLS certificate that is not trusted "
        "(unable to get local issuer certificate)"
    )


async def test_a_plex_server_token_never_follows_a_redirect_to_another_origin() -> None:
    """httpx drops ``Authorization`` on a redirect to another host, not ``X-Plex-Token``."""
    token = "pms-token-7"
    async with HostileServer() as other, HostileServer() as pms:
        pms.turn(Hostile(Hostility.REDIRECT, "/library", location=other.url, status=301))
        async with httpx.AsyncClient() as http:
            client = PlexServerClient(pms.url, token, {}, http, "Home")
            with pytest.raises(
                AnswerRefused, match=rf"^Home \(127.0.0.1:\d+\) redirected reeld to {other.url}/library"
            ):
                await client.container("/library/sections")
    assert other.received == []
    assert [r.headers.get("x-plex-token") for r in pms.received] == [token]


class ClosesKeptAlive:
    """A raw HTTP/1.1 server on loopback that answers the first request on each connection and
    closes the connection, unanswered, when a second request comes on it: a server closing an
    idle kept-alive connection just as the client reuses it (uvicorn does after 5 s)."""

    def __init__(self) -> None:
        self.connections = 0
        self.answered = 0
        self.url = ""
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> "ClosesKeptAlive":
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        await reader.readuntil(b"\r\n\r\n")
        body = b'{"Id": "1"}'
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
        writer.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        self.answered += 1
        await writer.drain()
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            await reader.readuntil(b"\r\n\r\n")
        writer.close()


async def test_a_kept_alive_connection_closed_under_a_request_is_asked_again_once() -> None:
    """A full sync of 110k items failed on one page under load: the server had closed the
    connection httpx reused for it. A GET is asked again on a new connection; a POST is not (the
    server might have acted on it)."""
    async with ClosesKeptAlive() as server:
        http = http_client(httpx.Timeout(5.0))
        try:
            for _ in range(3):
                answer = await fetch(http, http.build_request("GET", f"{server.url}/Items/1"), "fake")
                assert answer.status_code == 200
            assert (server.connections, server.answered) == (3, 3)

            with pytest.raises(BackendUnavailable, match=r"^fake dropped the connection$"):
                await fetch(http, http.build_request("POST", f"{server.url}/Sessions/Playing"), "fake")
            assert server.answered == 3
        finally:
            await http.aclose()
