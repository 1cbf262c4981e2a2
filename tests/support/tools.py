"""Finding the system tools the tests drive, and what to do when one is missing.

A developer without a tool gets a skip that names the Debian package to install. In CI (``CI`` set,
as ``.ci/run`` runs) every tool is installed by ``make system-deps``, so a missing one fails the test
instead of hiding it behind a skip.
"""

import functools
import os
import shutil
import subprocess
from typing import NoReturn

import pytest

SYSTEM_PYTHON = "/usr/bin/python3"
QT_TOOL_DIRS = ("/usr/lib/qt6/bin", "/usr/lib/qt6/libexec", "/usr/lib/qt5/bin")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def missing(reason: str) -> NoReturn:
    """Skip the current test for a missing tool, or fail it in CI."""
    if in_ci():
        pytest.fail(f"{reason} (CI must have it: see the Makefile's system-deps target)", pytrace=False)
    pytest.skip(reason)


def require_command(name: str, package: str) -> str:
    """The path of command ``name``, or a skip (a failure in CI) naming its Debian ``package``."""
    path = shutil.which(name)
    if path is None:
        missing(f"{name} not found: install the Debian package {package}")
    return path


@functools.cache
def _system_python_has_gio() -> bool:
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        return False
    probe = "import gi; gi.require_version('Gio', '2.0'); from gi.repository import Gio"
    result = subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, timeout=30, check=False)
    return result.returncode == 0


def require_system_gio() -> str:
    """``/usr/bin/python3`` when it can import GLib's Gio (Debian's python3-gi), else skip/fail."""
    if not _system_python_has_gio():
        missing(f"{SYSTEM_PYTHON} cannot import gi.repository.Gio: install python3-gi gir1.2-glib-2.0")
    return SYSTEM_PYTHON


def find_qdbusxml2cpp() -> str | None:
    """Qt's D-Bus proxy generator: Debian puts it outside PATH (qt6-base-dev-tools: /usr/lib/qt6/bin)."""
    # The real binaries first: /usr/bin/qdbusxml2cpp may be qtchooser's wrapper with no Qt behind it.
    for folder in QT_TOOL_DIRS:
        candidate = os.path.join(folder, "qdbusxml2cpp")
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("qdbusxml2cpp")


def require_qdbusxml2cpp() -> str:
    path = find_qdbusxml2cpp()
    if path is None:
        missing("qdbusxml2cpp not found: install the Debian package qt6-base-dev-tools")
    return path
