"""An X display (Xvfb) and reeld-gtk under a driver that answers about its widget tree."""

import functools
import os
import subprocess
from collections.abc import Callable, Iterator

import pytest

from tests.gui.harness import App, start_app, start_xvfb
from tests.support.bus import PrivateBus
from tests.support.procs import stop_process
from tests.support.tools import SYSTEM_PYTHON, missing, require_command

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


@pytest.fixture(scope="session")
def x_display() -> Iterator[str]:
    """A private X server (Xvfb) for the whole run: its DISPLAY value. Skips (fails in CI) without
    Gtk 4, libadwaita or Xvfb."""
    problem = _gtk_problem()
    if problem:
        missing(problem)
    proc, display = start_xvfb(require_command("Xvfb", "xvfb"))
    try:
        yield display
    finally:
        stop_process(proc)


@pytest.fixture
def gtk_app(private_bus: PrivateBus, x_display: str) -> Iterator[Callable[[], App]]:
    """Factory: starts reeld-gtk on ``private_bus`` and the Xvfb display; stopped at teardown."""
    started: list[App] = []

    def start() -> App:
        app = start_app(private_bus, x_display, len(started))
        started.append(app)
        return app

    try:
        yield start
    finally:
        for app in started:
            stop_process(app.proc, timeout=5)
