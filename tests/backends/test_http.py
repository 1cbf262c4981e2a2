"""What every HTTP backend shares: large pages decoded off the loop, with the collector paused."""

import gc
import weakref

import httpx
import orjson
import pytest

from reeld.backends.http import LARGE_BODY, decode_json
from reeld.backends.jellyfin.client import JellyfinClient
from reeld.backends.jellyfin.dto import decode_items
from reeld.errors import BackendProtocolError

PAGE = orjson.dumps({"Items": [{"Id": str(n), "Name": "x" * 50} for n in range(2000)]})


async def test_a_large_page_is_decoded_with_the_cycle_collector_paused_then_restored() -> None:
    assert len(PAGE) > LARGE_BODY
    seen: list[bool] = []

    def loads(body: bytes) -> object:
        seen.append(gc.isenabled())
        return orjson.loads(body)

    decoded = await decode_json(httpx.Response(200, content=PAGE), "jf.example", decode=loads)
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
    decoded = await decode_json(httpx.Response(200, content=page), "jf.example", decode=decode_items)
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
