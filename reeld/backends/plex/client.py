"""All talk with one Plex Media Server over the address chosen for it: JSON, the token in a header
(never in a URL that could reach a log), and every failure as a reeld error (once, here)."""

from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import orjson

from reeld.backends.http import (
    ACCEPT_ENCODING,
    LISTING_PAGE,
    SMALL_ANSWER,
    Budget,
    Decode,
    as_is,
    decode_json,
    fetch,
)
from reeld.backends.plex.dto import ListingDto, decode_listing
from reeld.errors import AuthRequired, BackendProtocolError, ServerFailed

TIMEOUT = httpx.Timeout(30.0, connect=5.0)

T = TypeVar("T")


class PlexServerClient:
    def __init__(
        self, base_url: str, token: str, headers: Mapping[str, str], http: httpx.AsyncClient, name: str
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.name = name
        self.host = urlsplit(self.base_url).netloc
        self._headers = {
            **headers,
            "X-Plex-Token": token,
            "Accept": "application/json",
            "Accept-Encoding": ACCEPT_ENCODING,
        }
        self._http = http
        #: The server's clock at the last response (its Date header), for sync cursors.
        self.server_date: str | None = None

    async def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        expect_json: bool = True,
        then: Callable[[Any], Any] = as_is,
        decode: Decode = orjson.loads,
        budget: Budget = SMALL_ANSWER,
    ) -> Any:
        """The answer, by ``decode``; ``then`` (a page's mapping) runs on it off the event loop
        (``decode_json``). ``budget``: how large the answer may be and how long it may take."""
        request = self._http.build_request(
            method, self.base_url + path, params=params, headers={**self._headers, **(headers or {})}
        )
        response = await fetch(self._http, request, f"{self.name} ({self.host})", budget)
        self.server_date = response.headers.get("date", self.server_date)
        status = response.status_code
        if status == 401:
            raise AuthRequired(
                f"{self.name} rejected its access token: log in to Plex again (reelctl login-plex)"
            )
        if status == 403:
            raise AuthRequired(f"{self.name} refused access to {path}")
        if status == 404:
            moved = f", after a redirect to {response.redirected_to}" if response.redirected_to else ""
            raise BackendProtocolError(f"{self.name} has no {path} (HTTP 404{moved})")
        if status >= 500:
            raise ServerFailed(f"{self.name} failed (HTTP {status})")
        if status >= 400:
            raise BackendProtocolError(f"{self.name} refused {path} (HTTP {status})")
        if not expect_json:
            return None
        if not response.content and decode is orjson.loads:
            return then(None)  # what the caller makes of no answer (a typed decoder refuses it)
        return await decode_json(response, self.name, then, decode)

    async def get(self, path: str, headers: Mapping[str, str] | None = None, **params: Any) -> Any:
        return await self.request("GET", path, params=params, headers=headers)

    async def container(
        self, path: str, headers: Mapping[str, str] | None = None, **params: Any
    ) -> dict[str, Any]:
        """The ``MediaContainer`` of a JSON answer."""

        def unwrap(body: Any) -> dict[str, Any]:
            container = body.get("MediaContainer") if isinstance(body, dict) else None
            if not isinstance(container, dict):
                raise BackendProtocolError(f"{self.name} sent an answer reeld does not understand ({path})")
            return container

        result: dict[str, Any] = await self.request("GET", path, params=params, headers=headers, then=unwrap)
        return result

    async def listing(
        self,
        path: str,
        then: Callable[[ListingDto], T] = as_is,
        headers: Mapping[str, str] | None = None,
        **params: Any,
    ) -> T:
        """``then`` of a listing of items (typed), run off the event loop for a large one."""
        result: T = await self.request(
            "GET", path, params=params, headers=headers, then=then, decode=decode_listing, budget=LISTING_PAGE
        )
        return result
