"""All talk with one Plex Media Server over the address chosen for it: JSON, the token in a header
(never in a URL that could reach a log), and every failure as a reeld error (once, here)."""

from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from reeld.backends.http import as_is, decode_json, unreachable, without_stream_cycle
from reeld.errors import AuthRequired, BackendProtocolError, BackendUnavailable

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
        self._headers = {**headers, "X-Plex-Token": token, "Accept": "application/json"}
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
    ) -> Any:
        """The decoded answer; ``then`` (a page's mapping) runs on it off the event loop (``decode_json``)."""
        try:
            response = without_stream_cycle(
                await self._http.request(
                    method,
                    self.base_url + path,
                    params=params,
                    headers={**self._headers, **(headers or {})},
                )
            )
        except httpx.HTTPError as exc:
            raise unreachable(f"{self.name} ({self.host})", exc) from exc
        self.server_date = response.headers.get("date", self.server_date)
        status = response.status_code
        if status == 401:
            raise AuthRequired(
                f"{self.name} rejected its access token: log in to Plex again (reelctl login-plex)"
            )
        if status == 403:
            raise AuthRequired(f"{self.name} refused access to {path}")
        if status == 404:
            raise BackendProtocolError(f"{self.name} has no {path} (HTTP 404)")
        if status >= 500:
            raise BackendUnavailable(f"{self.name} failed (HTTP {status})")
        if status >= 400:
            raise BackendProtocolError(f"{self.name} refused {path} (HTTP {status})")
        if not expect_json:
            return None
        if not response.content:
            return then(None)  # what the caller makes of no answer: a listing's mapping refuses it
        return await decode_json(response, self.name, then)

    async def get(self, path: str, headers: Mapping[str, str] | None = None, **params: Any) -> Any:
        return await self.request("GET", path, params=params, headers=headers)

    async def container(
        self, path: str, headers: Mapping[str, str] | None = None, **params: Any
    ) -> dict[str, Any]:
        """The ``MediaContainer`` of a JSON answer."""
        return await self.mapped_container(path, as_is, headers, **params)

    async def mapped_container(
        self,
        path: str,
        then: Callable[[dict[str, Any]], T],
        headers: Mapping[str, str] | None = None,
        **params: Any,
    ) -> T:
        """``then`` of the ``MediaContainer`` of a JSON answer, run off the event loop for a large one."""

        def unwrap(body: Any) -> T:
            container = body.get("MediaContainer") if isinstance(body, dict) else None
            if not isinstance(container, dict):
                raise BackendProtocolError(f"{self.name} sent an answer reeld does not understand ({path})")
            return then(container)

        result: T = await self.request("GET", path, params=params, headers=headers, then=unwrap)
        return result
