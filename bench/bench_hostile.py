"""The daemon against hostile servers (issue 11, items 5, 7, 8 and 13): peak memory, and the time
to a true status.

Each case runs a fresh daemon (a subprocess on a private bus, with a real gnome-keyring, every
request's overall deadline set to ``--deadline`` seconds through ``REELD_HTTP_DEADLINE_S``) against
a hostile server on loopback (``reeld.fakes.hostile``), and reports:

- the daemon's peak RSS (VmHWM) over the whole case, against a fresh daemon's honest first sync
  of the same catalog measured in the same run (target <= 250 MB);
- the time from the D-Bus call (``AddJellyfinAccount``, ``AddPlexAccount``, or ``SyncAll`` then its
  ``SyncFinished``) to the answer, against the deadline (target <= deadline + 1 s);
- what the daemon said (the D-Bus error, or the source's Status and StatusMessage), and whether
  anything reached the other origin a hostile server redirected to (it must not).

Run: ``.venv/bin/python bench/bench_hostile.py [--deadline 10]``. ``--tree DIR`` runs the daemon
from another checkout (``git archive COMMIT | tar -x -C DIR``: reeld before these fixes), giving up
on an answer after ``--give-up`` seconds.
"""

import argparse
import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dbus_fast.aio import MessageBus

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from common import NAME, ROOT, call, memory_mb, sync_finished_queue  # noqa: E402

from reeld.fakes.hostile import GiB, Hostile, HostileApp, HostileServer, Hostility, gzip_bomb  # noqa: E402
from reeld.fakes.jellyfin import FakeJellyfin  # noqa: E402
from reeld.fakes.plex import CatalogSpec, ConnectionSpec, FakePlexCluster, ServerSpec  # noqa: E402
from tests.support.bus import PrivateBus, start_bus  # noqa: E402
from tests.support.keyring import start_keyring_daemon  # noqa: E402
from tests.support.reeld import start_reeld  # noqa: E402

USER, PASSWORD = "bench", "bench-password-1"
MANAGER = f"{NAME}.Manager"
RSS_TARGET_MB = 250
#: How long to wait for any answer (a daemon without the fixes may never give one).
GIVE_UP_S = 600.0


@dataclass
class Result:
    case: str
    peak_mb: float
    seconds: float
    said: str
    leaked: bool


def catalog() -> FakeJellyfin:
    return FakeJellyfin.generate(movies=2000, series=50, seasons=2, episodes=8, user=USER, password=PASSWORD)


