"""Background threads give way to the ones answering clients."""

import os
import threading

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
