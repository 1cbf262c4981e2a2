"""AuthManager: the accounts a person added, their secrets, and whether they need attention.

Accounts come from config.toml (no secrets); secrets from the keyring. Older or hand-edited
configs that still carry a plaintext ``token`` or ``password`` are migrated into the keyring
and the file rewritten without them, unless the keyring cannot take them: then the file is
left untouched and the account says why.
"""

import asyncio
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

import structlog

from reeld.config import Config, ConfigNotWritten, Paths, read_config, write_config
from reeld.errors import AuthRequired, InvalidArgument, NotFound, SecretStoreUnavailable
from reeld.models.auth import PROVIDER_TYPES, AccountKind, AuthProvider
from reeld.services.secrets import SecretStore

log = structlog.get_logger(__name__)

Accounts = list[dict[str, Any]]

#: Config keys that are secrets: never kept in the file, moved to the keyring when found.
LEGACY_SECRET_KEYS = ("token", "password", "access_token")


@dataclass(frozen=True, slots=True)
class AccountStatus:
    attention_needed: bool = False
    message: str = ""


def provider_from_config(entry: Mapping[str, Any]) -> AuthProvider:
    try:
        kind = AccountKind(entry["kind"])
        provider_type = PROVIDER_TYPES[kind]
    except (KeyError, ValueError) as exc:
        raise InvalidArgument(f"config.toml: account {entry.get('id', '?')!r} has an unknown kind") from exc
    names = {f.name for f in fields(provider_type)}
    values = {key: value for key, value in entry.items() if key in names}
    try:
        return provider_type(**values)
    except TypeError as exc:
        raise InvalidArgument(f"config.toml: account {entry.get('id', '?')!r} is incomplete") from exc


