"""When clients last asked the daemon something, so background work that only saves time later
gives way while they are busy."""

import asyncio
import time

#: Clients count as busy until this long after their last call.
QUIET_AFTER_S = 0.5
#: While clients are busy, a sync rests this many times as long as each of its writes took.
REST_PER_WRITE = 1.0


class ClientActivity:
    """Noted by the bus edge at every call; waited on by work that can wait (artwork prefetch, and
    a sync between its writes).

    A poster fetched ahead of time saves a client a moment later; a page a client is waiting for
    now is worth more. Under 20 busy clients, a prefetch of 8 images at a time took over a third
    of the event loop's time, and every answer queued behind it.
    """

    def __init__(self, quiet_after_s: float = QUIET_AFTER_S) -> None:
        self.quiet_after_s = quiet_after_s
        self._last_call = -quiet_after_s

    def note_call(self) -> None:
        self._last_call = time.monotonic()

    @property
    def idle_s(self) -> float:
        """Seconds since the last call."""
        return time.monotonic() - self._last_call

    @property
    def busy(self) -> bool:
        return time.monotonic() - self._last_call < self.quiet_after_s

    async def give_way(self, worked_s: float) -> None:
        """After ``worked_s`` of a sync's writing: while clients are busy, rest ``REST_PER_WRITE``
        times as long. The sync then takes at most about half the daemon's time (its pages are
        decoded ahead only as far as the read-ahead goes) and the clients' calls the rest: during a
        110k-item first sync under 20 busy clients, its writer and decoder held the GIL a third of
        the time, and every call queued behind them."""
        if self.busy:
            await asyncio.sleep(worked_s * REST_PER_WRITE)

    async def quiet(self) -> None:
        """Return once no call came for ``quiet_after_s``. (A deadline that calls move, not an
        event: setting one per call would cost every call; this wakes once per quiet period.)"""
        while (left := self._last_call + self.quiet_after_s - time.monotonic()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(left)
