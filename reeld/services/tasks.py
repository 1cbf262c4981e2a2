"""The asyncio tasks a service starts, ended together when it stops."""

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class BackgroundTasks:
    """``tasks.spawn(coro)`` keeps a reference until the task ends; ``await tasks.cancel_all()``
    ends every one of them, those started meanwhile too."""

    def __init__(self) -> None:
        self._running: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.get_running_loop().create_task(coro)
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return task

    def __len__(self) -> int:
        return len(self._running)

    async def cancel_all(self) -> None:
        """Cancel and wait for every task until none is left. A task on its way out may start
        another (a sync's follow-up, a reconnect); waiting only for those cancelled first left such
        a task running, and stop() waiting for it, or it ran on against a closed cache."""
        while self._running:
            ending = list(self._running)
            for task in ending:
                task.cancel()
            await asyncio.gather(*ending, return_exceptions=True)
