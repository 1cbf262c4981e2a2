"""Why the daemon could not start, kept where ``reelctl`` finds it.

A daemon started by D-Bus activation writes its log to the bus's stderr or the journal; the person
who ran ``reelctl`` only hears from the bus that it did not start. So the daemon writes its reason
to ``start-failure.json`` when it exits for one, and removes it when it starts again; ``reelctl``
shows it with "the daemon is not running". The file goes to ``$XDG_RUNTIME_DIR/reeld/`` (memory,
so a full disk, a common reason, does not keep it from being written), else to
``$XDG_STATE_HOME/reeld/``.
"""

import contextlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from reeld.config import Paths

FILE_NAME = "start-failure.json"


@dataclass(frozen=True, slots=True)
class StartFailure:
    reason: str
    at: float

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.at))
        return f"it exited at {when} with: {self.reason}"


def _folders(paths: Paths) -> list[Path]:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    runtime_dir = [Path(runtime) / "reeld"] if runtime and os.path.isabs(runtime) else []
    return [*runtime_dir, paths.state_dir]


def record(paths: Paths, reason: str) -> None:
    """Keep ``reason`` (a message safe to show: no secret) in the first folder that takes it."""
    for folder in _folders(paths):
        try:
            _write(folder, {"reason": reason, "at": time.time()})
            return
        except OSError:
            continue


def _write(folder: Path, data: dict[str, object]) -> None:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=".start-failure-", dir=folder)
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(data, out)
        os.replace(tmp, folder / FILE_NAME)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def clear(paths: Paths) -> None:
    for folder in _folders(paths):
        with contextlib.suppress(OSError):
            (folder / FILE_NAME).unlink(missing_ok=True)


def read(paths: Paths) -> StartFailure | None:
    """The reason the daemon last failed to start, if it did and has not started since."""
    found = [failure for folder in _folders(paths) if (failure := _read(folder / FILE_NAME))]
    return max(found, key=lambda failure: failure.at, default=None)


def _read(path: Path) -> StartFailure | None:
    try:
        data = json.loads(path.read_text())
        return StartFailure(reason=str(data["reason"]), at=float(data["at"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
