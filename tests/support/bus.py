"""Private dbus-daemon instances with a throwaway home, and blocking helpers to talk to them.

The helpers use jeepney's blocking I/O (a dependency of keyring), so fixtures and synchronous tests can
wait for a bus name without an event loop. Every wait has a deadline.
"""

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jeepney import DBusAddress, MatchRule, new_method_call
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import DBusConnection, open_dbus_connection
from jeepney.wrappers import unwrap_msg

from .procs import read_line, stop_process, tail
from .tools import require_command

DBUS_NAME = "org.freedesktop.DBus"
DBUS_PATH = "/org/freedesktop/DBus"
PROPERTIES = "org.freedesktop.DBus.Properties"

# Variables of the developer's desktop that must not reach a process under test.
_SCRUBBED = {
    "DBUS_SESSION_BUS_ADDRESS",
    "DBUS_SYSTEM_BUS_ADDRESS",
    "DBUS_STARTER_ADDRESS",
    "DBUS_STARTER_BUS_TYPE",
    "GNOME_KEYRING_CONTROL",
    "XDG_CONFIG_HOME",
    "XDG_STATE_HOME",
    "XDG_DATA_HOME",
    "XDG_CACHE_HOME",
    "XDG_RUNTIME_DIR",
    "PLEXAPI_CONFIG_PATH",
    "PYTHON_KEYRING_BACKEND",
    # No window may pop up on the developer's screen (a keyring prompt, say).
    "DISPLAY",
    "WAYLAND_DISPLAY",
}

_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>{kind}</type>
  <keep_umask/>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <!-- Only this bus's own folder: nothing installed on the machine can be activated. -->
  <servicedir>{services}</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>{limits}
</busconfig>
"""


class NameWaitError(RuntimeError):
    """A bus name did not get (or lose) an owner in time, or the process meant to own it died."""


@dataclass
class PrivateBus:
    """A running ``dbus-daemon`` of ``kind`` "session" or "system" and a temp home for its clients.

    ``root`` is a short folder under /tmp (unix socket paths are limited to 107 bytes) holding the
    socket, ``services_dir`` (activation files: drop one in and call :meth:`reload_config`), the
    home and XDG folders, and ``logs_dir``. ``system_bus_address`` is what :meth:`env` hands out
    as ``DBUS_SYSTEM_BUS_ADDRESS``: a socket that does not exist, until a fixture such as
    ``network_manager`` puts a mock system bus there.
    """

    kind: str
    root: Path
    address: str
    services_dir: Path
    logs_dir: Path
    system_bus_address: str = ""
    process: subprocess.Popen[bytes] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def runtime_dir(self) -> Path:
        return self.root / "runtime"

    @property
    def config_home(self) -> Path:
        return self.home / ".config"

    @property
    def state_home(self) -> Path:
        return self.home / ".local" / "state"

    @property
    def data_home(self) -> Path:
        return self.home / ".local" / "share"

    @property
    def cache_home(self) -> Path:
        return self.home / ".cache"

    def vars(self) -> dict[str, str]:
        """Only the variables this bus sets (see :meth:`env` for a whole environment)."""
        return {
            "DBUS_SESSION_BUS_ADDRESS": self.address,
            "DBUS_SYSTEM_BUS_ADDRESS": self.system_bus_address,
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.config_home),
            "XDG_STATE_HOME": str(self.state_home),
            "XDG_DATA_HOME": str(self.data_home),
            "XDG_CACHE_HOME": str(self.cache_home),
            "XDG_RUNTIME_DIR": str(self.runtime_dir),
            "PLEXAPI_CONFIG_PATH": str(self.config_home / "plexapi" / "config.ini"),
            **self.extra_env,
        }

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """A complete environment for a subprocess on this bus: ``os.environ`` without the
        desktop's bus and XDG variables, plus :meth:`vars`, plus ``extra``."""
        env = {key: value for key, value in os.environ.items() if key not in _SCRUBBED}
        env.update(self.vars())
        env.update(extra or {})
        return env

    def connect(self, timeout: float = 2.0) -> DBusConnection:
        """A new blocking jeepney connection (close it, or use it in a ``with``)."""
        return open_dbus_connection(bus=self.address, auth_timeout=timeout)

    def reload_config(self) -> None:
        """Make the bus re-read ``services_dir`` (after adding or removing an activation file)."""
        call(self.address, DBUS_NAME, DBUS_PATH, DBUS_NAME, "ReloadConfig")

    def log_text(self) -> str:
        return tail(self.logs_dir / "dbus-daemon.log")

    def stop(self) -> None:
        """Stop the daemon and remove every file of this bus. Safe to call twice."""
        if self.process is not None:
            stop_process(self.process, timeout=5)
        shutil.rmtree(self.root, ignore_errors=True)


def start_bus(
    kind: str = "session", timeout: float = 10.0, limits: Mapping[str, int] | None = None
) -> PrivateBus:
    """Start a private ``dbus-daemon`` of ``kind`` "session" or "system"; stop it with ``.stop()``.

    ``limits``: dbus-daemon's ``<limit>`` settings, e.g. ``{"max_incoming_bytes": 1_000_000}``."""
    binary = require_command("dbus-daemon", "dbus")
    root = Path(tempfile.mkdtemp(prefix=f"reeld-{kind}-", dir="/tmp"))
    try:
        return _start_in(root, kind, binary, timeout, limits or {})
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise


