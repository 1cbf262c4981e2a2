"""plex.tv through plexapi: PIN login, the user behind a token, and the resources (servers) it reaches.

plexapi blocks (``requests``) and its objects fetch missing attributes lazily, so every call here
runs in a worker thread and returns plain dataclasses built there. ``REELD_PLEX_TV_URL`` sends
everything meant for plex.tv to another base URL (the fake, in tests and the demo) through a
requests adapter: plexapi takes a ``session`` everywhere, so none of its globals are patched.
"""

import asyncio
import os
import platform
import socket
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import requests
import structlog
from requests.adapters import HTTPAdapter

from reeld import __version__
from reeld.backends.http import (
    INFLATE_STEP,
    SMALL_ANSWER,
    Inflater,
    certificate_problem,
    origin,
    redirect_refused,
    too_much,
)
from reeld.errors import (
    AuthRequired,
    BackendProtocolError,
    BackendUnavailable,
    ReeldError,
    UntrustedCertificate,
)

log = structlog.get_logger(__name__)

PLEX_TV_URL_ENV = "REELD_PLEX_TV_URL"
PLEX_TV_HOSTS = ("plex.tv", "clients.plex.tv", "www.plex.tv")
AUTH_APP_URL = "https://app.plex.tv/auth#?"
REQUEST_TIMEOUT_S = 15
#: How plex.tv is named in messages (also when ``REELD_PLEX_TV_URL`` sends its requests elsewhere).
PLEX_TV = "plex.tv"
#: A plexapi call makes a request or two; it may take this many requests' deadlines in all.
CALL_DEADLINES = 2
PRODUCT = "reeld"

T = TypeVar("T")


# -- identity and routing ---------------------------------------------------------------------------


def identity_headers(client_id: str) -> dict[str, str]:
    """The ``X-Plex-*`` headers that name this install to plex.tv and to servers."""
    return {
        "X-Plex-Client-Identifier": client_id,
        "X-Plex-Product": PRODUCT,
        "X-Plex-Version": __version__,
        "X-Plex-Platform": platform.system() or "Linux",
        "X-Plex-Platform-Version": platform.release(),
        "X-Plex-Device": "Linux",
        "X-Plex-Device-Name": socket.gethostname() or PRODUCT,
        "X-Plex-Provides": "controller",
    }


class _Refused(requests.RequestException):
    """An answer reeld does not take (too large, too slow, or sent elsewhere), as the reeld error to
    report: raised inside plexapi's calls, which know only ``requests``' errors."""

    def __init__(self, error: ReeldError) -> None:
        super().__init__(str(error))
        self.error = error


class _Bounded(HTTPAdapter):
    """Reads every answer whole, here: at most ``SMALL_ANSWER``'s bytes once inflated, and all of
    it within its deadline. ``requests`` would read any size, and its timeout is per read: a server
    trickling a byte a second would hold a login for ever."""

    def send(
        self, request: requests.PreparedRequest, stream: bool = False, *args: Any, **kwargs: Any
    ) -> requests.Response:
        deadline = time.monotonic() + SMALL_ANSWER.seconds
        response = super().send(request, True, *args, **kwargs)
        try:
            response._content = _read_whole(response.raw, deadline)
        except ReeldError as exc:
            response.close()
            raise _Refused(exc) from exc
        except zlib.error as exc:
            response.close()
            raise _Refused(BackendProtocolError(f"{PLEX_TV} sent a malformed compressed answer")) from exc
        except BaseException:
            response.close()
            raise
        response._content_consumed = True
        response.close()  # read to the end: the connection goes back to the pool
        return response


def _read_whole(raw: Any, deadline: float) -> bytes:
    """The body of a urllib3 response, inflated, within the budget and ``deadline``."""
    limit = SMALL_ANSWER.max_bytes
    inflater = Inflater.for_encoding(raw.headers.get("content-encoding", ""), PLEX_TV)
    body = bytearray()
    while chunk := raw.read1(64 * 1024, decode_content=False):  # what one receive brings
        while inflater is not None and chunk:
            body += inflater.inflate(chunk, min(limit - len(body) + 1, INFLATE_STEP))
            chunk = inflater.unconsumed
            if len(body) > limit:
                raise too_much(PLEX_TV, limit)
        body += chunk
        if len(body) > limit:
            raise too_much(PLEX_TV, limit)
        if time.monotonic() > deadline:
            raise BackendUnavailable(f"{PLEX_TV} did not finish its answer within {SMALL_ANSWER.seconds:g} s")
    if inflater is not None:
        body += inflater.finish(PLEX_TV)
    return bytes(body)


class _Rewrite(_Bounded):
    """Sends requests for plex.tv's hosts to another base URL, path and query kept."""

    def __init__(self, target: str) -> None:
        super().__init__()
        self.target = urlsplit(target)

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        parts = urlsplit(str(request.url))
        request.url = urlunsplit(
            (self.target.scheme, self.target.netloc, parts.path, parts.query, parts.fragment)
        )
        return super().send(request, *args, **kwargs)


