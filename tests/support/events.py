"""Awaiting the daemon core's events in in-process tests."""

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator, Callable

from reeld.daemon import Daemon
from reeld.services import events as ev


class Recorder:
    """Collects events and lets a test await one."""

    def __init__(self, daemon: Daemon) -> None:
        self.events: list[ev.Event] = []
        self._waiters: list[tuple[Callable[[ev.Event], bool], asyncio.Future[ev.Event]]] = []
        daemon.events.subscribe(self._on_event)

    def _on_event(self, event: ev.Event) -> None:
        self.events.append(event)
        for predicate, future in list(self._waiters):
            if not future.done() and predicate(event):
                future.set_result(event)

    async def wait(self, predicate: Callable[[ev.Event], bool], timeout: float = 10) -> ev.Event:
        for event in self.events:
            if predicate(event):
                self.events.remove(event)
                return event
        future: asyncio.Future[ev.Event] = asyncio.get_running_loop().create_future()
        self._waiters.append((predicate, future))
        try:
            event = await asyncio.wait_for(future, timeout)
        finally:
            self._waiters = [w for w in self._waiters if w[1] is not future]
        self.events.remove(event)
        return event

    async def sync_finished(self) -> ev.SyncFinished:
        event = await self.wait(lambda e: isinstance(e, ev.SyncFinished))
        assert isinstance(event, ev.SyncFinished)
        return event


@contextlib.asynccontextmanager
async def running(daemon: Daemon) -> AsyncIterator[Recorder]:
    """``daemon`` started and running, with a ``Recorder`` on its events from the start; stopped after."""
    recorder = Recorder(daemon)
    await daemon.start()
    await daemon.run()
    try:
        yield recorder
    finally:
        await stop(daemon)


async def stop(daemon: Daemon, timeout: float = 30) -> None:
    """``daemon.stop()``. A stop still running after ``timeout`` fails the test with the stack of
    every task, so that a rare hang says what it waits for (pytest-timeout shows only threads)."""
    stopping = asyncio.ensure_future(daemon.stop())
    done, _ = await asyncio.wait({stopping}, timeout=timeout)
    if not done:
        stacks = io.StringIO()
        for task in asyncio.all_tasks():
            task.print_stack(file=stacks)
        raise AssertionError(
            f"Daemon.stop() still running after {timeout} s; its tasks:\n{stacks.getvalue()}"
        )
    stopping.result()
