"""An X display (Xvfb) and reeld-gtk under a driver that answers about its widget tree."""

import functools
import json
import os
import queue
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.bus import PrivateBus
from tests.support.procs import read_line, stop_process
from tests.support.tools import SYSTEM_PYTHON, missing, require_command

DRIVER = Path(__file__).with_name("driver.py")
GTK_PROBE = "import gi; gi.require_version('Gtk', '4.0'); gi.require_version('Adw', '1'); from gi.repository import Gtk, Adw"


@functools.cache
def _gtk_problem() -> str | None:
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        return f"{SYSTEM_PYTHON} is missing"
    probe = subprocess.run([SYSTEM_PYTHON, "-c", GTK_PROBE], capture_output=True, timeout=60, check=False)
    if probe.returncode:
        return (
            f"{SYSTEM_PYTHON} cannot import Gtk 4 and Adw 1: install python3-gi gir1.2-gtk-4.0 gir1.2-adw-1"
        )
    return None


def require_gtk() -> None:
    problem = _gtk_problem()
    if problem:
        missing(problem)


@pytest.fixture(scope="session")
def x_display() -> Iterator[str]:
    """A private X server (Xvfb) for the whole run: its DISPLAY value."""
    require_gtk()
    xvfb = require_command("Xvfb", "xvfb")
    read_end, write_end = os.pipe()
    proc = subprocess.Popen(
        [xvfb, "-displayfd", str(write_end), "-screen", "0", "1280x900x24", "-nolisten", "tcp"],
        pass_fds=(write_end,),
        stdout=read_end,  # unused: -displayfd writes the number to write_end
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    proc.stdout = os.fdopen(read_end, "rb")  # type: ignore[assignment]  (read_line reads it)
    try:
        display = f":{read_line(proc, 30, 'Xvfb')}"
        yield display
    finally:
        stop_process(proc)


class App:
    """reeld-gtk driven by tests/gui/driver.py: ``ask(cmd, **args)`` returns its JSON answer."""

    def __init__(self, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.proc, self.log = proc, log
        self.answers: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith(b"{"):
                self.answers.put(json.loads(line))
        self.answers.put({"ok": False, "error": "the app exited"})

    def next_answer(self, timeout: float) -> dict[str, Any]:
        try:
            return self.answers.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(
                f"the app did not answer in {timeout:g} s\n{self.log.read_text()[-3000:]}"
            ) from None

    def ask(self, cmd: str, timeout: float = 20, **args: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"cmd": cmd, "timeout": timeout, **args}).encode() + b"\n")
        self.proc.stdin.flush()
        found = self.next_answer(timeout + 10)
        assert found["ok"], f"{found['error']}\napp log:\n{self.log.read_text()[-3000:]}"
        return found


@pytest.fixture
def gtk_app(private_bus: PrivateBus, x_display: str) -> Iterator[Callable[[], App]]:
    """Factory: starts reeld-gtk on ``private_bus`` and the Xvfb display; stopped at teardown."""
    started: list[App] = []

    def start() -> App:
        log = private_bus.logs_dir / f"reeld-gtk-{len(started)}.log"
        env = private_bus.env(
            {"DISPLAY": x_display, "GDK_BACKEND": "x11", "GSK_RENDERER": "cairo", "GTK_A11Y": "none"}
        )
        with open(log, "wb") as stderr:
            proc = subprocess.Popen(
                [SYSTEM_PYTHON, str(DRIVER)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=env,
            )
        app = App(proc, log)
        started.append(app)
        assert app.next_answer(30).get("started"), log.read_text()
        return app

    try:
        yield start
    finally:
        for app in started:
            stop_process(app.proc, timeout=5)