class AuthManager:
    """Loads providers from config, secrets from the keyring; tells listeners when an account changes."""

    def __init__(self, paths: Paths, secrets: SecretStore | None = None) -> None:
        self.paths = paths
        self.secrets = secrets or SecretStore()
        self.config = Config()
        self.accounts: dict[str, AuthProvider] = {}
        self.status: dict[str, AccountStatus] = {}
        self._listeners: list[Callable[[str], None]] = []
        self._write_lock = asyncio.Lock()

    def on_change(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(account_id)`` when an account's status changes."""
        self._listeners.append(listener)

    def set_status(self, account_id: str, attention_needed: bool, message: str) -> None:
        new = AccountStatus(attention_needed, message)
        if self.status.get(account_id) == new:
            return
        self.status[account_id] = new
        if attention_needed:
            log.warning("account_needs_attention", account=account_id, reason=message)
        for listener in self._listeners:
            listener(account_id)

    def get(self, account_id: str) -> AuthProvider:
        try:
            return self.accounts[account_id]
        except KeyError:
            raise NotFound(f"No account {account_id!r}") from None

    # -- loading -----------------------------------------------------------------------------

    async def load(self) -> None:
        self.config = await asyncio.to_thread(read_config, self.paths.config_file)
        legacy: dict[str, dict[str, str]] = {}
        for entry in self.config.accounts:
            try:
                provider = provider_from_config(entry)
            except InvalidArgument as exc:
                log.error("config_account_skipped", reason=str(exc))
                continue
            self.accounts[provider.id] = provider
            self.status[provider.id] = AccountStatus()
            secrets = {key: str(entry[key]) for key in LEGACY_SECRET_KEYS if entry.get(key)}
            if secrets:
                legacy[provider.id] = secrets
        if legacy:
            await self._migrate_legacy(legacy)

    async def _migrate_legacy(self, legacy: dict[str, dict[str, str]]) -> None:
        try:
            for account_id, secrets in legacy.items():
                for name, value in secrets.items():
                    await self.secrets.set(self.accounts[account_id].secret_key(_secret_name(name)), value)
        except SecretStoreUnavailable as exc:
            for account_id in legacy:
                self.set_status(
                    account_id,
                    True,
                    f"config.toml still holds this account's secret in plain text and it could not be moved "
                    f"to the keyring. {exc}, then restart reeld.",
                )
            return
        try:
            await self._save(_without_secrets)
        except ConfigNotWritten as exc:
            for account_id in legacy:
                self.set_status(
                    account_id,
                    True,
                    f"This account's secret is in the keyring now, but config.toml still holds it in plain "
                    f"text: {exc}. reeld tries again at its next start.",
                )
            return
        log.info("legacy_secrets_migrated", accounts=sorted(legacy))

    async def _save(self, change: Callable[[Accounts], Accounts] | None = None) -> None:
        """Write the config with ``change`` made to its accounts; only once the file is written is
        the change made in memory too. Raises ``ConfigNotWritten``."""
        async with self._write_lock:  # one change at a time, each on top of the one before
            config = replace(self.config, accounts=change(self.config.accounts)) if change else self.config
            await asyncio.to_thread(write_config, self.paths.config_file, config)
            self.config = config

    # -- changing accounts --------------------------------------------------------------------

    async def add(self, provider: AuthProvider, secrets: Mapping[str, str] | None = None) -> None:
        """Store ``secrets`` in the keyring, then the account in config.toml, then in memory.

        An add that fails leaves no trace: a secret stored for a new account is taken out of the
        keyring again, and the account is in neither the file nor memory. Raises
        ``SecretStoreUnavailable`` or ``ConfigNotWritten``, each saying what to do.
        """
        new = provider.id not in self.accounts
        stored: list[str] = []
        try:
            for name, value in (secrets or {}).items():
                await self.secrets.set(provider.secret_key(name), value)
                stored.append(name)
            await self._save(lambda accounts: [*_without(accounts, provider.id), provider.to_config()])
        except SecretStoreUnavailable as exc:
            await self._forget_added(provider, stored, new)
            raise SecretStoreUnavailable(f"{exc}, then add the account again.") from exc
        except ConfigNotWritten as exc:
            await self._forget_added(provider, stored, new)
            raise ConfigNotWritten(f"The account was not added: {exc}") from exc
        self.accounts[provider.id] = provider
        self.status[provider.id] = AccountStatus()
        log.info("account_added", account=provider.id, kind=str(provider.kind))

    async def _forget_added(self, provider: AuthProvider, stored: list[str], new: bool) -> None:
        # An account logging in again keeps its new secret: the file still names it, and the old
        # secret is gone from the keyring either way.
        if new and stored:
            await self.delete_secrets(provider, tuple(stored))

    async def remove(self, account_id: str, secret_names: tuple[str, ...] = ("token",)) -> AuthProvider:
        """Forget an account: the file first, so one that cannot be written keeps the account whole."""
        provider = self.get(account_id)
        await self._save(lambda accounts: _without(accounts, account_id))
        del self.accounts[account_id]
        self.status.pop(account_id, None)
        if provider.needs_secret:
            await self.delete_secrets(provider, secret_names)
        log.info("account_removed", account=account_id)
        return provider

    async def secret(self, provider: AuthProvider, name: str = "token") -> str:
        """The account's secret. Raises ``AuthRequired`` (with what to do) when there is none, and
        ``SecretStoreUnavailable`` (the same, and how to go on) when the keyring cannot be used."""
        try:
            value = await self.secrets.get(provider.secret_key(name))
        except SecretStoreUnavailable as exc:
            raise _then_refresh(exc, provider) from exc
        if not value:
            raise AuthRequired(
                f"No saved credentials for {provider.display_name}: remove the account and add it again."
            )
        return value

    async def store_secret(self, provider: AuthProvider, name: str, value: str) -> None:
        try:
            await self.secrets.set(provider.secret_key(name), value)
        except SecretStoreUnavailable as exc:
            raise _then_refresh(exc, provider) from exc

    async def delete_secrets(self, provider: AuthProvider, names: tuple[str, ...]) -> None:
        """Forget secrets; a keyring that cannot be reached leaves them (and says so in the log)."""
        try:
            for name in names:
                await self.secrets.delete(provider.secret_key(name))
        except SecretStoreUnavailable:
            log.warning("account_secret_left_in_keyring", account=provider.id)


def _then_refresh(exc: SecretStoreUnavailable, provider: AuthProvider) -> SecretStoreUnavailable:
    """The keyring's problem, and the step after fixing it for an account that exists."""
    return SecretStoreUnavailable(f"{exc}, then run `reelctl refresh {shlex.quote(provider.display_name)}`.")


def _without_secrets(accounts: Accounts) -> Accounts:
    return [{k: v for k, v in entry.items() if k not in LEGACY_SECRET_KEYS} for entry in accounts]


def _without(accounts: Accounts, account_id: str) -> Accounts:
    return [entry for entry in accounts if entry.get("id") != account_id]


def _secret_name(config_key: str) -> str:
    # A legacy Jellyfin entry's ``access_token`` and a Plex entry's ``token`` are both the account token.
    return "password" if config_key == "password" else "token"
