"""The periodic syncs of each connected source: an incremental one every few minutes, a full one
every few hours, jittered so many daemons do not ask a server at the same moment."""

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from reeld.config import SyncSettings

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

#: Called with (source id, full) when a source's sync is due.
DueSync = Callable[[str, bool], None]


class SyncSchedule:
    def __init__(self, settings: SyncSettings, due: DueSync) -> None:
        self.settings = settings
        self._due = due
        self.scheduler: AsyncIOScheduler | None = None

    @property
    def running(self) -> bool:
        """Started and not stopped: syncs may start."""
        return self.scheduler is not None

    def start(self) -> None:
        from apscheduler.schedulers.asyncio import AsyncIOScheduler  # after the bus name: keeps start-up fast

        self.scheduler = AsyncIOScheduler()
        self.scheduler.start()

    def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None

    def add(self, source_id: str) -> None:
        if self.scheduler is None or self.scheduler.get_job(f"{source_id}:incremental"):
            return
        from apscheduler.triggers.interval import IntervalTrigger

        jitter = int(self.settings.jitter_s)
        for full, interval in (
            (False, self.settings.incremental_minutes * 60),
            (True, self.settings.full_hours * 3600),
        ):
            self.scheduler.add_job(
                self._run_due,
                IntervalTrigger(seconds=interval, jitter=jitter),
                args=[source_id, full],
                id=f"{source_id}:{'full' if full else 'incremental'}",
                max_instances=1,
                coalesce=True,
            )

    async def _run_due(self, source_id: str, full: bool) -> None:
        # A coroutine, so the scheduler runs it on the event loop: a plain function would run in
        # its thread pool, where starting the sync's task fails (no running event loop).
        self._due(source_id, full)

    def remove(self, source_id: str) -> None:
        if self.scheduler is None:
            return
        for name in ("incremental", "full"):
            with contextlib.suppress(Exception):
                self.scheduler.remove_job(f"{source_id}:{name}")
