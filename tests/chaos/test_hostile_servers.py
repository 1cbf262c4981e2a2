"""Hostile servers against the real daemon, over real HTTP on loopback: no login reaches another
origin, no answer fills the daemon's memory or hangs it, no lie becomes a plan, and every failure
shows as a true status, in words, within the deadline.

The daemon runs as a subprocess (its peak RSS is the kernel's VmHWM) with every request's overall
deadline set to ``DEADLINE_S`` (``REELD_HTTP_DEADLINE_S``); the hostile servers run in this process.
"""

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reeld.fakes.hostile import GiB, Hostile, HostileApp, HostileServer, Hostility
from reeld.fakes.jellyfin import FakeJellyfin
from reeld.fakes.plex import CatalogSpec, ConnectionSpec, FakePlexCluster, ServerSpec
from tests.conftest import StartReeld
from tests.support.bus import PrivateBus
from tests.support.cli import reelctl_process as reelctl
from tests.support.keyring import KeyringDaemon
from tests.support.reeld import ReeldProcess

USER, PASSWORD = "anna", "s3cret-pw-123"
DEADLINE_S = 3.0
ENV = {"REELD_HTTP_DEADLINE_S": f"{DEADLINE_S:g}"}
#: The daemon's peak resident memory against any hostile server (the issue's target).
RSS_LIMIT_MB = 250


def peak_rss_mb(daemon: ReeldProcess) -> float:
    """The daemon's peak resident set so far (VmHWM), in MB."""
    for line in Path(f"/proc/{daemon.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc/PID/status")


def movies() -> FakeJellyfin:
    return FakeJellyfin.generate(movies=25, series=0, seasons=0, episodes=0, user=USER, password=PASSWORD)


@pytest.fixture
def other_origin() -> Iterator[HostileServer]:
    """Where hostile servers redirect to: it records whatever reaches it."""
    server = HostileServer()
    with server.run_in_thread():
        yield server


def add_jellyfin(bus: PrivateBus, url: str) -> subprocess.CompletedProcess[str]:
    return reelctl(bus, "add-jellyfin", url, "--user", USER, "--password-stdin", stdin=PASSWORD + "\n")


def only_source(bus: PrivateBus) -> dict[str, Any]:
    (source,) = json.loads(reelctl(bus, "--json", "sources").stdout)
    assert isinstance(source, dict)
    return source


def timed(bus: PrivateBus, *args: str, stdin: str = "") -> tuple[subprocess.CompletedProcess[str], float]:
    """``reelctl ARGS`` and how long it took, less what reelctl itself takes to start and ask."""
    started = time.monotonic()
    reelctl(bus, "--json", "sources")
    overhead = time.monotonic() - started
    started = time.monotonic()
    result = reelctl(bus, *args, stdin=stdin)
    return result, time.monotonic() - started - overhead


def status_settles(bus: PrivateBus, within_s: float = 20.0) -> dict[str, Any]:
    """The only source once it is done connecting (a failure guard, not a pause)."""
    deadline = time.monotonic() + within_s
    while True:
        source = only_source(bus)
        if source["Status"] != "connecting" or time.monotonic() > deadline:
            return source
        time.sleep(0.1)


# -- credentials never cross origins -------------------------------------------------------------


@pytest.mark.parametrize("status", [307, 308])
def test_a_password_is_never_posted_to_another_origin(
    private_bus: PrivateBus,
    keyring_daemon: KeyringDaemon,
    daemon: StartReeld,
    other_origin: HostileServer,
    status: int,
) -> None:
    """A 307/308 keeps the method and body: followed, it would post the password to the other server."""
    away = Hostile(Hostility.REDIRECT, "/Users/AuthenticateByName", location=other_origin.url, status=status)
    server = HostileServer.jellyfin(movies(), [away])
    reeld = daemon(env=ENV)
    with server.run_in_thread():
        added = add_jellyfin(private_bus, server.url)
    assert added.returncode == 1 and "Traceback" not in added.stderr
    assert (
        f"redirected reeld to {other_origin.url}/Users/AuthenticateByName, another address; "
        "reeld does not take your login there" in added.stderr
    ), added.stderr
    assert other_origin.received == []
    assert any(request.carries(PASSWORD) for request in server.received)  # the server asked for was sent it
    assert PASSWORD not in reeld.stderr_text()
    assert json.loads(reelctl(private_bus, "--json", "sources").stdout) == []


