"""The systemd user unit's hardening: what it refuses, and that reeld still does everything under it.

No systemd manager runs here, so ``tests.support.unit_sandbox`` applies the unit's own system-call,
socket-family, memory and namespace filters the way a user manager does, then runs the command.
"""

import ctypes.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.bus import PrivateBus
from tests.support.tools import missing, require_command
from tests.support.unit_sandbox import SyscallFilter, check_known, syscall_group, unit_settings
from tests.test_units import _fake_home, _systemd_analyze

UNIT = Path(__file__).resolve().parents[1] / "systemd" / "reeld.service"
SANDBOX = (sys.executable, "-m", "tests.support.unit_sandbox", str(UNIT), "--")

#: Groups of calls reeld never makes: systemd-analyze security checks the first ten (and @resources,
#: of which reeld keeps one call); the others are within @system-service (io_uring, the kernel
#: keyring, mlock, changing ids).
UNUSED_GROUPS = (
    "@clock", "@cpu-emulation", "@debug", "@module", "@mount", "@obsolete", "@raw-io", "@reboot",
    "@swap", "@privileged", "@aio", "@keyring", "@memlock", "@setuid",
)  # fmt: skip

# What the probe below tries, each reported as "ok" or the errno's name.
PROBE = r"""
import errno, json, mmap, os, socket, threading
from reeld.workers import BACKGROUND_NICE, start_background_thread

def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))

def background_nice():
    niceness = []
    def work():
        start_background_thread()  # what every reeld worker thread does first
        niceness.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    return niceness[0] == min(19, os.getpriority(os.PRIO_PROCESS, 0) + BACKGROUND_NICE)

status = dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\t" in line)
print(json.dumps({
    "background nice": background_nice(),
    "sched_setaffinity": attempt(lambda: os.sched_setaffinity(0, os.sched_getaffinity(0))),
    "inet6 socket": attempt(lambda: socket.socket(socket.AF_INET6).close()),
    "netlink socket": attempt(lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW).close()),
    "packet socket": attempt(lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW).close()),
    "writable executable memory": attempt(
        lambda: mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC).close()
    ),
    "no new privileges": status["NoNewPrivs"].strip(),
    "umask": status["Umask"].strip(),
}))
"""


def _probe(*prefix: str) -> dict[str, object]:
    done = subprocess.run(
        [*prefix, sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


@pytest.fixture(autouse=True)
def sandbox_tools() -> None:
    """systemd-analyze lists the system-call groups; libseccomp (a dependency of systemd) loads the
    filters."""
    require_command("systemd-analyze", "systemd")
    if not ctypes.util.find_library("seccomp"):
        missing("libseccomp not found: install the Debian package libseccomp2")


def test_unit_refuses_the_system_calls_reeld_never_makes() -> None:
    allowed = SyscallFilter.from_lines(unit_settings(UNIT)["SystemCallFilter"])

    assert allowed.allow_list
    still_allowed = {group: sorted(syscall_group(group) & allowed.calls) for group in UNUSED_GROUPS}
    assert still_allowed == {group: [] for group in UNUSED_GROUPS}
    # Of the resource settings, only lowering a thread's priority (reeld/workers.py).
    assert syscall_group("@resources") & allowed.calls == {"setpriority"}
    assert not {"process_vm_readv", "process_vm_writev", "userfaultfd"} & allowed.calls
    # What every Python program, SQLite and the event loop need.
    assert {"clone", "futex", "mmap", "epoll_wait", "fsync", "fcntl", "inotify_add_watch"} <= allowed.calls
    assert unit_settings(UNIT)["RestrictAddressFamilies"] == ["AF_UNIX AF_INET AF_INET6"]


def test_systemd_analyze_agrees_the_unit_refuses_those_groups(tmp_path: Path) -> None:
    # systemd's own reading of the unit, not unit_sandbox's: a ✓ line per refused group.
    report = _systemd_analyze(UNIT, _fake_home(tmp_path), tmp_path / "runtime", "security", "--offline=true")
    assert report.returncode == 0, report.stderr

    refused = set(
        re.findall(r"^✓ (SystemCallFilter=~@[\w-]+|RestrictAddressFamilies=~\S+)", report.stdout, re.M)
    )
    counted = {f"SystemCallFilter=~{group}" for group in UNUSED_GROUPS[:10]}
    assert counted | {"RestrictAddressFamilies=~AF_NETLINK", "RestrictAddressFamilies=~AF_PACKET"} <= refused


def test_unit_filters_refuse_what_the_unit_forbids_and_keep_what_reeld_uses() -> None:
    check_known(unit_settings(UNIT))  # every hardening setting of the unit is applied or known harmless

    confined = _probe(*SANDBOX)

    assert confined == {
        "background nice": True,
        "sched_setaffinity": "EPERM",
        "inet6 socket": "ok",
        "netlink socket": "EAFNOSUPPORT",
        "packet socket": "EAFNOSUPPORT",
        "writable executable memory": "EPERM",
        "no new privileges": "1",
        "umask": "0077",
    }
    # Guards the above: without the unit's filters the same calls succeed.
    free = _probe()
    guarded = ("sched_setaffinity", "writable executable memory", "netlink socket")
    assert [free[name] for name in guarded] == ["ok", "ok", "ok"]


@pytest.mark.timeout(180)
def test_the_whole_demo_runs_under_the_units_filters(private_bus: PrivateBus) -> None:
    # Everything the demo starts runs confined (the daemon, its bus, the keyring, the fake servers,
    # reelctl): a local folder scanned and watched, Jellyfin and Plex logins with tokens in the
    # keyring, first syncs, live updates, browsing and search. (gnome-keyring-daemon, which a
    # session runs outside reeld's unit, copes with its mlock calls refused.)
    done = subprocess.run(
        [*SANDBOX, sys.executable, "-m", "reeld.cli.daemon", "demo", "--once"],
        env=private_bus.env(),
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )

    output = done.stdout
    assert done.returncode == 0, f"{output}\n{done.stderr}"
    assert "Traceback" not in output + done.stderr
    assert len(re.findall(r"First sync done [\d.]+ s after adding the account", output)) == 3
    assert re.search(r"^Home\s+plex\s+connected\s+\d+", output, re.MULTILINE)
    assert re.search(r"^Videos/Movies\s+movies\s+\d+", output, re.MULTILINE)
    assert "/io/github/reeld/Reeld1/sources/" in output  # busctl tree
