"""reeld-gtk under a driver (tests/gui/driver.py) on an X server of its own: for the GUI tests and
bench/bench_gtk.py."""

import json
import os
import queue
import subprocess
import threading
from pathlib import Path
from typing import Any

from tests.support.bus import PrivateBus
from tests.support.procs import read_line
from tests.support.tools import SYSTEM_PYTHON

DRIVER = Path(__file__).with_name("driver.py")


def start_xvfb(xvfb: str = "Xvfb") -> tuple[subprocess.Popen[bytes], str]:
    """A private X server: the process and its DISPLAY value."""
    read_end, write_end = os.pipe()
    proc = subprocess.Popen(
        [xvfb, "-displayfd", str(write_end), "-screen", "0", "1280x900x24", "-nolisten", "tcp"],
        pass_fds=(write_end,),
        stdout=read_end,  # unused: -displayfd writes the number to write_end
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    proc.stdout = os.fdopen(read_end, "rb")  # type: ignore[assignment]  (read_line reads it)
    return proc, f":{read_line(proc, 30, 'Xvfb')}"


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


def start_app(bus: PrivateBus, display: str, number: int = 0) -> App:
    """reeld-gtk on ``bus`` and ``display``, once the driver says it runs; stop ``.proc`` after."""
    log = bus.logs_dir / f"reeld-gtk-{number}.log"
    env = bus.env({"DISPLAY": display, "GDK_BACKEND": "x11", "GSK_RENDERER": "cairo", "GTK_A11Y": "none"})
    with open(log, "wb") as stderr:
        proc = subprocess.Popen(
            [SYSTEM_PYTHON, str(DRIVER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=env,
        )
    app = App(proc, log)
    assert app.next_answer(30).get("started"), log.read_text()
    return app
