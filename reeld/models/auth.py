"""Auth providers: the accounts a person adds. Secrets never live here, only in the keyring."""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar


class AccountKind(StrEnum):
    PLEX = "plex"
    JELLYFIN = "jellyfin"
    LOCAL = "local"
    NETWORK = "network"


@dataclass(frozen=True, slots=True)
class AuthProvider:
    """One account as the config file holds it: never a secret, only where to find one.

    ``identity`` is what a person recognises (user name, e-mail, folder).
    """

    id: str
    display_name: str
    identity: str
    kind: ClassVar[AccountKind]
    # Keys of the keyring entries this account owns (service ``reeld``).
    needs_secret: ClassVar[bool] = True

    def secret_key(self, name: str = "token") -> str:
        return f"{self.id}/{name}"

    def to_config(self) -> dict[str, object]:
        """The non-secret fields that go in config.toml."""
        return {
            "id": self.id,
            "kind": str(self.kind),
            "display_name": self.display_name,
            "identity": self.identity,
        }


@dataclass(frozen=True, slots=True)
class PlexAccount(AuthProvider):
    """A plex.tv account; its servers are discovered through it."""

    kind: ClassVar[AccountKind] = AccountKind.PLEX
    user_uuid: str = ""

    def to_config(self) -> dict[str, object]:
        return {**AuthProvider.to_config(self), "user_uuid": self.user_uuid}


@dataclass(frozen=True, slots=True)
class JellyfinAuth(AuthProvider):
    """A user on one Jellyfin server."""

    kind: ClassVar[AccountKind] = AccountKind.JELLYFIN
    server_url: str = ""
    server_id: str = ""
    user_id: str = ""

    @property
    def user_name(self) -> str:
        """The name the user logs in with (``identity`` is ``NAME@host``)."""
        return self.identity.rpartition("@")[0]

    def to_config(self) -> dict[str, object]:
        return {
            **AuthProvider.to_config(self),
            "server_url": self.server_url,
            "server_id": self.server_id,
            "user_id": self.user_id,
        }


@dataclass(frozen=True, slots=True)
class LocalFiles(AuthProvider):
    """A folder on this machine: no credentials at all."""

    kind: ClassVar[AccountKind] = AccountKind.LOCAL
    needs_secret: ClassVar[bool] = False
    path: str = ""

    def to_config(self) -> dict[str, object]:
        return {**AuthProvider.to_config(self), "path": self.path}


@dataclass(frozen=True, slots=True)
class NetworkCredentials(AuthProvider):
    """A user name for an SMB or WebDAV share (password in the keyring). No backend uses it yet."""

    kind: ClassVar[AccountKind] = AccountKind.NETWORK
    url: str = ""
    username: str = ""
    options: dict[str, str] = field(default_factory=dict)

    def to_config(self) -> dict[str, object]:
        return {**AuthProvider.to_config(self), "url": self.url, "username": self.username}


PROVIDER_TYPES: dict[AccountKind, type[AuthProvider]] = {
    AccountKind.PLEX: PlexAccount,
    AccountKind.JELLYFIN: JellyfinAuth,
    AccountKind.LOCAL: LocalFiles,
    AccountKind.NETWORK: NetworkCredentials,
}
