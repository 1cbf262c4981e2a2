"""What the services tell the rest of the daemon (above all, the bus layer).

Services emit small frozen events; subscribers (the bus objects, tests) react. No subscriber
may block: callbacks run on the event loop and must only schedule work.
"""

from collections.abc import Callable
from dataclasses import dataclass

import structlog

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class AccountAdded:
    account_id: str


@dataclass(frozen=True, slots=True)
class AccountRemoved:
    account_id: str


@dataclass(frozen=True, slots=True)
class AccountChanged:
    account_id: str


@dataclass(frozen=True, slots=True)
class SourceAdded:
    source_id: str


@dataclass(frozen=True, slots=True)
class SourceRemoved:
    source_id: str


@dataclass(frozen=True, slots=True)
class SourceChanged:
    """Status, address, counts or sync times of a source changed."""

    source_id: str


@dataclass(frozen=True, slots=True)
class SourceConnected:
    """A source's backend is live: time to replay queued changes, sync and listen."""

    source_id: str


@dataclass(frozen=True, slots=True)
class SourceDisconnected:
    source_id: str


@dataclass(frozen=True, slots=True)
class LibrariesChanged:
    source_id: str


@dataclass(frozen=True, slots=True)
class ItemsChanged:
    """A live change (websocket, file watcher) was written to the cache. Not on the bus (clients see
    counts and libraries change); tests and in-process front ends can await it."""

    source_id: str


@dataclass(frozen=True, slots=True)
class LibraryItemsChanged:
    """Items of one library (at any depth) that a committed write added, updated or removed, for any
    cause; ``reload`` when there were too many to list (the id sets are empty then). Remote ids."""

    source_id: str
    library_id: str
    changed: frozenset[str]
    removed: frozenset[str]
    reload: bool = False


@dataclass(frozen=True, slots=True)
class SyncProgress:
    source_id: str
    syncing: bool
    progress: float


@dataclass(frozen=True, slots=True)
class SyncFinished:
    source_id: str
    success: bool
    message: str


@dataclass(frozen=True, slots=True)
class LoginFinished:
    login_id: str
    account_id: str | None
    error: str


@dataclass(frozen=True, slots=True)
class OnlineChanged:
    online: bool


Event = (
    AccountAdded
    | AccountRemoved
    | AccountChanged
    | SourceAdded
    | SourceRemoved
    | SourceChanged
    | SourceConnected
    | SourceDisconnected
    | LibrariesChanged
    | ItemsChanged
    | LibraryItemsChanged
    | SyncProgress
    | SyncFinished
    | LoginFinished
    | OnlineChanged
)


class EventHub:
    def __init__(self) -> None:
        self._subscribers: list[Callable[[Event], None]] = []

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``callback(event)`` for every event; returns a function that unsubscribes."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def emit(self, event: Event) -> None:
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:
                # One broken subscriber must not stop the others or the service that emitted.
                log.exception("event_subscriber_failed", event_type=type(event).__name__)
