"""A wait with a deadline keeps a cancellation that lands just as the wait ends."""

import asyncio

from reeld.aio import wait_at_most


async def test_a_cancel_that_lands_as_the_event_is_set_is_kept() -> None:
    """The race of python/cpython#86296: the awaited event is set, its waiter has run, and the
    waiting task is cancelled before it resumes. ``asyncio.wait_for`` on 3.11 swallows that
    cancellation, and a loop built on it runs on (stopping the daemon hung on one)."""
    event = asyncio.Event()

    async def loop_until_cancelled() -> None:
        while True:
            await wait_at_most(event, 30)
            event.clear()

    task = asyncio.create_task(loop_until_cancelled())
    await asyncio.sleep(0)  # the loop now waits on the event
    event.set()
    await asyncio.sleep(0)  # the event's waiter completes; the loop task is scheduled, not yet run
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)
    assert done and task.cancelled()  # with wait_for, the loop would wait on, 30 s a round


async def test_waiting_ends_at_the_deadline_or_when_the_event_is_set() -> None:
    event = asyncio.Event()
    assert not await wait_at_most(event, 0.01)
    event.set()
    assert await wait_at_most(event, 30)
