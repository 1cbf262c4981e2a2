"""python-dbusmock's NetworkManager template on a private *system* bus.

The mock serves ``org.freedesktop.NetworkManager`` with a ``Connectivity`` property (4, full, at
start) and emits ``org.freedesktop.DBus.Properties.PropertiesChanged`` when a test changes it with
:meth:`NetworkManagerMock.set_connectivity`. Its introspection data lists no signals: clients must
not depend on introspecting it.
"""

import enum
import subprocess
import sys
from dataclasses import dataclass

from .bus import PrivateBus, call, get_property, start_bus, wait_for_name
from .procs import stop_process, tail

NM_NAME = "org.freedesktop.NetworkManager"
NM_PATH = "/org/freedesktop/NetworkManager"
MOCK_PATH = "/org/freedesktop"
MOCK_INTERFACE = "org.freedesktop.DBus.Mock"


class Connectivity(enum.IntEnum):
    """NMConnectivityState."""

    UNKNOWN = 0
    NONE = 1
    PORTAL = 2
    LIMITED = 3
    FULL = 4


@dataclass
class NetworkManagerMock:
    system_bus: PrivateBus
    process: subprocess.Popen[bytes]

    @property
    def address(self) -> str:
        """The system bus address (what ``DBUS_SYSTEM_BUS_ADDRESS`` must say)."""
        return self.system_bus.address

    def set_connectivity(self, state: Connectivity | int) -> None:
        """Change ``Connectivity``; the mock emits PropertiesChanged before this returns."""
        call(self.address, NM_NAME, MOCK_PATH, MOCK_INTERFACE, "SetConnectivity", "u", (int(state),))

    def connectivity(self) -> Connectivity:
        return Connectivity(get_property(self.address, NM_NAME, NM_PATH, NM_NAME, "Connectivity"))

    def log_text(self) -> str:
        return tail(self.system_bus.logs_dir / "networkmanager-mock.log")

    def stop(self) -> None:
        stop_process(self.process, timeout=5)
        self.system_bus.stop()


def start_network_manager(timeout: float = 20.0) -> NetworkManagerMock:
    """A new private system bus with the NetworkManager mock owning its name."""
    system_bus = start_bus("system")
    try:
        log_path = system_bus.logs_dir / "networkmanager-mock.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "dbusmock", "--system", "--template", "networkmanager"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=system_bus.env({"DBUS_SYSTEM_BUS_ADDRESS": system_bus.address}),
            )
        mock = NetworkManagerMock(system_bus=system_bus, process=process)
    except BaseException:
        system_bus.stop()
        raise
    try:
        wait_for_name(
            system_bus.address,
            NM_NAME,
            timeout=timeout,
            alive=lambda: process.poll() is None,
            describe=lambda: f"dbusmock log:\n{mock.log_text()}",
        )
    except BaseException:
        mock.stop()
        raise
    return mock
