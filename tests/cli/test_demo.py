"""``reeld demo``: what a new user sees first, and that it leaves their own setup and machine as they were."""

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.bus import PrivateBus, name_has_owner, start_bus
from tests.support.procs import stop_process

DEMO = (sys.executable, "-m", "reeld.cli.daemon", "demo")


@pytest.fixture
def user_session() -> Iterator[PrivateBus]:
    """Stands in for the user's desktop: their session bus, home and XDG folders."""
    bus = start_bus("session")
    try:
        yield bus
    finally:
        bus.stop()


def sandbox_of(output: str) -> Path:
    found = re.search(r"its log: (/\S+)/reeld\.log", output)
    assert found, output
    return Path(found.group(1))


def processes_using(path: Path) -> list[int]:
    """Pids whose command line or environment mention ``path`` (the demo's daemon and bus would)."""
    needle = str(path).encode()
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if needle in (proc / "cmdline").read_bytes() or needle in (proc / "environ").read_bytes():
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def test_demo_once_shows_libraries_and_items_and_leaves_nothing_behind(user_session: PrivateBus) -> None:
    done = subprocess.run(
        [*DEMO, "--once"], env=user_session.env(), capture_output=True, text=True, timeout=120, check=False
    )
    output = done.stdout
    assert done.returncode == 0, f"{output}\n{done.stderr}"
    assert "Traceback" not in output + done.stderr
    # What the user sees: the first sync, the libraries, and items in them.
    assert re.search(r"First sync done [\d.]+ s after adding the account", output)
    assert re.search(r"^Videos/Movies\s+movies\s+\d+", output, re.MULTILINE)
    assert re.search(r"^Videos/TV Shows\s+shows\s+\d+", output, re.MULTILINE)
    # Library names are qualified by their source when two sources have one of that name.
    assert "TV Shows'" in output and re.search(r"^\$ reelctl ls '?[^\n]*Movies'? --limit 10$", output, re.M)
    assert "jellyfin" in output.lower()  # the fake Jellyfin server's source is on the bus too
    # A Plex account with a synced server and an offline one that says why.
    assert re.search(r"^Home\s+plex\s+connected\s+\d+", output, re.MULTILINE)
    assert re.search(
        r"^Cabin\s+plex\s+offline\s+0\s+never\s+no address answered: .*\(local\) connection refused",
        output,
        re.MULTILINE,
    )
    assert re.search(r"^show\s+\S", output, re.MULTILINE) and re.search(r"^movie\s+\S", output, re.MULTILINE)
    assert "Seasons:" in output
    assert "Chapters:" in output and "credits" in output  # an item's tracks and markers (reelctl info)
    assert "/io/github/reeld/Reeld1/sources/" in output  # the busctl tree
    assert "export DBUS_SESSION_BUS_ADDRESS" not in output  # that bus is gone when --once exits
    # The user's own bus, config and state were not touched, and nothing of the demo still runs.
    assert not name_has_owner(user_session.address, "io.github.reeld.Reeld1")
    assert not (user_session.config_home / "reeld").exists()
    assert not (user_session.state_home / "reeld").exists()
    sandbox = sandbox_of(output)
    assert not sandbox.exists()
    assert processes_using(sandbox) == []


def test_demo_runs_until_ctrl_c_then_cleans_up(user_session: PrivateBus) -> None:
    demo = subprocess.Popen(DEMO, env=user_session.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert demo.stdout is not None
        seen = []
        for raw in demo.stdout:  # ends when the demo exits; pytest-timeout bounds a hang
            line = raw.decode()
            seen.append(line)
            if "keeps running until you press Ctrl-C" in line:
                break
        output = "".join(seen)
        assert "keeps running" in output, output
        exported = re.search(r"export DBUS_SESSION_BUS_ADDRESS=(\S+)", output)
        assert exported and user_session.address not in exported.group(1)
        # The reelctl to run from another terminal, where the project's venv is not active.
        shown = re.search(r"^  (\S+) status", output, re.MULTILINE)
        assert shown and subprocess.run([shown.group(1), "--version"], check=False).returncode == 0
        sandbox = sandbox_of(output)
        assert processes_using(sandbox) != []  # its daemon and bus run while the demo waits
        demo.send_signal(signal.SIGINT)
        rest = demo.communicate(timeout=30)[0].decode()
        assert demo.returncode == 0, output + rest
        assert "Cleaning up" in rest
        assert not sandbox.exists()
        assert processes_using(sandbox) == []
    finally:
        stop_process(demo)
