"""Sources: one server or folder that a backend talks to. One Plex account has many."""

from dataclasses import dataclass
from enum import StrEnum


class SourceStatus(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    OFFLINE = "offline"
    NEEDS_AUTH = "needs-auth"
    ERROR = "error"


class ConnectionKind(StrEnum):
    NONE = ""
    LOCAL = "local"
    REMOTE = "remote"
    RELAY = "relay"
    FILE = "file"


@dataclass(frozen=True, slots=True)
class Source:
    """A source as the cache remembers it, so it can be shown before anything is reachable.

    ``settings`` holds what a backend needs to reconnect (addresses, server ids), never a secret.
    """

    id: str
    account_id: str
    kind: str
    name: str
    address: str = ""
    connection_kind: ConnectionKind = ConnectionKind.NONE
    settings: dict[str, object] | None = None


@dataclass(frozen=True, slots=True)
class SourceState:
    """What a source's coordinator reports about it right now."""

    status: SourceStatus
    message: str = ""
    address: str = ""
    connection_kind: ConnectionKind = ConnectionKind.NONE
    #: Unix time of the next try to reach a source that is away (0: none planned)…
    next_retry: int = 0
    #: …and the same in words: "trying again in 40 s", "trying again at 18:42".
    retry_note: str = ""

    @property
    def status_message(self) -> str:
        """What a person reads: why the source is in its status, and when it is tried next."""
        return f"{self.message}; {self.retry_note}" if self.retry_note else self.message
