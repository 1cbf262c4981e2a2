"""reeld-gtk as a person uses it, against the real daemon and the fake Jellyfin on a private bus,
under Xvfb; what it shows is read from its own widget tree (tests/gui/driver.py)."""

import contextlib
import os
import signal
import time
from collections.abc import Callable

import httpx

from reeld.fakes.jellyfin import FakeJellyfin, FakeJellyfinServer
from tests.conftest import StartReeld
from tests.gui.harness import App
from tests.support.bus import PrivateBus, call
from tests.support.keyring import KeyringDaemon
from tests.support.reeld import BUS_NAME
from tests.test_daemon_e2e import install_activation_file

USER, PASSWORD = "anna", "pw-123"
#: The issue's bound from a play elsewhere to the mark in the grid.
FLIP_WITHIN_S = 2.0


def wait_for_socket(url: str) -> None:
    """Until the daemon listens to the server's live updates (the fake counts its listeners)."""
    deadline = time.monotonic() + 20
    while not httpx.get(f"{url}/__control/stats").json().get("listeners"):
        assert time.monotonic() < deadline, "the daemon never opened the live-updates socket"
        time.sleep(0.05)


def assert_falls_silent(app: App, quiet_s: float = 1.0, within_s: float = 20.0) -> None:
    """The app makes no D-Bus call for ``quiet_s`` (once the daemon's signals have settled)."""
    deadline = time.monotonic() + within_s
    while True:
        before = app.ask("calls")["calls"]
        time.sleep(quiet_s)
        after = app.ask("calls")["calls"]
        if after == before:
            return
        assert time.monotonic() < deadline, f"the app kept calling: {after[len(before) :]}"


def wait_on_server(fake: FakeJellyfin, remote_id: str, played: bool) -> None:
    deadline = time.monotonic() + 10
    while played_on_server(fake, remote_id) != played:
        assert time.monotonic() < deadline, (
            f"the server never had the item {'played' if played else 'unplayed'}"
        )
        time.sleep(0.05)


def played_on_server(fake: FakeJellyfin, remote_id: str) -> bool:
    user = fake.users[USER]
    state = fake.user_data.get((user.id, remote_id))
    return state is not None and state.played


def test_a_jellyfin_account_added_in_the_dialog_shows_posters_and_follows_watch_changes_both_ways(
    private_bus: PrivateBus, keyring_daemon: KeyringDaemon, daemon: StartReeld, gtk_app: Callable[[], App]
) -> None:
    fake = FakeJellyfin.generate(movies=12, series=2, seasons=1, episodes=3, user=USER, password=PASSWORD)
    with contextlib.ExitStack() as server:
        url = server.enter_context(FakeJellyfinServer(fake).run_in_thread())
        daemon()
        app = gtk_app()
        app.ask("ready")

        added = app.ask("add_jellyfin", url=url, user=USER, password=PASSWORD, timeout=30)
        assert added["sources"], added

        assert app.ask("open_library", title="Movies", timeout=30)["count"] == 12
        grid = app.ask("grid", min=12, timeout=30)
        assert grid["total"] == 12
        assert sorted(c["title"] for c in grid["cards"]) == sorted(
            i.name for i in fake.items.values() if i.type == "Movie"
        )
        assert all(card["textured"] for card in grid["cards"])

        # A play on another device flips the mark, pushed by the daemon. The app answers signals
        # (posters arriving after the sync send ItemsChanged too) and falls silent once the daemon
        # is: a polling client never would.
        wait_for_socket(url)
        unwatched = next(card for card in grid["cards"] if not card["watched"])
        remote_id = unwatched["id"].split(":", 1)[1]
        assert_falls_silent(app)
        started = time.monotonic()
        httpx.post(
            f"{url}/__control/mutate",
            json={"action": "played", "user": USER, "id": remote_id, "played": True},
        )
        app.ask("card", id=unwatched["id"], watched=True, timeout=10)
        assert time.monotonic() - started < FLIP_WITHIN_S

        # Mark watched and Mark unwatched on the details page reach the server.
        other = next(card for card in grid["cards"] if not card["watched"] and card["id"] != unwatched["id"])
        other_remote = other["id"].split(":", 1)[1]
        assert app.ask("open_item", id=other["id"])["button"] == "Mark watched"
        app.ask("click_watched")
        wait_on_server(fake, other_remote, played=True)
        app.ask("back")
        app.ask("card", id=other["id"], watched=True, timeout=10)

        details = app.ask("open_item", id=unwatched["id"])
        assert details["button"] == "Mark unwatched", details
        app.ask("click_watched")
        app.ask("back")
        app.ask("card", id=unwatched["id"], watched=False, timeout=10)
        wait_on_server(fake, remote_id, played=False)

        # The server goes away: the source says so, and the grid still shows the cache.
        server.close()
    app.ask("click_source")
    offline = app.ask("source", status="offline", timeout=30)
    assert offline["message"], offline
    assert len(app.ask("grid", min=12)["cards"]) == 12


def test_quick_connect_shows_the_code_and_adds_the_account_once_approved(
    private_bus: PrivateBus, keyring_daemon: KeyringDaemon, daemon: StartReeld, gtk_app: Callable[[], App]
) -> None:
    fake = FakeJellyfin.generate(movies=3, series=0, seasons=0, episodes=0, user=USER, password=PASSWORD)
    with FakeJellyfinServer(fake).run_in_thread() as url:
        daemon()
        app = gtk_app()
        app.ask("ready")
        code = app.ask("quick_connect", url=url)["code"]
        assert code.isdigit(), code
        # Approved in another Jellyfin app, where the user is logged in.
        approve = {"action": "approve_quick_connect", "code": code, "user": USER}
        httpx.post(f"{url}/__control/mutate", json=approve).raise_for_status()
        assert app.ask("dialog_closed", timeout=30)["sources"]
        assert app.ask("open_library", title="Movies", timeout=30)["count"] == 3


def test_a_missing_daemon_is_started_by_bus_activation(
    private_bus: PrivateBus, gtk_app: Callable[[], App]
) -> None:
    install_activation_file(private_bus)
    app = gtk_app()
    assert app.ask("ready", timeout=30)["running"]
    first = owner_pid(private_bus)

    # A daemon that dies (a crash, a kill) is started again, and the window shows the cache again.
    os.kill(first, signal.SIGKILL)
    assert app.ask("restarted", timeout=30)["running"]
    second = owner_pid(private_bus)
    assert second != first
    os.kill(second, signal.SIGTERM)  # the bus's child: this test's to stop


def owner_pid(bus: PrivateBus) -> int:
    (pid,) = call(bus.address, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                  "GetConnectionUnixProcessID", "s", (BUS_NAME,))  # fmt: skip
    return int(pid)
