"""Clients no one here wrote (busctl, gdbus, GLib's ObjectManager client) against the daemon, and
bad input for every method: a named error, no traceback, and the daemon goes on."""

import select
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from jeepney.wrappers import DBusErrorResponse

from reeld.fakes.media_folder import make_sample_folder
from tests.conftest import StartGlibClient, StartReeld
from tests.support.bus import PrivateBus, call
from tests.support.cli import busctl

NAME = "io.github.reeld.Reeld1"
ROOT = "/io/github/reeld/Reeld1"
ERR = f"{NAME}.Error."
HUGE = "x" * 5000


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PrivateBus, str, str]]:
    """One daemon with a small synced folder for the read-only checks of this module."""
    from tests.support.bus import start_bus
    from tests.support.reeld import start_reeld

    bus = start_bus("session")
    sample = make_sample_folder(tmp_path_factory.mktemp("media"), movies=4, shows=1, seasons=1, episodes=2)
    process = start_reeld(bus)
    try:
        (account,) = call(
            bus.address, NAME, ROOT, f"{NAME}.Manager", "AddLocalFolder", "s", (str(sample.root),)
        )
        source = account.replace("/accounts/", "/sources/")
        # The first sync is done when the source's LastSync is set: busctl waits on nothing, so poll it
        # through the bus with a deadline (the sync of 7 files takes well under a second).
        wait_synced(bus.address, source)
        yield bus, account, source
    finally:
        process.stop()
        bus.stop()


