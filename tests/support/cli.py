"""Run ``busctl`` and ``gdbus`` against a private bus, as a shell-script frontend would."""

import json
import subprocess
import sys
from typing import Any

from .tools import require_command


class CommandFailed(AssertionError):
    """A bus tool exited non-zero; ``stderr`` holds its message (e.g. the D-Bus error name)."""

    def __init__(self, argv: list[str], result: subprocess.CompletedProcess[str]) -> None:
        self.returncode = result.returncode
        self.stdout = result.stdout
        self.stderr = result.stderr
        super().__init__(f"{' '.join(argv)} exited with {result.returncode}: {result.stderr.strip()}")


def _run(argv: list[str], timeout: float, check: bool) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise CommandFailed(argv, result)
    return result


def busctl(address: str, *args: str, timeout: float = 20.0) -> Any:
    """``busctl --address=ADDRESS --json=short ARGS``, parsed.

    ``call`` and ``get-property`` give ``{"type": "s", "data": [...]}``; ``list`` a list of dicts.
    Raises :class:`CommandFailed` on a non-zero exit (a D-Bus error from ``call`` included).
    """
    tool = require_command("busctl", "systemd")
    argv = [tool, f"--address={address}", "--json=short", "--no-pager", *args]
    output = _run(argv, timeout, check=True).stdout
    return json.loads(output) if output.strip() else None


def busctl_text(address: str, *args: str, timeout: float = 20.0, check: bool = True) -> str:
    """``busctl --address=ADDRESS ARGS`` with its plain text output (``introspect``, ``tree``…)."""
    tool = require_command("busctl", "systemd")
    return _run([tool, f"--address={address}", "--no-pager", "--no-legend", *args], timeout, check).stdout


def gdbus(address: str, command: str, *args: str, timeout: float = 20.0) -> str:
    """``gdbus COMMAND --address ADDRESS ARGS``: its stdout, in GVariant text form.

    For example ``gdbus(addr, "call", "--dest", NAME, "--object-path", PATH, "--method", "I.M", "arg")``.
    Raises :class:`CommandFailed` on a non-zero exit.
    """
    tool = require_command("gdbus", "libglib2.0-bin")
    return _run([tool, command, "--address", address, *args], timeout, check=True).stdout


def reelctl_process(
    bus: Any, *args: str, stdin: str = "", timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """``python -m reeld.cli.reelctl ARGS`` on ``bus`` (a ``PrivateBus``), with ``stdin`` fed to it."""
    return subprocess.run(
        [sys.executable, "-m", "reeld.cli.reelctl", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=bus.env(),
        timeout=timeout,
    )