def _start_in(root: Path, kind: str, binary: str, timeout: float, limits: Mapping[str, int]) -> PrivateBus:
    services_dir = root / "services"
    logs_dir = root / "logs"
    for folder in (services_dir, logs_dir, root / "home" / ".config" / "plexapi"):
        folder.mkdir(parents=True)
    for sub in (".local/state", ".local/share", ".cache"):
        (root / "home" / sub).mkdir(parents=True)
    (root / "runtime").mkdir(mode=0o700)
    config = root / "bus.conf"
    socket_path = root / "bus"
    limit_lines = "".join(f'\n  <limit name="{name}">{value}</limit>' for name, value in limits.items())
    config.write_text(
        _CONFIG.format(kind=kind, socket=socket_path, services=services_dir, limits=limit_lines)
    )
    bus = PrivateBus(
        kind=kind,
        root=root,
        address=f"unix:path={socket_path}",
        services_dir=services_dir,
        logs_dir=logs_dir,
        system_bus_address=f"unix:path={root / 'no-system-bus'}",
    )
    with open(logs_dir / "dbus-daemon.log", "wb") as log:
        # Activated services inherit the daemon's environment: give it the temp home.
        bus.process = subprocess.Popen(
            [binary, f"--config-file={config}", "--print-address=1", "--nofork"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            env=bus.env(),
        )
    try:
        bus.address = read_line(bus.process, timeout, f"dbus-daemon ({kind})")
    except BaseException:
        stop_process(bus.process)
        raise
    assert bus.process.stdout is not None
    bus.process.stdout.close()
    return bus


# -- blocking calls (jeepney) -----------------------------------------------------------------------


def call(
    address: str,
    destination: str,
    path: str,
    interface: str,
    member: str,
    signature: str = "",
    body: tuple[Any, ...] = (),
    timeout: float = 10.0,
) -> tuple[Any, ...]:
    """Call a method and return the reply's body; a D-Bus error raises ``jeepney.DBusErrorResponse``.

    Variants come back as ``(signature, value)`` pairs (jeepney's convention).
    """
    target = DBusAddress(path, bus_name=destination, interface=interface)
    with open_dbus_connection(bus=address, auth_timeout=timeout) as conn:
        reply = conn.send_and_get_reply(new_method_call(target, member, signature, body), timeout=timeout)
    result: tuple[Any, ...] = unwrap_msg(reply)
    return result


def get_property(address: str, destination: str, path: str, interface: str, name: str) -> Any:
    """The plain value of a property (the variant unwrapped)."""
    (variant,) = call(address, destination, path, PROPERTIES, "Get", "ss", (interface, name))
    return variant[1]


def name_has_owner(address: str, name: str) -> bool:
    (owned,) = call(address, DBUS_NAME, DBUS_PATH, DBUS_NAME, "NameHasOwner", "s", (name,))
    return bool(owned)


def wait_for_name(
    address: str,
    name: str,
    *,
    owned: bool = True,
    timeout: float = 10.0,
    alive: Callable[[], bool] | None = None,
    describe: Callable[[], str] | None = None,
) -> None:
    """Return once ``name`` has an owner (or, with ``owned=False``, none) on the bus at ``address``.

    Watches ``NameOwnerChanged`` after subscribing and checking the current owner, so a change in
    between is not missed. ``alive`` is polled a few times a second: when it returns False (the
    process meant to own the name died) the wait ends at once. Raises :class:`NameWaitError`, with
    ``describe()`` (say, the owner's stderr) in the message.
    """
    rule = MatchRule(type="signal", sender=DBUS_NAME, interface=DBUS_NAME, member="NameOwnerChanged")
    rule.add_arg_condition(0, name)
    deadline = time.monotonic() + timeout
    with (
        open_dbus_connection(bus=address, auth_timeout=timeout) as conn,
        conn.filter(rule, bufsize=16) as queue,
    ):
        conn.send_and_get_reply(message_bus.AddMatch(rule), timeout=timeout)
        (has_owner,) = unwrap_msg(conn.send_and_get_reply(message_bus.NameHasOwner(name), timeout=timeout))
        if bool(has_owner) == owned:
            return
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                _raise_wait_error(name, owned, f"not within {timeout:g} s", describe)
            try:
                message = conn.recv_until_filtered(queue, timeout=min(remaining, 0.2))
            except TimeoutError:
                if alive is not None and not alive():
                    _raise_wait_error(name, owned, "the process exited", describe)
                continue
            new_owner = message.body[2]
            if bool(new_owner) == owned:
                return


def _raise_wait_error(name: str, owned: bool, why: str, describe: Callable[[], str] | None) -> None:
    wanted = "get an owner" if owned else "lose its owner"
    details = f"\n{describe()}" if describe is not None else ""
    raise NameWaitError(f"{name} did not {wanted}: {why}{details}")
