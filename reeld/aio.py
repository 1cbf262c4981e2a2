"""asyncio waits that keep a cancellation.

On Python 3.11 ``asyncio.wait_for`` can swallow the caller's cancellation when the awaited thing
finishes in the same turn of the loop (python/cpython#86296, fixed in 3.12 by rebuilding it on
``asyncio.timeout``). A loop cancelled at that moment runs on, and whoever waits for it waits
forever: stopping the daemon hung that way, rarely, while a websocket message arrived. reeld uses
``asyncio.timeout``, which counts cancellations, for every wait with a deadline.
"""

import asyncio
import contextlib


async def wait_at_most(event: asyncio.Event, seconds: float) -> bool:
    """Wait until ``event`` is set, ``seconds`` at most; whether it is set."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
    return event.is_set()