async def source_state(client: MessageBus) -> tuple[str, str]:
    (objects,) = await call(client, ROOT, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects")
    for interfaces in objects.values():
        source = interfaces.get(f"{NAME}.Source")
        if source is not None:
            return str(source["Status"].value), str(source["StatusMessage"].value)
    return "", "no source"


async def add_jellyfin(client: MessageBus, url: str) -> str:
    try:
        async with asyncio.timeout(GIVE_UP_S):
            await call(client, ROOT, MANAGER, "AddJellyfinAccount", "sss", url, USER, PASSWORD)
    except RuntimeError as exc:
        return str(exc)
    except TimeoutError:
        return f"no answer within {GIVE_UP_S:g} s"
    return "added"


async def timed_login(address: str, url: str) -> tuple[float, str]:
    client = await MessageBus(bus_address=address).connect()
    try:
        started = time.monotonic()
        said = await add_jellyfin(client, url)
        return time.monotonic() - started, said
    finally:
        client.disconnect()


async def timed_sync(address: str, url: str, turn: Callable[[], None]) -> tuple[float, str]:
    """The account added and synced honestly; then the server turns hostile and a full sync runs."""
    client = await MessageBus(bus_address=address).connect()
    try:
        finished = await sync_finished_queue(client)
        assert await add_jellyfin(client, url) == "added"
        await asyncio.wait_for(finished.get(), 120)
        turn()
        started = time.monotonic()
        await call(client, ROOT, MANAGER, "SyncAll", "b", True)
        try:
            await asyncio.wait_for(finished.get(), GIVE_UP_S)
        except TimeoutError:
            return time.monotonic() - started, f"no SyncFinished within {GIVE_UP_S:g} s"
        seconds = time.monotonic() - started
        status, message = await source_state(client)
        return seconds, f"{status}: {message}"
    finally:
        client.disconnect()


async def timed_plex_token(address: str, token: str) -> tuple[float, str]:
    client = await MessageBus(bus_address=address).connect()
    try:
        started = time.monotonic()
        try:
            async with asyncio.timeout(GIVE_UP_S):
                await call(client, ROOT, MANAGER, "AddPlexAccount", "s", token)
            said = "added"
        except RuntimeError as exc:
            said = str(exc)
        except TimeoutError:
            said = f"no answer within {GIVE_UP_S:g} s"
        return time.monotonic() - started, said
    finally:
        client.disconnect()


@contextlib.contextmanager
def daemon_on(bus: PrivateBus, deadline: float, **env: str) -> Iterator[int]:
    reeld = start_reeld(bus, env={"REELD_HTTP_DEADLINE_S": f"{deadline:g}", **env})
    try:
        yield reeld.proc.pid
    finally:
        reeld.kill()  # a daemon without the fixes may be stuck in a read


def run_case(case: str, body: Callable[[PrivateBus], tuple[float, str, bool, float]]) -> Result:
    bus = start_bus("session")
    keyring = start_keyring_daemon(bus)
    try:
        seconds, said, leaked, peak_mb = body(bus)
    finally:
        keyring.stop()
        bus.stop()
    return Result(case, peak_mb, seconds, said, leaked)


def jellyfin_case(hostile: Hostile | None, deadline: float, *, login: bool = False, tls: bool = False) -> Any:
    def body(bus: PrivateBus) -> tuple[float, str, bool, float]:
        other = HostileServer()
        server = HostileServer.jellyfin(catalog(), [hostile] if hostile and login else [], tls=tls)
        if hostile is not None and hostile.kind is Hostility.REDIRECT:
            hostile.location = other.url
        with other.run_in_thread(), server.run_in_thread(), daemon_on(bus, deadline) as pid:
            if login or tls:
                seconds, said = asyncio.run(timed_login(bus.address, server.url))
            else:
                turn = (lambda: server.turn(hostile)) if hostile else (lambda: None)
                seconds, said = asyncio.run(timed_sync(bus.address, server.url, turn))
            peak = memory_mb(pid)["VmHWM"]
        return seconds, said, bool(other.received), peak

    return body


def plex_case(hostile: Hostile, deadline: float, *, plex_tv: bool) -> Any:
    def body(bus: PrivateBus) -> tuple[float, str, bool, float]:
        other = HostileServer()
        if plex_tv:
            hostile.location = other.url
            fake = HostileServer(hostile=[hostile])
            with (
                other.run_in_thread(),
                fake.run_in_thread(),
                daemon_on(bus, deadline, REELD_PLEX_TV_URL=fake.url) as pid,
            ):
                seconds, said = asyncio.run(timed_plex_token(bus.address, "bench-plex-token"))
                peak = memory_mb(pid)["VmHWM"]
            return seconds, said, bool(other.received), peak
        home = ServerSpec(
            "Home", catalog=CatalogSpec(movies=2000, shows=20), connections=(ConnectionSpec.live(local=True),)
        )
        cluster = FakePlexCluster([home])
        pms = cluster.server("Home")
        pms.wire.app = HostileApp(pms.wire.app, [hostile])
        with cluster.run_in_thread() as url, daemon_on(bus, deadline, REELD_PLEX_TV_URL=url) as pid:

            async def sync() -> tuple[float, str]:
                client = await MessageBus(bus_address=bus.address).connect()
                try:
                    finished = await sync_finished_queue(client)
                    started = time.monotonic()
                    await call(client, ROOT, MANAGER, "AddPlexAccount", "s", cluster.token)
                    try:
                        await asyncio.wait_for(finished.get(), GIVE_UP_S)
                    except TimeoutError:
                        return time.monotonic() - started, f"no SyncFinished within {GIVE_UP_S:g} s"
                    status, message = await source_state(client)
                    return time.monotonic() - started, f"{status}: {message}"
                finally:
                    client.disconnect()

            seconds, said = asyncio.run(sync())
            peak = memory_mb(pid)["VmHWM"]
        return seconds, said, False, peak

    return body


def main() -> None:
    global GIVE_UP_S
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--deadline", type=float, default=10.0, help="every request's deadline, s (default 10)"
    )
    parser.add_argument("--tree", help="run the daemon from this checkout (e.g. reeld before the fixes)")
    parser.add_argument("--give-up", type=float, default=GIVE_UP_S, help="s to wait for any answer")
    parser.add_argument("--cases", default="", help="only the cases whose name contains this")
    args = parser.parse_args()
    deadline = args.deadline
    GIVE_UP_S = args.give_up
    if args.tree:
        os.chdir(args.tree)  # ``python -m reeld.cli.daemon`` finds reeld in its working directory first
    gzip_bomb(GiB)  # built once, before any timing
    cases: list[tuple[str, Any]] = [
        ("honest first sync (baseline)", jellyfin_case(None, deadline)),
        (
            "sync: 2 GB body",
            jellyfin_case(Hostile(Hostility.HUGE, "/Items", exact=True, size=2 * GiB), deadline),
        ),
        ("sync: endless body", jellyfin_case(Hostile(Hostility.ENDLESS, "/Items", exact=True), deadline)),
        (
            "sync: 1 GB gzip bomb",
            jellyfin_case(Hostile(Hostility.GZIP_BOMB, "/Items", exact=True, size=GiB), deadline),
        ),
        ("sync: 1 B/s trickle", jellyfin_case(Hostile(Hostility.TRICKLE, "/Items", exact=True), deadline)),
        (
            "sync: TotalRecordCount 10^7",
            jellyfin_case(Hostile(Hostility.LYING_COUNT, "/Items", exact=True, count=10**7), deadline),
        ),
        (
            "sync: TotalRecordCount 10^12",
            jellyfin_case(Hostile(Hostility.LYING_COUNT, "/Items", exact=True, count=10**12), deadline),
        ),
        (
            "sync: TotalRecordCount 50,000 (2,000 sent)",
            jellyfin_case(Hostile(Hostility.LYING_COUNT, "/Items", exact=True, count=50_000), deadline),
        ),
        (
            "login: 1 B/s trickle",
            jellyfin_case(Hostile(Hostility.TRICKLE, "/Users/AuthenticateByName"), deadline, login=True),
        ),
        (
            "login: 307 to another origin",
            jellyfin_case(Hostile(Hostility.REDIRECT, "/Users/AuthenticateByName"), deadline, login=True),
        ),
        ("login: untrusted certificate", jellyfin_case(None, deadline, tls=True)),
        (
            "plex.tv: 307 to another origin",
            plex_case(Hostile(Hostility.REDIRECT, ""), deadline, plex_tv=True),
        ),
        ("plex.tv: 1 B/s trickle", plex_case(Hostile(Hostility.TRICKLE, ""), deadline, plex_tv=True)),
        (
            "plex.tv: 1 GB gzip bomb",
            plex_case(Hostile(Hostility.GZIP_BOMB, "", size=GiB), deadline, plex_tv=True),
        ),
        (
            "Plex server: totalSize 10^12",
            plex_case(
                Hostile(
                    Hostility.LYING_COUNT,
                    "/library/sections/",
                    count=10**12,
                    count_field="MediaContainer.totalSize",
                ),
                deadline,
                plex_tv=False,
            ),
        ),
    ]
    print(f"deadline {deadline:g} s (targets: peak RSS <= {RSS_TARGET_MB} MB, answer <= {deadline + 1:g} s)")
    print(f"{'case':44} {'peak RSS':>9} {'answer':>8}  leaked  what the daemon said")
    for case, body in cases:
        if args.cases not in case:
            continue
        result = run_case(case, body)
        print(
            f"{result.case:44} {result.peak_mb:6.0f} MB {result.seconds:6.2f} s  "
            f"{'YES' if result.leaked else 'no':6}  {result.said[:150]}",
            flush=True,
        )


if __name__ == "__main__":
    main()