def wait_synced(address: str, source: str) -> None:
    monitor = subprocess.Popen(
        [
            "busctl",
            f"--address={address}",
            "--json=short",
            "monitor",
            NAME,
            "--match",
            f"type='signal',member='SyncFinished',path='{ROOT}'",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert monitor.stdout is not None
        # The monitor subscribes a moment after it starts: a sync that ends before then sends no
        # line it sees, so LastSync is read again at least every second, not only on a signal.
        while not busctl(address, "get-property", NAME, source, f"{NAME}.Source", "LastSync")["data"]:
            ready, _, _ = select.select([monitor.stdout], [], [], 1.0)
            if ready:
                assert monitor.stdout.readline(), "busctl monitor ended"
    finally:
        monitor.kill()
        monitor.wait()


def bus_call(
    address: str, path: str, iface: str, member: str, signature: str = "", *args: str
) -> subprocess.CompletedProcess[str]:
    argv = ["busctl", f"--address={address}", "--json=short", "call", NAME, path, f"{NAME}.{iface}", member]
    if signature:
        argv += [signature, *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30)


BAD_CALLS = [
    ("Manager", "GetItem", "s", ["no_such_source:x"], "NotFound"),
    ("Manager", "GetItem", "s", [""], "InvalidArgument"),
    ("Manager", "GetItem", "s", [HUGE], "InvalidArgument"),
    ("Manager", "GetChildren", "s", ["nope"], "NotFound"),
    ("Manager", "GetStreamUrl", "s", ["nope:1"], "NotFound"),
    ("Manager", "GetArtwork", "ssu", ["nope:1", "poster", "320"], "NotFound"),
    ("Manager", "GetArtwork", "ssu", ["", "poster", "0"], "InvalidArgument"),
    ("Manager", "GetArtwork", "ssu", ["nope:1", "banner", "0"], "InvalidArgument"),
    ("Manager", "SetWatched", "sb", ["nope:1", "true"], "NotFound"),
    ("Manager", "ReportProgress", "sts", ["nope:1", "10", "playing"], "NotFound"),
    ("Manager", "ReportProgress", "sts", ["nope:1", "18446744073709551615", "playing"], "InvalidArgument"),
    ("Manager", "Search", "su", ["", "10"], "InvalidArgument"),
    ("Manager", "Search", "su", [HUGE, "10"], "InvalidArgument"),
    ("Manager", "Search", "su", ["blade", "0"], "InvalidArgument"),
    ("Manager", "ContinueWatching", "u", ["0"], "InvalidArgument"),
    ("Manager", "RecentlyAdded", "u", ["4000000000"], "InvalidArgument"),
    ("Manager", "AddLocalFolder", "s", ["/no/such/folder"], "InvalidArgument"),
    ("Manager", "AddLocalFolder", "s", ["relative/path"], "InvalidArgument"),
    ("Manager", "AddLocalFolder", "s", ["/etc/hostname"], "InvalidArgument"),
    ("Manager", "AddLocalFolder", "s", [""], "InvalidArgument"),
    ("Manager", "AddLocalFolder", "s", ["/"], "InvalidArgument"),
    ("Manager", "AddLocalFolder", "s", ["/proc/self"], "InvalidArgument"),
    ("Manager", "AddJellyfinAccount", "sss", ["ftp://host", "anna", "pw"], "InvalidArgument"),
    ("Manager", "AddJellyfinAccount", "sss", ["http://127.0.0.1:9", "", "pw"], "InvalidArgument"),
    ("Manager", "AddJellyfinAccount", "sss", ["http://127.0.0.1:9", "anna", "pw"], "Offline"),
    ("Manager", "BeginJellyfinQuickConnect", "s", ["not a url"], "InvalidArgument"),
    ("Manager", "BeginJellyfinQuickConnect", "s", ["http://[::1"], "InvalidArgument"),
    ("Manager", "AddJellyfinAccount", "sss", ["http://127.0.0.1:80960", "anna", "pw"], "InvalidArgument"),
    ("Manager", "AddJellyfinAccount", "sss", ["http://127.0.0.1:abc", "anna", "pw"], "InvalidArgument"),
    ("Manager", "AddPlexAccount", "s", [""], "InvalidArgument"),
    ("Manager", "CancelLogin", "s", ["no-such-login"], "NotFound"),
    # Arguments of other types than the method takes (dbus-fast alone says UnknownMethod).
    ("Manager", "GetItem", "u", ["7"], "InvalidArgument"),
    ("Manager", "Search", "s", ["blade"], "InvalidArgument"),
    ("Manager", "SyncAll", "", [], "InvalidArgument"),
]


def typed(signature: str, args: list[str]) -> tuple[object, ...]:
    convert = {"s": str, "u": int, "t": int, "b": lambda text: text == "true"}
    return tuple(convert[code](arg) for code, arg in zip(signature, args, strict=True))


@pytest.mark.parametrize(("iface", "member", "signature", "args", "error"), BAD_CALLS)
def test_bad_input_gets_a_named_error(
    running: tuple[PrivateBus, str, str], iface: str, member: str, signature: str, args: list[str], error: str
) -> None:
    bus, _, _ = running
    with pytest.raises(DBusErrorResponse) as raised:
        call(bus.address, NAME, ROOT, f"{NAME}.{iface}", member, signature, typed(signature, args))
    assert raised.value.name == ERR + error
    message = str(raised.value.data[0]) if raised.value.data else ""
    assert message and "Traceback" not in message and "/reeld/" not in message and len(message) < 500
    # busctl, a client no one here wrote, sees the failure too.
    result = bus_call(bus.address, ROOT, iface, member, signature, *args)
    assert result.returncode != 0 and "Traceback" not in result.stderr


def test_bad_input_on_objects_and_the_daemon_still_answers(running: tuple[PrivateBus, str, str]) -> None:
    bus, account, source = running
    result = bus_call(bus.address, source.rsplit("/", 1)[0] + "/nope", "Source", "Sync", "b", "true")
    assert result.returncode != 0  # no such object
    nowhere = source.rsplit("/", 1)[0] + "/nope"
    with pytest.raises(DBusErrorResponse) as raised:
        call(bus.address, NAME, nowhere, f"{NAME}.Source", "Sync", "b", (True,))
    assert raised.value.name == "org.freedesktop.DBus.Error.UnknownObject"
    with pytest.raises(DBusErrorResponse) as raised:
        call(bus.address, NAME, source, f"{NAME}.Source", "Sync", "s", ("full",))
    assert raised.value.name == ERR + "InvalidArgument"
    assert raised.value.data == ("Sync takes (b), not (s)",)
    assert busctl(bus.address, "get-property", NAME, ROOT, f"{NAME}.Manager", "Version")["data"] == "0.1.0"
    # It answers, with a status of the contract (a reconnect under way may pass first).
    assert busctl(bus.address, "get-property", NAME, source, f"{NAME}.Source", "Status")["data"] in (
        "connecting",
        "connected",
        "offline",
    )
    assert busctl(bus.address, "get-property", NAME, account, f"{NAME}.Account", "Kind")["data"] == "local"


def test_every_property_of_the_contract_is_readable_with_its_type(
    running: tuple[PrivateBus, str, str],
) -> None:
    bus, account, source = running
    expected = {
        (ROOT, "Manager"): {"Version": "s", "Online": "b", "Syncing": "b"},
        (account, "Account"): {
            "Kind": "s",
            "DisplayName": "s",
            "Identity": "s",
            "AttentionNeeded": "b",
            "StatusMessage": "s",
        },
        (source, "Source"): {
            "Account": "o",
            "Kind": "s",
            "Name": "s",
            "Status": "s",
            "StatusMessage": "s",
            "Address": "s",
            "ConnectionKind": "s",
            "Syncing": "b",
            "Progress": "d",
            "LastSync": "t",
            "LastFullSync": "t",
            "ItemCount": "u",
        },
    }
    for (path, iface), props in expected.items():
        for prop, signature in props.items():
            assert (
                busctl(bus.address, "get-property", NAME, path, f"{NAME}.{iface}", prop)["type"] == signature
            )


def test_glib_object_manager_client_sees_sources_come_and_go(
    private_bus: PrivateBus, daemon: StartReeld, glib_om_client: StartGlibClient, tmp_path: Path
) -> None:
    sample = make_sample_folder(tmp_path / "media", movies=2, shows=1, seasons=1, episodes=1)
    daemon()
    client = glib_om_client()
    client.wait_for("initial")
    (account,) = call(
        private_bus.address, NAME, ROOT, f"{NAME}.Manager", "AddLocalFolder", "s", (str(sample.root),)
    )
    source = account.replace("/accounts/", "/sources/")
    client.wait_for(lambda e: e.get("event") == "added" and e.get("path") == source)
    client.wait_for(
        lambda e: e.get("event") == "added" and str(e.get("path", "")).startswith(source + "/libraries/")
    )
    call(private_bus.address, NAME, account, f"{NAME}.Account", "Remove")
    client.wait_for(lambda e: e.get("event") == "removed" and e.get("path") == source)
    client.wait_for(lambda e: e.get("event") == "removed" and e.get("path") == account)
