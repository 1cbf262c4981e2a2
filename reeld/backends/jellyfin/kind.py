"""Jellyfin as an account kind: log in (password or Quick Connect), one source per server and user."""

import asyncio
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from reeld.backends.base import MediaBackend
from reeld.backends.manager import BackendKind, BackendServices, Discovery
from reeld.errors import AuthRequired
from reeld.models.auth import AccountKind, AuthProvider, JellyfinAuth
from reeld.models.source import Source

DEVICE_ID_FACT = "jellyfin.device_id"
QUICK_CONNECT_POLL_S = 2.0
QUICK_CONNECT_EXPIRY_S = 600.0

if TYPE_CHECKING:  # httpx and websockets load when a Jellyfin source first connects, not at startup
    import httpx

    from reeld.backends.jellyfin.client import JellyfinClient, Login

LoginResult = tuple[AuthProvider, dict[str, str]]


def jellyfin_id(server_id: str, user_id: str) -> str:
    """The same user on the same server is one account, whatever URL reached it."""

    def clean(value: str) -> str:
        return re.sub(r"[^A-Za-z0-9]", "", value)[:16]

    return f"jellyfin_{clean(server_id)}_{clean(user_id)}"


class JellyfinKind(BackendKind):
    account_kind = AccountKind.JELLYFIN

    def __init__(self, http: "Callable[[], httpx.AsyncClient] | None" = None) -> None:
        # ``http`` makes the client for each server; tests hand in one bound to a fake.
        self._http = http

    async def _client(
        self, url: str, services: BackendServices, token: str | None = None, user_name: str = ""
    ) -> "JellyfinClient":
        from reeld.backends.jellyfin.client import JellyfinClient

        device_id = await services.install_fact(DEVICE_ID_FACT, lambda: secrets.token_hex(16))
        return JellyfinClient(
            url, device_id, token, http=self._http() if self._http else None, user_name=user_name
        )

    async def discover(self, account: AuthProvider, services: BackendServices) -> Discovery:
        assert isinstance(account, JellyfinAuth)
        source = Source(
            id=account.id,
            account_id=account.id,
            kind="jellyfin",
            name=account.display_name,
            address=account.server_url,
            settings={
                "server_url": account.server_url,
                "server_id": account.server_id,
                "user_id": account.user_id,
            },
        )
        return Discovery([source])

    def create_backend(
        self, source: Source, account: AuthProvider, services: BackendServices
    ) -> MediaBackend:
        assert isinstance(account, JellyfinAuth)
        from reeld.backends.jellyfin.backend import JellyfinBackend

        async def open_client() -> "JellyfinClient":
            token = await services.secret(account, "token")
            return await self._client(account.server_url, services, token, account.user_name)

        return JellyfinBackend(source.id, open_client, account.user_id, account.server_id)

    # -- logging in ----------------------------------------------------------------------------------

    async def login_with_password(
        self, url: str, username: str, password: str, services: BackendServices
    ) -> LoginResult:
        client = await self._client(url, services)
        try:
            info = await client.public_info()
            login = await client.authenticate_by_name(username, password)
        finally:
            await client.aclose()
        return _account(url, info.name, login), {"token": login.token}

    async def begin_quick_connect(
        self, url: str, services: BackendServices
    ) -> tuple[str, Callable[[], Awaitable[LoginResult]]]:
        """Start Quick Connect: the code to show, and the coroutine that finishes the login."""
        client = await self._client(url, services)
        try:
            info = await client.public_info()
            secret, code = await client.quick_connect_initiate()
        except BaseException:
            await client.aclose()
            raise

        async def finish() -> LoginResult:
            try:
                loop = asyncio.get_running_loop()
                deadline = loop.time() + QUICK_CONNECT_EXPIRY_S
                while not await client.quick_connect_approved(secret):
                    if loop.time() > deadline:
                        raise AuthRequired("The Quick Connect code expired before it was approved")
                    await asyncio.sleep(QUICK_CONNECT_POLL_S)
                login = await client.authenticate_with_quick_connect(secret)
            finally:
                await client.aclose()
            return _account(url, info.name, login), {"token": login.token}

        return code, finish


def _account(url: str, server_name: str, login: "Login") -> JellyfinAuth:
    host = urlsplit(url).netloc
    return JellyfinAuth(
        id=jellyfin_id(login.server_id, login.user_id),
        display_name=f"{login.user_name} on {server_name}",
        identity=f"{login.user_name}@{host}",
        server_url=url,
        server_id=login.server_id,
        user_id=login.user_id,
    )
