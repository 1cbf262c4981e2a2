"""The notifications a PMS pushes on ``/:/websockets/notifications``, in the shapes real servers send.

``timeline``: library items created (state 0, then 5 once "processed"), updated (5), deleted (9).
``activity``: a library scan starting and ending (``library.update.section``).
``playing``: a play session's state and position (``PlaySessionStateNotification``).
Newer servers send ``sectionID``/``itemID`` as strings (older ones as numbers); so does this one.
"""

import asyncio
import itertools
from collections import deque
from typing import Any

from reeld.fakes.plex.catalog import TYPE_NUMBERS, Item, Section
from reeld.fakes.plex.render import json_text

LIBRARY = "com.plexapp.plugins.library"
CREATED, PROCESSED, DELETED = 0, 5, 9
_METADATA_STATES = {CREATED: "created", DELETED: "deleted"}


class Notifier:
    """Fans notifications out to the connected websockets; keeps the last ones for tests."""

    def __init__(self, history: int = 1000) -> None:
        self._queues: set[asyncio.Queue[tuple[str, str]]] = set()
        self.history: deque[dict[str, Any]] = deque(maxlen=history)
        self._activity_ids = itertools.count(1)
        self._subscribed: asyncio.Event | None = None
        #: Answer websocket handshakes with this HTTP status, as a proxy without websocket support does.
        self.refusal: int | None = None
        self.attempts = 0  # websocket handshakes asked for (the Wire logs HTTP requests only)

    @property
    def listeners(self) -> int:
        return len(self._queues)

    def subscribe(self) -> "asyncio.Queue[tuple[str, str]]":
        """A queue of (notification type, JSON text) for everything published from now on."""
        queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._queues.add(queue)
        if self._subscribed is not None:
            self._subscribed.set()
        return queue

    async def wait_for_listener(self) -> None:
        """Until a websocket listens (tests: so a change made next is pushed to it)."""
        while not self._queues:
            self._subscribed = asyncio.Event()
            await self._subscribed.wait()

    def unsubscribe(self, queue: "asyncio.Queue[tuple[str, str]]") -> None:
        self._queues.discard(queue)

    def publish(self, kind: str, key: str, entries: list[dict[str, Any]]) -> None:
        if not entries:
            return
        message = {"NotificationContainer": {"type": kind, "size": len(entries), key: entries}}
        self.history.append(message)
        text = json_text(message)
        for queue in self._queues:
            queue.put_nowait((kind, text))

    def timeline(self, items: list[Item], state: int) -> None:
        self.publish("timeline", "TimelineEntry", [timeline_entry(item, state) for item in items])

    def scan(self, section: Section, event: str) -> None:
        uuid = f"{section.uuid[:24]}{next(self._activity_ids):012x}"
        activity = {
            "uuid": uuid,
            "type": "library.update.section",
            "cancellable": False,
            "userID": 1,
            "title": f"Scanning {section.title}",
            "subtitle": "",
            "progress": 100 if event == "ended" else 0,
            "Context": {"librarySectionID": str(section.id)},
        }
        self.publish(
            "activity", "ActivityNotification", [{"event": event, "uuid": uuid, "Activity": activity}]
        )

    def playing(self, item: Item, state: str, offset: int, session: str, client: str) -> None:
        entry = {
            "sessionKey": session,
            "clientIdentifier": client,
            "guid": "",
            "ratingKey": str(item.rating_key),
            "url": "",
            "key": item.key,
            "viewOffset": offset,
            "playQueueItemID": item.rating_key,
            "state": state,
        }
        self.publish("playing", "PlaySessionStateNotification", [entry])


def timeline_entry(item: Item, state: int) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "identifier": LIBRARY,
        "sectionID": str(item.section.id),
        "itemID": str(item.rating_key),
        "type": TYPE_NUMBERS[item.type],
        "title": item.title,
        "state": state,
    }
    if item.parent is not None:
        entry["parentItemID"] = str(item.parent.rating_key)
        root = item.grandparent or item.parent
        entry["rootItemID"] = str(root.rating_key)
    if state in _METADATA_STATES:
        entry["metadataState"] = _METADATA_STATES[state]
    entry["updatedAt"] = item.updated_at
    return entry
