"""Background threads give way to the ones answering clients, and say what they are."""

import asyncio
import os
import threading
from pathlib import Path

from reeld.cache.db import Database
from reeld.workers import BACKGROUND_NICE, background_thread


def test_background_work_runs_at_a_lower_cpu_priority_than_the_caller() -> None:
    def own_nice() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    caller = own_nice()
    worker = background_thread("test-background")
    try:
        assert worker.submit(own_nice).result(timeout=10) == min(19, caller + BACKGROUND_NICE)
    finally:
        worker.shutdown()
    assert own_nice() == caller  # the caller's own priority is untouched


def test_the_cache_threads_carry_their_names_in_top_and_proc(tmp_path: Path) -> None:
    """``top -H`` and ``/proc/PID/task/*/comm`` tell the writer, the readers and the page worker apart."""

    async def thread_names() -> tuple[str, str, str]:
        db = Database(tmp_path / "cache.sqlite")
        await db.open()
        try:
            writer = await db.write(lambda _conn: os_thread_name())
            reader = await db.read(lambda _conn: os_thread_name())
        finally:
            await db.close()
        pages = background_thread("reeld-pages")
        try:
            return writer, reader, pages.submit(os_thread_name).result(timeout=10)
        finally:
            pages.shutdown()

    assert asyncio.run(thread_names()) == ("reeld-db-write_", "reeld-db-read_0", "reeld-pages_0")


def os_thread_name() -> str:
    return Path(f"/proc/self/task/{threading.get_native_id()}/comm").read_text().strip()