def test_a_plex_tv_token_is_never_sent_to_another_origin(
    private_bus: PrivateBus,
    keyring_daemon: KeyringDaemon,
    daemon: StartReeld,
    other_origin: HostileServer,
) -> None:
    """plexapi's requests keep X-Plex-Token across a redirect to another host (they drop only
    Authorization): plex.tv's answers may not redirect a request there."""
    token = "plex-account-token-42"
    plex_tv = HostileServer(hostile=[Hostile(Hostility.REDIRECT, "", location=other_origin.url)])
    with plex_tv.run_in_thread():
        daemon(env={**ENV, "REELD_PLEX_TV_URL": plex_tv.url})
        added = reelctl(private_bus, "add-plex-token", stdin=token + "\n")
    assert added.returncode == 1 and "Traceback" not in added.stderr
    assert f"plex.tv redirected reeld to {other_origin.url}/api/v2/user, another address" in added.stderr
    assert other_origin.received == []
    assert plex_tv.received and all(r.headers.get("x-plex-token") == token for r in plex_tv.received)


# -- bounds: size, time, counts ------------------------------------------------------------------


@pytest.mark.parametrize(
    "hostile",
    [
        Hostile(Hostility.HUGE, "/Items", exact=True, size=2 * GiB),
        Hostile(Hostility.ENDLESS, "/Items", exact=True),
        Hostile(Hostility.GZIP_BOMB, "/Items", exact=True, size=GiB),
    ],
    ids=lambda h: h.kind.value,
)
def test_an_answer_too_large_fails_the_sync_and_memory_stays_bounded(
    private_bus: PrivateBus, keyring_daemon: KeyringDaemon, daemon: StartReeld, hostile: Hostile
) -> None:
    server = HostileServer.jellyfin(movies(), [hostile])
    reeld = daemon(env=ENV)
    with server.run_in_thread():
        assert add_jellyfin(private_bus, server.url).returncode == 0
        synced, seconds = timed(private_bus, "sync")
        source = only_source(private_bus)
    assert synced.returncode == 1 and "Traceback" not in synced.stderr
    assert seconds <= DEADLINE_S + 1
    host = server.url.removeprefix("http://")
    assert source["Status"] == "connected"  # the server is there; this answer was refused
    assert (
        f"The last sync failed: Movies: the server at {host} sent too much (more than 32 MB"
        in (source["StatusMessage"])
    )
    assert peak_rss_mb(reeld) <= RSS_LIMIT_MB
    assert reeld.running()


def test_a_login_trickling_a_byte_a_second_fails_within_the_deadline(
    private_bus: PrivateBus, keyring_daemon: KeyringDaemon, daemon: StartReeld
) -> None:
    """httpx's read timeout is per read: each byte resets it, and the login waited for ever."""
    server = HostileServer.jellyfin(movies(), [Hostile(Hostility.TRICKLE, "/Users/AuthenticateByName")])
    daemon(env=ENV)
    with server.run_in_thread():
        added, seconds = timed(
            private_bus, "add-jellyfin", server.url, "--user", USER, "--password-stdin", stdin=PASSWORD
        )
    assert added.returncode == 1 and "Traceback" not in added.stderr
    assert f"did not finish its answer within {DEADLINE_S:g} s" in added.stderr
    assert seconds <= DEADLINE_S + 1


def test_a_sync_trickling_a_byte_a_second_ends_offline_within_the_deadline(
    private_bus: PrivateBus, keyring_daemon: KeyringDaemon, daemon: StartReeld
) -> None:
    server = HostileServer.jellyfin(movies())
    daemon(env=ENV)
    with server.run_in_thread():
        assert add_jellyfin(private_bus, server.url).returncode == 0
        server.turn(Hostile(Hostility.TRICKLE, "/Items", exact=True))
        synced, seconds = timed(private_bus, "sync", "--full")
        source = only_source(private_bus)
    assert synced.returncode == 1 and seconds <= DEADLINE_S + 1
    assert source["Status"] == "offline"
    assert f"did not finish its answer within {DEADLINE_S:g} s" in source["StatusMessage"]


