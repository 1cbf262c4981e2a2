"""What every HTTP backend shares: page work off the event loop, with the collector paused."""

import gc

import pytest

from reeld.backends.http import off_loop


async def test_page_work_runs_off_the_loop_with_the_cycle_collector_paused_then_restored() -> None:
    seen: list[bool] = []
    assert await off_loop(lambda n: seen.append(gc.isenabled()) or n * 2, 21) == 42
    assert seen == [False]
    assert gc.isenabled()


async def test_a_failing_page_job_still_restores_the_collector() -> None:
    def boom() -> None:
        raise ValueError("malformed page")

    with pytest.raises(ValueError, match="malformed page"):
        await off_loop(boom)
    assert gc.isenabled()
