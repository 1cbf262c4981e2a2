"""Why the daemon could not start, kept where ``reelctl`` finds it.

A daemon started by D-Bus activation writes its log to the bus's stderr or the journal; the person
who ran ``reelctl`` only hears from the bus that it did not start. So the daemon writes its reason
to ``$XDG_STATE_HOME/reeld/start-failure.json`` when it exits for one, and removes the file when it
starts again; ``reelctl`` shows it with "the daemon is not running".
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
        return f"its last start, at {when}, failed: {self.reason}"


def _file(paths: Paths) -> Path:
    return paths.state_dir / FILE_NAME


def record(paths: Paths, reason: str) -> None:
    """Keep ``reason`` (a message safe to show: no secret). Best effort: the disk may be the problem."""
    with contextlib.suppress(OSError):
        paths.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=".start-failure-", dir=paths.state_dir)
        try:
            with os.fdopen(fd, "w") as out:
                json.dump({"reason": reason, "at": time.time()}, out)
            os.replace(tmp, _file(paths))
        except OSError:
            Path(tmp).unlink(missing_ok=True)


def clear(paths: Paths) -> None:
    with contextlib.suppress(OSError):
        _file(paths).unlink(missing_ok=True)


def read(paths: Paths) -> StartFailure | None:
    """The reason the daemon last failed to start, if it did and has not started since."""
    try:
        data = json.loads(_file(paths).read_text())
        return StartFailure(reason=str(data["reason"]), at=float(data["at"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