class _PlexTvSession(requests.Session):
    """Every plex.tv request carries the account's token in ``X-Plex-Token``. ``requests`` drops
    only ``Authorization`` when a redirect leads to another host, and would hand the token to
    wherever plex.tv (or whatever answers for it) sent it: such a redirect is refused instead."""

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        sent, target = httpx.URL(str(response.request.url)), httpx.URL(str(prepared_request.url))
        if not _same_party(sent, target):
            raise _Refused(redirect_refused(PLEX_TV, sent, target))
        super().rebuild_auth(prepared_request, response)


def _same_party(sent: httpx.URL, target: httpx.URL) -> bool:
    """The same origin, or from one of plex.tv's own hosts to another over https."""
    if origin(sent) == origin(target):
        return True
    return (sent.scheme, target.scheme) == ("https", "https") and {sent.host, target.host} <= set(
        PLEX_TV_HOSTS
    )


def plex_tv_session(plex_tv_url: str | None = None) -> requests.Session:
    """A session for plex.tv: as is, or routed to ``plex_tv_url`` (default: ``$REELD_PLEX_TV_URL``);
    answers bounded in size and time, and no redirect to another origin."""
    session = _PlexTvSession()
    bounded = _Bounded()
    session.mount("https://", bounded)
    session.mount("http://", bounded)
    target = plex_tv_url or os.environ.get(PLEX_TV_URL_ENV)
    if target:
        adapter = _Rewrite(target)
        for host in PLEX_TV_HOSTS:
            session.mount(f"https://{host}/", adapter)
    return session


def _plexapi(client_id: str) -> Any:
    """plexapi, imported (0.16 s: in the worker thread) with reeld's identity in its base headers."""
    # plexapi reads ~/.config/plexapi/config.ini at import: a person's settings there must not
    # change how the daemon talks (nor hand it a token).
    os.environ.setdefault("PLEXAPI_CONFIG_PATH", os.devnull)
    import plexapi

    plexapi.BASE_HEADERS.update(identity_headers(client_id))
    return plexapi


async def _in_thread(call: Callable[[], T]) -> T:
    """Run a plexapi call in a thread; its failures become reeld errors.

    A call may make a few requests, each bounded by the session; the whole call is bounded here
    too, so an answer stuck where the session cannot see (a server trickling its headers) still
    ends the wait in time (the thread then ends with its socket's timeout)."""
    seconds = CALL_DEADLINES * SMALL_ANSWER.seconds
    try:
        async with asyncio.timeout(seconds):
            return await asyncio.to_thread(call)
    except TimeoutError:
        raise BackendUnavailable(f"{PLEX_TV} did not finish answering within {seconds:g} s") from None
    except _Refused as exc:
        raise exc.error from None
    except requests.exceptions.SSLError as exc:
        problem = certificate_problem(exc)
        if problem is not None:
            raise UntrustedCertificate(
                f"{PLEX_TV} has a TLS certificate that is not trusted ({problem})"
            ) from exc
        raise BackendUnavailable(f"{PLEX_TV} failed the TLS handshake") from exc
    except requests.Timeout as exc:
        raise BackendUnavailable("plex.tv did not answer (timed out)") from exc
    except requests.ConnectionError as exc:
        raise BackendUnavailable("plex.tv cannot be reached (no connection)") from exc
    except requests.RequestException as exc:
        raise BackendUnavailable(f"plex.tv cannot be reached ({exc.__class__.__name__})") from exc
    except Exception as exc:
        raise _translate(exc) from exc


def _translate(exc: Exception) -> Exception:
    from plexapi import exceptions

    if isinstance(exc, exceptions.TwoFactorRequired):
        return AuthRequired("plex.tv wants a two-factor code: log in with `reelctl login-plex` instead")
    if isinstance(exc, exceptions.Unauthorized):
        return AuthRequired("plex.tv rejected the saved login: log in again (reelctl login-plex)")
    if isinstance(exc, exceptions.BadRequest | exceptions.NotFound):
        status = http_status(exc)
        if status is not None and status >= 500:
            return BackendUnavailable(f"plex.tv failed (HTTP {status})")
        return BackendProtocolError(f"plex.tv refused the request (HTTP {status or '?'})")
    if isinstance(exc, SyntaxError | ValueError | AttributeError):  # ElementTree.ParseError is a SyntaxError
        return BackendProtocolError("plex.tv sent an answer reeld does not understand")
    return exc


def http_status(exc: BaseException | None) -> int | None:
    """The status plexapi's errors carry only in their text: ``(404) not_found; …``."""
    status = str(exc).partition(")")[0].lstrip("(")
    return int(status) if status.isdigit() else None


