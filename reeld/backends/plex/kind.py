"""Plex as an account kind: a plex.tv login (PIN or token), and one source per server it reaches.

The account token lives in the keyring as ``<account>/token``; each server's own access token
(shared servers have their own) as ``<account>/server/<clientIdentifier>``. Sources keep each
server's addresses (no token), so cached servers are tried when plex.tv cannot be reached.
"""

import asyncio
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from reeld.backends.base import MediaBackend
from reeld.backends.manager import BackendKind, BackendServices, Discovery
from reeld.errors import AuthRequired, BackendUnavailable
from reeld.models.auth import AccountKind, AuthProvider, PlexAccount
from reeld.models.source import Source

if TYPE_CHECKING:  # httpx and plexapi load when a Plex account is first used, not at startup
    import httpx

    from reeld.backends.plex.plextv import PlexUser

CLIENT_ID_FACT = "plex.client_identifier"
PIN_POLL_S = 1.0
#: Strong PINs live 30 minutes on plex.tv; the login gives up with them.
PIN_LIFETIME_S = 1800.0

LoginResult = tuple[AuthProvider, dict[str, str]]


def plex_source_id(client_identifier: str) -> str:
    """``plex_`` and 16 characters of the server's identifier (random hex: unique enough among one
    person's servers). Short, because every index row of the cache carries its source's id."""
    return "plex_" + re.sub(r"[^A-Za-z0-9]", "", client_identifier)[:16]


def server_secret(client_identifier: str) -> str:
    return f"server/{client_identifier}"


class PlexKind(BackendKind):
    account_kind = AccountKind.PLEX

    def __init__(self, http: "Callable[[], httpx.AsyncClient] | None" = None) -> None:
        # ``http`` makes the client for each server; tests hand in one that trusts the fake's CA.
        self._http = http
        # Server tokens already in the keyring, so rediscovery writes only what changed.
        self._stored: dict[tuple[str, str], str] = {}

    async def client_id(self, services: BackendServices) -> str:
        """This install's ``X-Plex-Client-Identifier``: made once, kept in the cache."""
        return await services.install_fact(CLIENT_ID_FACT, lambda: secrets.token_hex(16))

    async def headers(self, services: BackendServices) -> dict[str, str]:
        from reeld.backends.plex.plextv import identity_headers

        return identity_headers(await self.client_id(services))

    # -- discovery -------------------------------------------------------------------------------------

    async def discover(self, account: AuthProvider, services: BackendServices) -> Discovery:
        """Ask plex.tv which servers the account reaches; ``BackendUnavailable`` when it cannot be asked
        (cached servers then stay and keep trying their known addresses)."""
        from reeld.backends.plex.plextv import fetch_servers

        assert isinstance(account, PlexAccount)
        token = await services.secret(account, "token")
        servers = await fetch_servers(token, await self.client_id(services))
        sources = []
        for server in servers:
            key = (account.id, server_secret(server.client_identifier))
            if server.access_token and self._stored.get(key) != server.access_token:
                await services.store_secret(account, key[1], server.access_token)
                self._stored[key] = server.access_token
            sources.append(
                Source(
                    id=plex_source_id(server.client_identifier),
                    account_id=account.id,
                    kind="plex",
                    name=server.name,
                    settings={
                        "client_identifier": server.client_identifier,
                        "owned": server.owned,
                        "shared_by": server.source_title,
                        "connections": [c.to_settings() for c in server.connections],
                    },
                )
            )
        return Discovery(sources)

    def source_secret_names(self, source: Source) -> tuple[str, ...]:
        client_identifier = str((source.settings or {}).get("client_identifier", ""))
        return (server_secret(client_identifier),) if client_identifier else ()

    def secrets_deleted(self, account_id: str, names: tuple[str, ...]) -> None:
        for name in names:
            self._stored.pop((account_id, name), None)

    def create_backend(
        self, source: Source, account: AuthProvider, services: BackendServices
    ) -> MediaBackend:
        from reeld.backends.plex.backend import PlexBackend, ServerSettings
        from reeld.backends.plex.plextv import PlexConnection

        settings: dict[str, Any] = dict(source.settings or {})
        client_identifier = str(settings.get("client_identifier", ""))
        server = ServerSettings(
            client_identifier=client_identifier,
            name=source.name,
            connections=tuple(PlexConnection.from_settings(c) for c in settings.get("connections") or ()),
            remembered=source.address,
        )

        async def token() -> str:
            try:
                return await services.secret(account, server_secret(client_identifier))
            except AuthRequired:
                return await services.secret(account, "token")  # owned servers take the account's

        async def headers() -> dict[str, str]:
            return await self.headers(services)

        return PlexBackend(source.id, server, token, headers, http=self._http)

    # -- logging in ----------------------------------------------------------------------------------

    async def login_with_token(self, token: str, services: BackendServices) -> LoginResult:
        from reeld.backends.plex.plextv import fetch_user

        try:
            user = await fetch_user(token, await self.client_id(services))
        except AuthRequired as exc:
            # A token just typed in, not a saved login: say which one plex.tv turned down.
            raise AuthRequired(
                "plex.tv did not accept that token (reelctl login-plex logs in with a PIN)"
            ) from exc
        return _account(user), {"token": token}

    async def begin_pin_login(
        self, services: BackendServices
    ) -> tuple[str, str, Callable[[], Awaitable[LoginResult]]]:
        """Start a PIN login: the code and URL to show, and the coroutine that waits for approval."""
        from reeld.backends.plex.plextv import PinLogin

        client_id = await self.client_id(services)
        pin = PinLogin(client_id)
        started = await pin.start()

        async def finish() -> LoginResult:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + PIN_LIFETIME_S
            while True:
                try:
                    token = await pin.poll()
                except BackendUnavailable:
                    token = None  # plex.tv blinked: the PIN is still good, ask again
                if token:
                    return await self.login_with_token(token, services)
                if loop.time() > deadline:
                    raise AuthRequired("The Plex PIN expired before it was approved: start the login again")
                await asyncio.sleep(PIN_POLL_S)

        return started.code, started.auth_url, finish


def _account(user: "PlexUser") -> PlexAccount:
    clean = re.sub(r"[^A-Za-z0-9]", "", user.uuid)[:24]
    return PlexAccount(
        id=f"plextv_{clean}",
        display_name=user.title or user.username,
        identity=user.email or user.username,
        user_uuid=user.uuid,
    )
