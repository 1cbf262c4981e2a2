"""What every HTTP backend shares: large pages decoded off the loop, with the collector paused."""

import gc
from unittest import mock

import httpx
import orjson
import pytest

from reeld.backends.http import LARGE_BODY, decode_json
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
