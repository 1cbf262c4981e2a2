"""A fake plex.tv (and clients.plex.tv): the account, PIN login, and the resources list.

Like the real service it answers XML unless the client sends ``Accept: application/json``, wants
``X-Plex-Client-Identifier`` on every ``/api/v2`` request, and reports errors as
``{"errors": [{"code", "message", "status"}]}`` (``<errors><error …/></errors>`` in XML).
"""

import datetime
import itertools
import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from reeld.fakes.plex.network import HOST, HttpService, LoopBound, listening_socket
from reeld.fakes.plex.pms import FakePlexServer, derived_token
from reeld.fakes.plex.render import JSON_TYPE, Node, json_text, tree, wants_json
from reeld.fakes.plex.wire import Wire, request_token

log = structlog.get_logger(__name__)

XML_TYPE = "application/xml; charset=utf-8"
PIN_LIFETIME = {True: 1800, False: 900}
_SINGULAR = {"connections": "connection", "entitlements": "entitlement", "features": "feature"}
_SINGULAR.update({"roles": "role", "services": "service"})
_LOCATION = {
    "code": "US",
    "european_union_member": False,
    "continent_code": "NA",
    "country": "United States",
    "city": "Loopback",
    "time_zone": "America/New_York",
    "postal_code": "00000",
    "in_privacy_restricted_country": False,
    "in_privacy_restricted_region": False,
    "subdivisions": "New York",
    "coordinates": "40.7, -74.0",
}


def iso(stamp: int) -> str:
    return datetime.datetime.fromtimestamp(stamp, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_token() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(20))


@dataclass
class FakeAccount:
    """The plex.tv account; ``tokens`` are all its valid tokens (servers it owns share the set)."""

    token: str
    username: str = "demo"
    password: str = "demo"
    email: str = "demo@example.com"
    id: int = 1_234_567
    uuid: str = "0f1e2d3c4b5a6978"
    joined_at: int = 1_500_000_000
    tokens: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.tokens.add(self.token)


@dataclass
class Pin:
    id: int
    code: str
    client_identifier: str
    product: str
    strong: bool
    created_at: int
    expires_at: int
    auth_token: str | None = None
    expired: bool = False


@dataclass(frozen=True)
class PlayerSpec:
    """A non-server resource (a TV app) that clients listing servers must skip."""

    name: str = "Living Room TV"
    product: str = "Plex for Android (TV)"
    platform: str = "Android"
    client_identifier: str = "f4k3-pl4y3r-0001"


def _xml(tag: str, data: dict[str, Any]) -> Node:
    """plex.tv XML from the JSON shape: scalars become attributes, objects and lists child elements."""
    attrs: dict[str, object] = {}
    children = []
    for key, value in data.items():
        if isinstance(value, dict):
            children.append(_xml(key, value))
        elif isinstance(value, list):
            singular = _SINGULAR.get(key, key.rstrip("s"))
            items = [_xml(singular, v) if isinstance(v, dict) else Node(singular, {"id": v}) for v in value]
            children.append(Node(key, {}, items))
        else:
            attrs[key] = value
    return Node(tag, attrs, children)


