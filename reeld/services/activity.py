"""When clients last asked the daemon something, so background work that only saves time later
gives way while they are busy."""

import asyncio
import time

#: Clients count as busy until this long after their last call.
QUIET_AFTER_S = 0.5
#: While clients crowd the daemon, a sync rests this many times as long as each of its writes took.
REST_PER_WRITE = 1.0
#: Calls a second from which clients crowd the daemon. A frontend scrolling or re-reading after
#: changes makes a few to a few tens; a sync slowed for one would lose its speed for nothing (the
#: sync benchmarks' one sampling client makes about 20 and waited no longer with the rest).
CROWDED_CALLS_PER_S = 60


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
        # Calls counted per second: the second counting now, and the one before.
        self._second_started = 0.0
        self._this_second = self._last_second = 0

    def note_call(self) -> None:
        now = self._last_call = time.monotonic()
        if now - self._second_started >= 1.0:
            recent = now - self._second_started < 2.0
            self._last_second = self._this_second if recent else 0
            self._second_started, self._this_second = now, 0
        self._this_second += 1

    @property
    def calls_per_s(self) -> int:
        """Calls in the last whole second (or in this one, once they are more)."""
        since = time.monotonic() - self._second_started
        if since >= 2.0:
            return 0
        if since >= 1.0:
            return self._this_second
        return max(self._last_second, self._this_second)

    @property
    def idle_s(self) -> float:
        """Seconds since the last call."""
        return time.monotonic() - self._last_call

    @property
    def busy(self) -> bool:
        return time.monotonic() - self._last_call < self.quiet_after_s

    @property
    def crowded(self) -> bool:
        """Whether clients crowd the daemon (``CROWDED_CALLS_PER_S``)."""
        return self.calls_per_s >= CROWDED_CALLS_PER_S

    async def uncrowded(self) -> None:
        """Return once clients no longer crowd the daemon (looked at twice a second)."""
        while self.crowded:  # noqa: ASYNC110  (a count of calls, not an event: see ``quiet``)
            await asyncio.sleep(0.5)

    async def give_way(self, worked_s: float) -> None:
        """After ``worked_s`` of a sync's writing: while clients crowd the daemon
        (``CROWDED_CALLS_PER_S``), rest ``REST_PER_WRITE`` times as long. The sync then takes at most
        about half the daemon's time (its pages are decoded ahead only as far as the read-ahead
        goes) and the clients' calls the rest: during a 110k-item first sync under 20 busy clients,
        its writer and decoder held the GIL a third of the time, and every call queued behind them."""
        if self.crowded:
            await asyncio.sleep(worked_s * REST_PER_WRITE)

    async def quiet(self) -> None:
        """Return once no call came for ``quiet_after_s``. (A deadline that calls move, not an
        event: setting one per call would cost every call; this wakes once per quiet period.)"""
        while (left := self._last_call + self.quiet_after_s - time.monotonic()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(left)
