"""Live updates from a Plex server's notifications websocket (``/:/websockets/notifications``).

``timeline`` entries of the library: state 5 (processed) → fetch those items; 9 (deleted) → delete.
``activity``: a finished library scan → an incremental sync of that section.
``playing``: a play session's position → the item's progress.
Websocket pings detect a half-open connection: a silent dead socket is the failure live updates
in other clients are known for.
"""

import contextlib
import json
from collections.abc import AsyncGenerator
from typing import Any

import structlog
from websockets.exceptions import WebSocketException

from reeld.backends.base import ChangeSet
from reeld.backends.live import OPENED, FetchItems, LiveUpdatesInterrupted, open_live_updates
from reeld.backends.plex.client import PlexServerClient
from reeld.backends.plex.mapping import LIBRARY_IDENTIFIER

log = structlog.get_logger(__name__)

PROCESSED, DELETED = 5, 9
PING_INTERVAL_S = 20.0


def notifications_url(base_url: str) -> str:
    scheme = "wss" if base_url.startswith("https") else "ws"
    return f"{scheme}{base_url[base_url.index(':') :]}/:/websockets/notifications"


async def watch_notifications(
    client: PlexServerClient, fetch_items: FetchItems, source_id: str
) -> AsyncGenerator[ChangeSet, None]:
    """Changes on the server ``client`` talks to, as they happen; ``fetch_items`` fetches the
    items a notification names."""
    url = notifications_url(client.base_url)
    connection = await open_live_updates(
        url,
        client.name,
        additional_headers={"X-Plex-Token": client.token},
        ping_interval=PING_INTERVAL_S,
        ping_timeout=PING_INTERVAL_S,
    )
    log.info("live_updates_connected", source=source_id)
    try:
        yield OPENED
        while True:
            try:
                raw = await connection.recv()
            except WebSocketException:
                raise LiveUpdatesInterrupted(f"{client.name}: the live-updates connection dropped") from None
            change = await _handle(fetch_items, source_id, raw)
            if change is not None:
                yield change
    finally:
        with contextlib.suppress(Exception):
            await connection.close()


async def _handle(fetch_items: FetchItems, source_id: str, raw: str | bytes) -> ChangeSet | None:
    try:
        container = json.loads(raw)["NotificationContainer"]
        kind = container["type"]
    except (json.JSONDecodeError, KeyError, TypeError):
        log.warning("live_update_unreadable", source=source_id)
        return None
    if kind == "timeline":
        return await _timeline(fetch_items, container.get("TimelineEntry") or [])
    if kind == "activity":
        return _activity(container.get("ActivityNotification") or [])
    if kind == "playing":
        return await _playing(fetch_items, container.get("PlaySessionStateNotification") or [])
    return None


async def _timeline(fetch_items: FetchItems, entries: list[dict[str, Any]]) -> ChangeSet | None:
    changed: list[str] = []
    deleted: list[str] = []
    for entry in entries:
        if entry.get("identifier") != LIBRARY_IDENTIFIER or not entry.get("itemID"):
            continue
        state = int(entry.get("state", -1))
        if state == DELETED or entry.get("metadataState") == "deleted":
            deleted.append(str(entry["itemID"]))
        elif state == PROCESSED:
            changed.append(str(entry["itemID"]))
    if not changed and not deleted:
        return None
    upserts = await fetch_items(list(dict.fromkeys(changed))) if changed else []
    return ChangeSet(upserts=upserts, deleted=deleted)


def _activity(entries: list[dict[str, Any]]) -> ChangeSet | None:
    sections = [
        str(entry["Activity"]["Context"]["librarySectionID"])
        for entry in entries
        if entry.get("event") == "ended"
        and (entry.get("Activity") or {}).get("type") == "library.update.section"
        and ((entry.get("Activity") or {}).get("Context") or {}).get("librarySectionID")
    ]
    return ChangeSet(libraries_to_sync=list(dict.fromkeys(sections))) if sections else None


async def _playing(fetch_items: FetchItems, entries: list[dict[str, Any]]) -> ChangeSet | None:
    """A session's position. The notification carries only the offset; the item's whole watch
    state is read back so a rewatch in progress does not reset its view count."""
    keys = [str(entry["ratingKey"]) for entry in entries if entry.get("ratingKey")]
    if not keys:
        return None
    items = await fetch_items(list(dict.fromkeys(keys)))
    states = [item.watch for item in items if item.watch is not None]
    return ChangeSet(watch_states=states) if states else None
