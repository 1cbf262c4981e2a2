"""What every HTTP backend shares: large pages decoded off the loop, with the collector paused."""

import gc
import weakref
from unittest import mock

import httpx
import orjson
import pytest

from reeld.backends.http import LARGE_BODY, decode_json
from reeld.backends.jellyfin.client import JellyfinClient
from reeld.errors import BackendProtocolError

PAGE = orjson.dumps({"Items": [{"Id": str(n), "Name": "x" * 50} for n in range(2000)]})


async def test_a_large_page_is_decoded_with_the_cycle_collector_paused_then_restored() -> None:
    assert len(PAGE) > LARGE_BODY
    seen: list[bool] = []
    real_loads = orjson.loads

    def loads(body: bytes) -> object:
        seen.append(gc.isenabled())
        return real_loads(body)

    with mock.patch("reeld.backends.http.orjson.loads", loads):
        decoded = await decode_json(httpx.Response(200, content=PAGE), "jf.example")
    assert len(decoded["Items"]) == 2000
    assert seen == [False]
    assert gc.isenabled()


async def test_a_truncated_large_page_is_a_protocol_error_and_the_collector_runs_again() -> None:
    with pytest.raises(BackendProtocolError, match="malformed or truncated"):
        await decode_json(httpx.Response(200, content=PAGE[:-100]), "jf.example")
    assert gc.isenabled()


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
