"""All talk with a Jellyfin server: headers, requests, and the translation of every failure into
reeld's error tree (once, here)."""

import shlex
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import orjson
import structlog

from reeld import __version__
from reeld.backends.http import (
    ACCEPT_ENCODING,
    SMALL_ANSWER,
    Answer,
    Budget,
    Decode,
    as_is,
    decode_json,
    fetch,
    http_client,
)
from reeld.errors import AnswerRefused, AuthRequired, BackendProtocolError, ServerFailed

log = structlog.get_logger(__name__)

CLIENT_NAME = "reeld"
TIMEOUT = httpx.Timeout(15.0, connect=5.0)


def authorization(device_id: str, token: str | None = None) -> str:
    """The ``MediaBrowser`` Authorization header Jellyfin wants on every request."""
    fields = {
        "Client": CLIENT_NAME,
        "Device": socket.gethostname() or "reeld",
        "DeviceId": device_id,
        "Version": __version__,
    }
    if token:
        fields["Token"] = token
    return "MediaBrowser " + ", ".join(f'{key}="{quote(value, safe=" ")}"' for key, value in fields.items())


@dataclass(frozen=True, slots=True)
class ServerInfo:
    id: str
    name: str
    version: str


@dataclass(frozen=True, slots=True)
class Login:
    token: str
    user_id: str
    user_name: str
    server_id: str


class JellyfinClient:
    """One server, one device id, optionally one user's token. Raises only reeld errors."""

    def __init__(
        self,
        base_url: str,
        device_id: str,
        token: str | None = None,
        http: httpx.AsyncClient | None = None,
        user_name: str = "",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        #: Whose saved login ``token`` is, for the message that asks to log in again.
        self.user_name = user_name
        self.device_id = device_id
        self.token = token
        # Redirects are followed by ``fetch``, within the server's origin only (every request
        # carries the device's login).
        self._http = http or http_client(TIMEOUT)
        self._owns_http = http is None
        self.host = urlsplit(self.base_url).netloc
        #: The server's clock at the last response (its Date header), for sync cursors.
        self.server_date: str | None = None

    def login_rejected(self) -> str:
        """What to tell a person whose saved login the server no longer takes, and what to do."""
        return (
            f"The Jellyfin server at {self.host} rejected the saved login: log in again "
            f"(reelctl add-jellyfin {self.base_url} --user {shlex.quote(self.user_name) if self.user_name else 'NAME'})"
        )

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        expect_json: bool = True,
        then: Callable[[Any], Any] = as_is,
        decode: Decode = orjson.loads,
        budget: Budget = SMALL_ANSWER,
    ) -> Any:
        """The answer, by ``decode``; ``then`` (a page's mapping) runs on it off the event loop
        (``decode_json``). ``budget``: how large the answer may be and how long it may take."""
        headers = {
            "Authorization": authorization(self.device_id, self.token),
            "Accept": "application/json",
            "Accept-Encoding": ACCEPT_ENCODING,
        }
        request = self._http.build_request(
            method, self.base_url + path, params=params, json=body, headers=headers
        )
        response = await fetch(self._http, request, self.host, budget)
        self.server_date = response.headers.get("date", self.server_date)
        self._check_status(response, path.split("?")[0])
        if not expect_json:
            return None
        if (response.status_code == 204 or not response.content) and decode is orjson.loads:
            return then(None)  # what the caller makes of no answer (a typed decoder refuses it)
        return await decode_json(response, self.host, then, decode)

    def _check_status(self, response: Answer, path: str) -> None:
        status = response.status_code
        if status == 401:
            raise AuthRequired(self.login_rejected())
        if status == 403:
            raise AuthRequired(f"The Jellyfin server at {self.host} refused access to {path}")
        if status == 404:
            moved = f"it redirected reeld to {response.redirected_to}; " if response.redirected_to else ""
            raise BackendProtocolError(f"{self.host} has no {path} ({moved}is it a Jellyfin server?)")
        if status >= 500:
            raise ServerFailed(f"The Jellyfin server at {self.host} failed (HTTP {status})")
        if status >= 400:
            raise BackendProtocolError(f"{self.host} refused the request (HTTP {status})")

    async def get(
        self,
        path: str,
        then: Callable[[Any], Any] = as_is,
        /,
        *,
        decode: Decode = orjson.loads,
        budget: Budget = SMALL_ANSWER,
        **params: Any,
    ) -> Any:
        """``GET path?params``, decoded by ``decode`` within ``budget`` (keywords of reeld's, never
        query parameters)."""
        query = {k: v for k, v in params.items() if v is not None}
        return await self.request("GET", path, params=query, then=then, decode=decode, budget=budget)

    # -- the calls that need no user -----------------------------------------------------------------

    async def public_info(self) -> ServerInfo:
        try:
            info = await self.get("/System/Info/Public")
        except AnswerRefused:
            raise
        except BackendProtocolError as exc:
            raise BackendProtocolError(f"{self.host} does not look like a Jellyfin server") from exc
        if not isinstance(info, dict) or not info.get("Id") or "Version" not in info:
            raise BackendProtocolError(f"{self.host} does not look like a Jellyfin server")
        return ServerInfo(str(info["Id"]), str(info.get("ServerName") or self.host), str(info["Version"]))

    async def authenticate_by_name(self, username: str, password: str) -> Login:
        try:
            result = await self.request(
                "POST", "/Users/AuthenticateByName", body={"Username": username, "Pw": password}
            )
        except AuthRequired:
            raise AuthRequired(
                f"Jellyfin at {self.host} did not accept that user name and password"
            ) from None
        return _login(result, self.host)

    async def quick_connect_enabled(self) -> bool:
        return bool(await self.get("/QuickConnect/Enabled"))

    async def quick_connect_initiate(self) -> tuple[str, str]:
        """Start Quick Connect: ``(secret, code)``; the person enters the code in another Jellyfin app."""
        try:
            result = await self.request("POST", "/QuickConnect/Initiate")
        except AuthRequired:
            raise AuthRequired(f"Quick Connect is turned off on the Jellyfin server at {self.host}") from None
        try:
            return str(result["Secret"]), str(result["Code"])
        except (KeyError, TypeError):
            raise BackendProtocolError(
                f"{self.host} answered Quick Connect in a way reeld does not understand"
            ) from None

    async def quick_connect_approved(self, secret: str) -> bool:
        result = await self.get("/QuickConnect/Connect", secret=secret)
        return isinstance(result, dict) and bool(result.get("Authenticated"))

    async def authenticate_with_quick_connect(self, secret: str) -> Login:
        result = await self.request("POST", "/Users/AuthenticateWithQuickConnect", body={"Secret": secret})
        return _login(result, self.host)


def _login(result: Any, host: str) -> Login:
    try:
        return Login(
            token=str(result["AccessToken"]),
            user_id=str(result["User"]["Id"]),
            user_name=str(result["User"]["Name"]),
            server_id=str(result["ServerId"]),
        )
    except (KeyError, TypeError) as exc:
        raise BackendProtocolError(f"{host} answered the login in a way reeld does not understand") from exc