class FakePlexTV(LoopBound):
    """The fake plex.tv. ``add_server`` lists a `FakePlexServer` in the account's resources."""

    def __init__(
        self,
        *,
        token: str = "fake-plex-token",
        username: str = "demo",
        password: str = "demo",
        clock: Callable[[], int] | None = None,
        players: tuple[PlayerSpec, ...] = (PlayerSpec(),),
    ) -> None:
        self.clock = clock or (lambda: int(time.time()))
        self.account = FakeAccount(token=token, username=username, password=password)
        self.servers: list[FakePlexServer] = []
        self.players = list(players)
        self.pins: dict[int, Pin] = {}
        self._pin_ids = itertools.count(2_000_000_001)
        self.url = ""
        self._service: HttpService | None = None
        self.wire = Wire(name="plex.tv")
        self.wire.app = self._build_app()

    def _build_app(self) -> Starlette:
        from reeld.fakes.plex import plextv_control

        api_routes = [
            Route("/api/v2/user", self._user, methods=["GET"]),
            Route("/api/v2/users/signin", self._signin, methods=["POST"]),
            Route("/api/v2/users/signout", self._signout, methods=["DELETE"]),
            Route("/api/v2/pins", self._create_pin, methods=["POST"]),
            Route("/api/v2/pins/{pin_id:int}", self._get_pin, methods=["GET"]),
            Route("/api/v2/resources", self._resources, methods=["GET"]),
        ]
        return Starlette(routes=[*plextv_control.routes(self), *api_routes])

    # -- lifecycle --------------------------------------------------------------------------------

    async def open(self, port: int = 0) -> str:
        self._bind_loop()
        sock = listening_socket(HOST, port)
        self.url = f"http://{HOST}:{sock.getsockname()[1]}"
        self._service = HttpService(self.wire, [sock])
        await self._service.start()
        return self.url

    async def close(self) -> None:
        if self._service is not None:
            await self._service.stop()
            self._service = None

    async def __aenter__(self) -> "FakePlexTV":
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- control ----------------------------------------------------------------------------------

    def server(self, machine_identifier: str) -> FakePlexServer:
        for server in self.servers:
            if server.machine_identifier == machine_identifier:
                return server
        raise KeyError(f"no server {machine_identifier}")

    def add_server(self, server: FakePlexServer) -> None:
        """List the server in the account's resources (an owned server takes the account's tokens)."""

        def add() -> None:
            if server.owned:
                server.account_tokens = self.account.tokens
            if server not in self.servers:
                self.servers.append(server)

        self._on_loop(add)

    def remove_server(self, machine_identifier: str) -> FakePlexServer:
        """Drop a server from the resources (it keeps running; an owned one stops taking the account's tokens)."""

        def remove() -> FakePlexServer:
            server = self.server(machine_identifier)
            self.servers.remove(server)
            server.account_tokens = None
            return server

        return self._on_loop(remove)

    def create_pin(self, client_identifier: str, *, strong: bool = True, product: str = "reeld") -> Pin:
        def create() -> Pin:
            now = self.clock()
            if strong:
                code = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(25))
            else:
                code = "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(4))
            pin = Pin(
                next(self._pin_ids), code, client_identifier, product, strong, now, now + PIN_LIFETIME[strong]
            )
            self.pins[pin.id] = pin
            return pin

        return self._on_loop(create)

    def _find_pin(self, pin_id: int | None, code: str | None) -> Pin:
        for pin in self.pins.values():
            if pin.id == pin_id or (code is not None and pin.code.lower() == code.lower()):
                return pin
        raise KeyError(f"no PIN {pin_id or code}")

    def approve_pin(
        self, pin_id: int | None = None, *, code: str | None = None, token: str | None = None
    ) -> str:
        """What the person does at app.plex.tv/auth: the PIN gets a new token of the account."""

        def approve() -> str:
            pin = self._find_pin(pin_id, code)
            if pin.expired or self.clock() >= pin.expires_at:
                raise ValueError(f"PIN {pin.id} has expired")
            pin.auth_token = token or new_token()
            self.account.tokens.add(pin.auth_token)
            return pin.auth_token

        return self._on_loop(approve)

    def expire_pin(self, pin_id: int) -> None:
        self._on_loop(lambda: setattr(self._find_pin(pin_id, None), "expired", True))

    def revoke_token(self, token: str) -> None:
        """Invalidate a token: the account's (plex.tv and owned servers answer 401) or a shared
        server's (that server answers 401; its resource lists a fresh token, as after a re-share)."""

        def revoke() -> None:
            self.account.tokens.discard(token)
            for server in self.servers:
                if token in server.tokens:
                    server.tokens.discard(token)
                    if server.access_token == token:
                        server.access_token = derived_token(f"{token}/rotated/{self.clock()}")
                        server.tokens.add(server.access_token)

        self._on_loop(revoke)

    def state(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "username": self.account.username,
            "token": self.account.token,
            "servers": [server.state() for server in self.servers],
            "pins": [
                {"id": p.id, "code": p.code, "approved": p.auth_token is not None} for p in self.pins.values()
            ],
        }

    # -- API --------------------------------------------------------------------------------------

    def _reply(self, request: Request, data: Any, tag: str, status: int = 200) -> Response:
        if wants_json(request.headers.get("accept")):
            return Response(json_text(data), status_code=status, media_type=JSON_TYPE)
        node = (
            Node(tag, {"size": len(data)}, [_xml(tag[:-1], item) for item in data])
            if tag == "resources"
            else None
        )
        body = tree("xml", node or _xml(tag, data))
        return Response(body, status_code=status, media_type=XML_TYPE)

    def _error(self, request: Request, status: int, code: int, message: str) -> Response:
        errors = {"errors": [{"code": code, "message": message, "status": status}]}
        if wants_json(request.headers.get("accept")):
            return Response(json_text(errors), status_code=status, media_type=JSON_TYPE)
        node = Node("errors", {}, [Node("error", errors["errors"][0])])
        return Response(tree("xml", node), status_code=status, media_type=XML_TYPE)

    def _refusal(self, request: Request, *, needs_token: bool = True) -> Response | None:
        """400 without a client identifier; 401 without a valid token (where one is needed)."""
        client = request.headers.get("x-plex-client-identifier") or request.query_params.get(
            "X-Plex-Client-Identifier"
        )
        if not client:
            return self._error(request, 400, 1000, "X-Plex-Client-Identifier is missing")
        if needs_token and request_token(request.scope) not in self.account.tokens:
            return self._error(request, 401, 1001, "User could not be authenticated")
        return None

    def _user_data(self, token: str) -> dict[str, Any]:
        account = self.account
        return {
            "id": account.id,
            "uuid": account.uuid,
            "username": account.username,
            "title": account.username,
            "email": account.email,
            "friendlyName": account.username.title(),
            "locale": None,
            "confirmed": True,
            "joinedAt": account.joined_at,
            "emailOnlyAuth": False,
            "hasPassword": True,
            "protected": False,
            "thumb": f"https://plex.tv/users/{account.uuid}/avatar?c=1",
            "authToken": token,
            "mailingListStatus": "active",
            "mailingListActive": False,
            "scrobbleTypes": "",
            "country": "US",
            "subscriptionDescription": None,
            "restricted": False,
            "anonymous": None,
            "home": False,
            "guest": False,
            "homeSize": 1,
            "homeAdmin": False,
            "maxHomeSize": 15,
            "rememberExpiresAt": self.clock() + 30 * 86_400,
            "experimentalFeatures": False,
            "twoFactorEnabled": False,
            "backupCodesCreated": False,
            "subscription": {"active": False, "subscribedAt": None, "status": "Inactive", "features": []},
            "profile": {
                "autoSelectAudio": True,
                "defaultAudioLanguage": "en",
                "defaultSubtitleLanguage": "en",
                "autoSelectSubtitle": 0,
                "defaultSubtitleAccessibility": 0,
                "defaultSubtitleForced": 0,
                "defaultSubtitleForces": 0,
                "watchedIndicator": 1,
                "mediaReviewsVisibility": 0,
            },
            "entitlements": [],
            "roles": [],
            "services": [],
        }

    async def _user(self, request: Request) -> Response:
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        return self._reply(request, self._user_data(str(request_token(request.scope))), "user")

    async def _signin(self, request: Request) -> Response:
        refusal = self._refusal(request, needs_token=False)
        if refusal is not None:
            return refusal
        form = await request.form()
        login, password = form.get("login"), form.get("password")
        if login not in (self.account.username, self.account.email) or password != self.account.password:
            return self._error(request, 401, 1001, "User could not be authenticated")
        return self._reply(request, self._user_data(self.account.token), "user", status=201)

    async def _signout(self, request: Request) -> Response:
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        self.revoke_token(str(request_token(request.scope)))
        return Response(status_code=204)

    def _pin_data(self, pin: Pin) -> dict[str, Any]:
        return {
            "id": pin.id,
            "code": pin.code,
            "product": pin.product,
            "trusted": False,
            "qr": f"https://plex.tv/api/v2/pins/qr/{pin.code}",
            "clientIdentifier": pin.client_identifier,
            "location": dict(_LOCATION),
            "expiresIn": max(0, pin.expires_at - self.clock()),
            "createdAt": iso(pin.created_at),
            "expiresAt": iso(pin.expires_at),
            "authToken": pin.auth_token,
            "newRegistration": None,
        }

    async def _create_pin(self, request: Request) -> Response:
        refusal = self._refusal(request, needs_token=False)
        if refusal is not None:
            return refusal
        client = (
            request.headers.get("x-plex-client-identifier")
            or request.query_params["X-Plex-Client-Identifier"]
        )
        strong = request.query_params.get("strong", "false").lower() in ("true", "1")
        product = request.headers.get("x-plex-product") or "0"
        pin = self.create_pin(client, strong=strong, product=product)
        log.debug("fake_plextv_pin", pin_id=pin.id, strong=strong)
        return self._reply(request, self._pin_data(pin), "pin", status=201)

    async def _get_pin(self, request: Request) -> Response:
        refusal = self._refusal(request, needs_token=False)
        if refusal is not None:
            return refusal
        pin = self.pins.get(request.path_params["pin_id"])
        client = request.headers.get("x-plex-client-identifier") or request.query_params.get(
            "X-Plex-Client-Identifier"
        )
        if pin is None or pin.expired or self.clock() >= pin.expires_at or client != pin.client_identifier:
            return self._error(request, 404, 1020, "Code not found or expired")
        return self._reply(request, self._pin_data(pin), "pin")

    async def _resources(self, request: Request) -> Response:
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        token = str(request_token(request.scope))
        params = request.query_params
        wanted = {name: params.get(name) == "1" for name in ("includeHttps", "includeRelay", "includeIPv6")}
        resources = [self._server_resource(server, token, wanted) for server in self.servers]
        resources.extend(self._player_resource(player, token) for player in self.players)
        return self._reply(request, resources, "resources")

    def _server_resource(self, server: FakePlexServer, token: str, wanted: dict[str, bool]) -> dict[str, Any]:
        connections = [
            {
                "protocol": connection.spec.protocol,
                "address": connection.address,
                "port": connection.port,
                "uri": connection.uri,
                "local": connection.spec.local,
                "relay": connection.spec.relay,
                "IPv6": False,
            }
            for connection in server.connections
            if (wanted["includeRelay"] or not connection.spec.relay)
            and (wanted["includeHttps"] or connection.spec.protocol == "http")
        ]
        created = (
            server.catalog.sections[1].created_at if 1 in server.catalog.sections else self.account.joined_at
        )
        return {
            "name": server.name,
            "product": "Plex Media Server",
            "productVersion": server.version,
            "platform": "Linux",
            "platformVersion": "12",
            "device": "PC",
            "clientIdentifier": server.machine_identifier,
            "createdAt": iso(created),
            "lastSeenAt": iso(self.clock() if server.running else created),
            "provides": "server",
            # ownerId is null when the requesting account owns the server.
            "ownerId": None if server.owned else 7_654_321,
            "sourceTitle": None if server.owned else "a_friend",
            "publicAddress": HOST,
            "accessToken": token if server.owned else server.access_token,
            "owned": server.owned,
            "home": False,
            "synced": False,
            "relay": any(c.spec.relay for c in server.connections),
            "presence": server.running,
            "httpsRequired": False,
            "publicAddressMatches": True,
            "dnsRebindingProtection": False,
            "natLoopbackSupported": False,
            "connections": connections,
        }

    def _player_resource(self, player: PlayerSpec, token: str) -> dict[str, Any]:
        return {
            "name": player.name,
            "product": player.product,
            "productVersion": "10.20.0",
            "platform": player.platform,
            "platformVersion": "12",
            "device": "SHIELD Android TV",
            "clientIdentifier": player.client_identifier,
            "createdAt": iso(self.account.joined_at),
            "lastSeenAt": iso(self.clock()),
            "provides": "client,player,pubsub-player",
            "ownerId": None,
            "sourceTitle": None,
            "publicAddress": HOST,
            "accessToken": token,
            "owned": True,
            "home": False,
            "synced": False,
            "relay": False,
            "presence": False,
            "httpsRequired": False,
            "publicAddressMatches": True,
            "dnsRebindingProtection": False,
            "natLoopbackSupported": False,
            # Players listen on 32500; nothing does here, and clients listing servers never try.
            "connections": [
                {
                    "protocol": "http",
                    "address": HOST,
                    "port": 32500,
                    "uri": f"http://{HOST}:32500",
                    "local": True,
                    "relay": False,
                    "IPv6": False,
                }
            ],
        }
