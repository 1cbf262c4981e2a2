"""The reeld daemon as a subprocess on a private bus, the way the session would run it."""

import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .bus import PrivateBus, wait_for_name
from .procs import stop_process, tail

BUS_NAME = "io.github.reeld.Reeld1"
ROOT_PATH = "/io/github/reeld/Reeld1"
DAEMON_COMMAND = (sys.executable, "-m", "reeld.cli.daemon")


@dataclass
class ReeldProcess:
    """A started ``reeld``: ``proc`` is the Popen, ``stderr_path`` its log (structlog writes there)."""

    bus: PrivateBus
    proc: subprocess.Popen[bytes]
    stderr_path: Path
    stdout_path: Path

    def running(self) -> bool:
        return self.proc.poll() is None

    def stderr_text(self) -> str:
        """Everything the daemon wrote to stderr so far (its log): assert on it, e.g. no secret."""
        return self.stderr_path.read_text(errors="replace")

    def describe(self) -> str:
        return f"reeld (pid {self.proc.pid}) stderr:\n{tail(self.stderr_path, 60)}"

    def wait_for_name(self, owned: bool = True, timeout: float = 20.0) -> None:
        """Wait until the daemon owns (or, with ``owned=False``, has released) its bus name."""
        wait_for_name(
            self.bus.address,
            BUS_NAME,
            owned=owned,
            timeout=timeout,
            alive=self.running if owned else None,
            describe=self.describe,
        )

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, wait, and assert a clean exit (code 0). Returns the code."""
        if self.running():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                stop_process(self.proc, timeout=5, sig=signal.SIGKILL)
                raise AssertionError(
                    f"reeld did not exit within {timeout:g} s of SIGTERM\n{self.describe()}"
                ) from None
        code = self.proc.returncode
        assert code == 0, f"reeld exited with code {code}\n{self.describe()}"
        return code

    def kill(self) -> int:
        """SIGKILL (a crash, as far as clients can tell). Returns the exit code (-9)."""
        return stop_process(self.proc, timeout=5, sig=signal.SIGKILL)

    def wait_exit(self, timeout: float = 15.0) -> int:
        """Wait for the daemon to exit on its own; returns the exit code."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"reeld still runs after {timeout:g} s\n{self.describe()}") from None


def start_reeld(
    bus: PrivateBus,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    *,
    wait: bool = True,
    timeout: float = 20.0,
    number: int = 0,
) -> ReeldProcess:
    """Start ``python -m reeld.cli.daemon ARGS`` with ``bus.env(env)``; with ``wait``, return once it
    owns its bus name (failing early, with its stderr, if it exits first)."""
    stderr_path = bus.logs_dir / f"reeld-{number}.stderr"
    stdout_path = bus.logs_dir / f"reeld-{number}.stdout"
    with open(stderr_path, "wb") as stderr, open(stdout_path, "wb") as stdout:
        proc = subprocess.Popen(
            [*DAEMON_COMMAND, *args],
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            env=bus.env({"PYTHONFAULTHANDLER": "1", **(env or {})}),
        )
    daemon = ReeldProcess(bus=bus, proc=proc, stderr_path=stderr_path, stdout_path=stdout_path)
    if wait:
        try:
            daemon.wait_for_name(timeout=timeout)
        except BaseException:
            daemon.kill()
            raise
    return daemon


# The ``daemon`` fixture: ``daemon(*args, env=None, wait=True, timeout=20.0) -> ReeldProcess``.
StartReeld = Callable[..., ReeldProcess]
