"""Drive ``glib_om_client.py`` (a real GLib ObjectManager client) from a test and await its events."""

import asyncio
import contextlib
import json
import queue
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .bus import PrivateBus
from .procs import stop_process, tail
from .reeld import BUS_NAME, ROOT_PATH
from .tools import require_system_gio

CLIENT_SCRIPT = Path(__file__).with_name("glib_om_client.py")

Event = dict[str, Any]


class GlibObjectManagerClient:
    """A running GLib client. Events arrive on a reader thread; ``wait_for`` takes them in order.

    Every event is also kept in ``history``. Await from async tests with :meth:`async_wait_for`
    (the wait runs in a thread, so the test's own bus objects keep being served).
    """

    def __init__(self, bus: PrivateBus, name: str, path: str, autostart: bool) -> None:
        python = require_system_gio()
        self.bus = bus
        self.history: list[Event] = []
        self._events: queue.Queue[Event | None] = queue.Queue()
        self._stderr_path = bus.logs_dir / f"glib-om-client-{id(self)}.stderr"
        argv = [python, str(CLIENT_SCRIPT), bus.address, "--name", name, "--path", path]
        if autostart:
            argv.append("--autostart")
        with open(self._stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env=bus.env()
            )
        self._reader = threading.Thread(target=self._read, name="glib-om-client", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._events.put(json.loads(line))
        self._events.put(None)

    def wait_for(self, predicate: Callable[[Event], bool] | str, timeout: float = 10.0) -> Event:
        """The next event matching ``predicate`` (or whose "event" equals it, given a string),
        skipping others. Raises AssertionError, with what was seen, if none comes in time."""
        matches = _as_predicate(predicate)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                event = self._events.get(timeout=max(remaining, 0))
            except queue.Empty:
                raise AssertionError(self._failure(f"no matching event within {timeout:g} s")) from None
            if event is None:
                raise AssertionError(self._failure("the GLib client exited"))
            self.history.append(event)
            if event["event"] == "error":
                raise AssertionError(self._failure(f"the GLib client failed: {event['message']}"))
            if matches(event):
                return event

    async def async_wait_for(self, predicate: Callable[[Event], bool] | str, timeout: float = 10.0) -> Event:
        return await asyncio.to_thread(self.wait_for, predicate, timeout)

    def request_list(self) -> None:
        """Ask for an "objects" event with what the client holds now."""
        assert self.process.stdin is not None
        self.process.stdin.write(b"list\n")
        self.process.stdin.flush()

    def close(self) -> None:
        """Close stdin (the client quits its main loop), then make sure it is gone."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            stop_process(self.process, timeout=5)
        self._reader.join(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def _failure(self, why: str) -> str:
        seen = "\n".join(json.dumps(event) for event in self.history[-20:])
        return f"{why}\nevents seen:\n{seen}\nclient stderr:\n{tail(self._stderr_path)}"


def _as_predicate(predicate: Callable[[Event], bool] | str) -> Callable[[Event], bool]:
    if isinstance(predicate, str):
        name = predicate
        return lambda event: event["event"] == name
    return predicate


def start_glib_client(
    bus: PrivateBus, name: str = BUS_NAME, path: str = ROOT_PATH, autostart: bool = False
) -> GlibObjectManagerClient:
    """Start the GLib client on ``bus``; close it with ``.close()``. Its first event is "initial"."""
    return GlibObjectManagerClient(bus, name, path, autostart)


# The ``glib_om_client`` fixture: ``glib_om_client(name=BUS_NAME, path=ROOT_PATH, autostart=False)``.
StartGlibClient = Callable[..., GlibObjectManagerClient]
