"""Start and stop helper processes without leaving any behind, with a deadline on every wait."""

import os
import select
import signal
import subprocess
import time
from pathlib import Path


def read_line(proc: subprocess.Popen[bytes], timeout: float, what: str) -> str:
    """The first line ``proc`` prints on its stdout (a pipe), without the newline.

    Raises ``TimeoutError`` if none comes within ``timeout`` seconds and ``RuntimeError``
    if the process exits first; ``what`` names the process in both messages.
    """
    assert proc.stdout is not None, "start the process with stdout=subprocess.PIPE"
    fd = proc.stdout.fileno()
    deadline = time.monotonic() + timeout
    data = b""
    while b"\n" not in data:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"{what} printed no line within {timeout:g} s")
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            code = proc.wait(timeout=5)
            raise RuntimeError(f"{what} exited with code {code} before printing a line")
        data += chunk
    return data.split(b"\n", 1)[0].decode()


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 5.0, sig: int = signal.SIGTERM) -> int:
    """Send ``sig`` if ``proc`` still runs, wait up to ``timeout`` s, then SIGKILL. Returns the exit code."""
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)
        except ProcessLookupError:
            proc.wait(timeout=timeout)
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
    return proc.returncode


def tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a log file, for assertion messages (empty if it does not exist)."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
