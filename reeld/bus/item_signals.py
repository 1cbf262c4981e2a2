"""``Library.ItemsChanged``: what changed in a library, coalesced to one signal per 250 ms.

A sync writes a page every few milliseconds and a live update can touch an item and its show at
once: a client wants one signal per window that says everything, not hundreds. The first change
after a quiet spell goes out on the next loop turn; later ones wait for the window to pass.
"""

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from reeld.cache.changes import MAX_IDS
from reeld.services import events as ev

#: At most one signal per library this often (the contract's 250 ms).
WINDOW_S = 0.25

#: ``send(source_id, library_id, changed, removed, reload)``: client item ids, sorted.
Send = Callable[[str, str, list[str], list[str], bool], None]


@dataclass(slots=True)
class _Window:
    changed: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)
    reload: bool = False
    last_sent: float = float("-inf")
    timer: asyncio.TimerHandle | None = None

    def add(self, event: ev.LibraryItemsChanged) -> None:
        if self.reload:
            return
        if event.reload:
            self.reload = True
        else:
            ids = {f"{event.source_id}:{remote_id}" for remote_id in event.changed}
            gone = {f"{event.source_id}:{remote_id}" for remote_id in event.removed}
            # The latest word on an item wins: written after it was removed, it is there again.
            self.removed = (self.removed - ids) | gone
            self.changed = (self.changed - gone) | ids
            self.reload = len(self.changed) + len(self.removed) > MAX_IDS
        if self.reload:
            self.changed.clear()
            self.removed.clear()


class ItemSignals:
    """Collects ``LibraryItemsChanged`` events and sends each library's window through ``send``."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self._windows: dict[tuple[str, str], _Window] = {}

    def add(self, event: ev.LibraryItemsChanged) -> None:
        key = (event.source_id, event.library_id)
        window = self._windows.setdefault(key, _Window())
        window.add(event)
        if window.timer is None:
            delay = max(0.0, window.last_sent + WINDOW_S - time.monotonic())
            window.timer = asyncio.get_running_loop().call_later(delay, self._flush, key)

    def forget(self, source_id: str) -> None:
        """A source went away: nothing of it is sent any more."""
        for key in [key for key in self._windows if key[0] == source_id]:
            self._drop(key)

    def close(self) -> None:
        for key in list(self._windows):
            self._drop(key)

    def _drop(self, key: tuple[str, str]) -> None:
        window = self._windows.pop(key)
        if window.timer is not None:
            window.timer.cancel()

    def _flush(self, key: tuple[str, str]) -> None:
        window = self._windows[key]
        window.timer = None
        window.last_sent = time.monotonic()
        changed, removed, reload = sorted(window.changed), sorted(window.removed), window.reload
        window.changed, window.removed, window.reload = set(), set(), False
        self._send(*key, changed, removed, reload)