@pytest.mark.parametrize(
    ("count", "said"),
    [
        (5000, "claims 5,000 items in Movies but sent 25"),
        (10**7, "claims 10,000,000 items in Movies, more than any library holds"),
        (10**12, "claims 1,000,000,000,000 items in Movies, more than any library holds"),
    ],
)
def test_a_count_the_pages_do_not_bear_out_is_an_error_not_a_plan(
    private_bus: PrivateBus, keyring_daemon: KeyringDaemon, daemon: StartReeld, count: int, said: str
) -> None:
    server = HostileServer.jellyfin(
        movies(), [Hostile(Hostility.LYING_COUNT, "/Items", exact=True, count=count)]
    )
    daemon(env=ENV)
    with server.run_in_thread():
        assert add_jellyfin(private_bus, server.url).returncode == 0
        synced, seconds = timed(private_bus, "sync", "--full")
        source = only_source(private_bus)
    assert synced.returncode == 1 and seconds <= DEADLINE_S + 1
    assert said in source["StatusMessage"] and source["Status"] == "connected"
    listings = [r for r in server.received if r.path == "/Items" and "Limit=0" not in r.query]
    assert len(listings) <= 20  # not a plan of millions of pages


def test_a_plex_count_the_pages_do_not_bear_out_is_an_error_not_a_plan(
    private_bus: PrivateBus, keyring_daemon: KeyringDaemon, daemon: StartReeld
) -> None:
    """A Plex server's ``totalSize`` planned every page of the listing up front: 10^12 of them."""
    home = ServerSpec(
        "Home", catalog=CatalogSpec(movies=20, shows=0), connections=(ConnectionSpec.live(local=True),)
    )
    cluster = FakePlexCluster([home])
    pms = cluster.server("Home")
    lie = Hostile(
        Hostility.LYING_COUNT, "/library/sections/", count=10**12, count_field="MediaContainer.totalSize"
    )
    pms.wire.app = HostileApp(pms.wire.app, [lie])
    with cluster.run_in_thread() as url:
        daemon(env={**ENV, "REELD_PLEX_TV_URL": url})
        assert reelctl(private_bus, "add-plex-token", stdin=cluster.token + "\n").returncode == 0
        synced, seconds = timed(private_bus, "sync", "--full")
        source = only_source(private_bus)
    assert synced.returncode == 1 and seconds <= DEADLINE_S + 1
    assert (
        "Home claims 1,000,000,000,000 items in Movies, more than any library holds"
        in source["StatusMessage"]
    )
    assert source["Status"] == "connected"


# -- true words for permanent problems -------------------------------------------------------------


def test_an_untrusted_certificate_is_an_error_naming_the_problem(
    private_bus: PrivateBus, keyring_daemon: KeyringDaemon, daemon: StartReeld
) -> None:
    """A certificate reeld does not trust stays untrusted until someone acts: ``error``, not the
    ``offline`` that promises it will pass."""
    server = HostileServer.jellyfin(movies(), tls=True)
    assert server.tls is not None
    with server.run_in_thread():
        trusting = daemon(env={**ENV, "SSL_CERT_FILE": str(server.tls.ca)})
        assert add_jellyfin(private_bus, server.url).returncode == 0
        assert reelctl(private_bus, "sync").returncode == 0
        trusting.stop()
        daemon(env=ENV)  # the same server, its certificate no longer trusted (a new CA, a new machine)
        source = status_settles(private_bus)
    assert source["Status"] == "error", source
    host = server.url.removeprefix("https://")
    assert source["StatusMessage"].startswith(
        f"{host} has a TLS certificate that is not trusted (unable to get local issuer certificate)"
    ), source


def test_a_sync_redirected_elsewhere_says_so_and_where(
    private_bus: PrivateBus,
    keyring_daemon: KeyringDaemon,
    daemon: StartReeld,
    other_origin: HostileServer,
) -> None:
    """A proxy in front of the server started sending requests elsewhere: the sync says it was
    redirected and where (it said "has no /UserViews (is it a Jellyfin server?)")."""
    server = HostileServer.jellyfin(movies())
    daemon(env=ENV)
    with server.run_in_thread():
        assert add_jellyfin(private_bus, server.url).returncode == 0
        server.turn(Hostile(Hostility.REDIRECT, "/UserViews", location=other_origin.url, status=302))
        synced = reelctl(private_bus, "sync", "--full")
        source = only_source(private_bus)
    assert synced.returncode == 1
    assert f"redirected reeld to {other_origin.url}/UserViews, another address" in source["StatusMessage"]
    assert other_origin.received == []