# -- the account --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlexUser:
    uuid: str
    username: str
    email: str
    title: str


@dataclass(frozen=True, slots=True)
class PlexConnection:
    """One address of a server as plex.tv lists it."""

    uri: str
    local: bool
    relay: bool
    protocol: str = "http"

    def to_settings(self) -> dict[str, object]:
        return {"uri": self.uri, "local": self.local, "relay": self.relay, "protocol": self.protocol}

    @classmethod
    def from_settings(cls, entry: Mapping[str, Any]) -> "PlexConnection":
        return cls(
            str(entry["uri"]),
            bool(entry.get("local")),
            bool(entry.get("relay")),
            str(entry.get("protocol", "http")),
        )


@dataclass(frozen=True, slots=True)
class PlexServerResource:
    """A server the account reaches: owned or shared, with its own access token."""

    client_identifier: str
    name: str
    owned: bool
    access_token: str = field(repr=False)
    source_title: str
    product_version: str
    connections: tuple[PlexConnection, ...]


async def fetch_user(token: str, client_id: str) -> PlexUser:
    """The user a token belongs to (``/api/v2/user``); ``AuthRequired`` when plex.tv rejects it."""

    def call() -> PlexUser:
        account = _account(token, client_id)
        return PlexUser(
            uuid=str(account.uuid or account.id),
            username=str(account.username or ""),
            email=str(account.email or ""),
            title=str(account.title or account.username or ""),
        )

    return await _in_thread(call)


async def fetch_servers(token: str, client_id: str) -> list[PlexServerResource]:
    """Every server the account reaches (``/api/v2/resources``), owned and shared."""

    def call() -> list[PlexServerResource]:
        account = _account(token, client_id)
        return [_server(resource) for resource in account.resources() if "server" in _provides(resource)]

    return await _in_thread(call)


def _account(token: str, client_id: str) -> Any:
    _plexapi(client_id)
    from plexapi.myplex import MyPlexAccount

    return MyPlexAccount(token=token, session=plex_tv_session(), timeout=REQUEST_TIMEOUT_S)


def _provides(resource: Any) -> set[str]:
    return {part.strip() for part in str(resource.provides or "").split(",")}


def _server(resource: Any) -> PlexServerResource:
    connections = tuple(
        PlexConnection(
            uri=str(connection.uri),
            local=bool(connection.local),
            relay=bool(connection.relay),
            protocol=str(connection.protocol or "http"),
        )
        for connection in resource.connections
        if connection.uri
    )
    return PlexServerResource(
        client_identifier=str(resource.clientIdentifier),
        name=str(resource.name or resource.clientIdentifier),
        owned=bool(resource.owned),
        access_token=str(resource.accessToken or ""),
        source_title=str(resource.sourceTitle or ""),
        product_version=str(resource.productVersion or ""),
        connections=connections,
    )


# -- PIN login -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PinStart:
    code: str
    auth_url: str


class PinLogin:
    """A strong PIN: the person opens ``auth_url`` and approves; ``poll`` then returns the token."""

    def __init__(self, client_id: str) -> None:
        self.client_id = client_id
        self._pin: Any = None

    async def start(self) -> PinStart:
        def call() -> PinStart:
            _plexapi(self.client_id)
            from plexapi.myplex import MyPlexPinLogin

            self._pin = MyPlexPinLogin(
                session=plex_tv_session(), requestTimeout=REQUEST_TIMEOUT_S, oauth=True
            )
            # plexapi builds its own (older, "#!") URL; the code in it is what matters.
            fragment = urlsplit(self._pin.oauthUrl()).fragment
            code = dict(parse_qsl(fragment.partition("?")[2])).get("code", "")
            if not code:
                raise BackendProtocolError("plex.tv did not hand out a PIN")
            return PinStart(code, auth_url(self.client_id, code))

        return await _in_thread(call)

    async def poll(self) -> str | None:
        """The token once the PIN was approved; ``None`` while waiting.

        ``AuthRequired`` once the PIN expired; ``BackendUnavailable`` when plex.tv could not be asked
        (worth asking again)."""
        pin = self._pin
        try:
            # Not the public checkLogin(): it reports every failure, plex.tv being unreachable
            # included, as an expired PIN.
            approved = await _in_thread(pin._checkLogin)
        except BackendProtocolError as exc:
            if http_status(exc.__cause__) == 404:
                raise AuthRequired(
                    "The Plex PIN expired before it was approved: start the login again"
                ) from None
            raise
        return str(pin.token) if approved else None


def auth_url(client_id: str, code: str) -> str:
    """Where a person approves the PIN (Plex's documented form of the app URL)."""
    return AUTH_APP_URL + urlencode(
        {"clientID": client_id, "code": code, "context[device][product]": PRODUCT}
    )
