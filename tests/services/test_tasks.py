"""A service's background tasks all end when it stops, those started while it stops too."""

import asyncio

from reeld.services.tasks import BackgroundTasks


async def test_a_task_started_on_the_way_out_is_ended_too() -> None:
    tasks = BackgroundTasks()
    follow_ups: list[asyncio.Task[None]] = []

    async def forever() -> None:
        await asyncio.Event().wait()

    async def sync_with_a_follow_up() -> None:
        try:
            await asyncio.Event().wait()
        finally:  # as a sync's follow-up or a reconnect is started when the work before it ends
            follow_ups.append(tasks.spawn(forever()))

    first = tasks.spawn(sync_with_a_follow_up())
    await asyncio.sleep(0)  # let it start
    await asyncio.wait_for(tasks.cancel_all(), 5)
    assert first.cancelled() and len(follow_ups) == 1 and follow_ups[0].cancelled()
    assert len(tasks) == 0


async def test_ending_tasks_when_none_run_returns_at_once() -> None:
    await asyncio.wait_for(BackgroundTasks().cancel_all(), 1)
