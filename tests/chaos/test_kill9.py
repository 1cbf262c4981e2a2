"""kill -9 at the worst moments: during a first sync, while watch changes wait for a server that is
away, and while they are being sent. A real daemon process against the fake Jellyfin and Plex
servers.

After every kill the cache passes SQLite's integrity checks, every change the daemon had answered
for is still queued, and once the daemon runs again the sync completes with the server's counts
and the server gets every change. Kill points are chosen by awaiting what the server answered or
what the daemon signalled, never by sleeping.
"""

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from dbus_fast import Message, Variant

from reeld.fakes.jellyfin import FakeJellyfin, FakeJellyfinServer
from reeld.fakes.jellyfin.catalog import TICKS_PER_SECOND
from reeld.fakes.plex import CatalogSpec, ConnectionSpec, FakePlexCluster, ServerSpec
from reeld.fakes.plex.wire import RequestRecord
from tests.conftest import StartReeld
from tests.support.bus import PrivateBus
from tests.support.keyring import KeyringDaemon
from tests.support.reeld import ReeldProcess
from tests.test_daemon_e2e import IFACE, ROOT, Client, libraries

USER, PASSWORD = "anna", "pw-kill9"
# A page of movies (the daemon asks for up to 1000 at a time), one of shows, one of music.
MOVIES, SERIES, SEASONS, EPISODES = 400, 6, 2, 4

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def fake() -> FakeJellyfin:
    return FakeJellyfin.generate(
        movies=MOVIES, series=SERIES, seasons=SEASONS, episodes=EPISODES, user=USER, password=PASSWORD
    )


@pytest.fixture
async def server(fake: FakeJellyfin) -> AsyncIterator[FakeJellyfinServer]:
    async with FakeJellyfinServer(fake) as serving:
        yield serving


@pytest.fixture
async def client(private_bus: PrivateBus) -> AsyncIterator[Client]:
    client = await Client.connect(private_bus.address)
    yield client
    client.bus.disconnect()


# -- checks --------------------------------------------------------------------------------------------


def cache_path(bus: PrivateBus) -> Path:
    return bus.state_home / "reeld" / "cache.db"


def check_cache(bus: PrivateBus) -> tuple[int, list[tuple[str, str, int, str]]]:
    """Assert the cache a killed daemon left is consistent; return how many items it holds and its
    queued watch changes as (item, action, position_ms, state), in order."""
    with contextlib.closing(sqlite3.connect(cache_path(bus))) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        conn.execute("INSERT INTO items_fts(items_fts) VALUES ('integrity-check')")  # raises if not
        (count,) = conn.execute("SELECT count(*) FROM items").fetchone()
        rows = conn.execute(
            "SELECT remote_id, action, position_ms, state FROM pending_actions ORDER BY id"
        ).fetchall()
    return int(count), [(str(a), str(b), int(c), str(d)) for a, b, c, d in rows]


def queued(bus: PrivateBus) -> list[tuple[str, str, int, str]]:
    return check_cache(bus)[1]


def watched_on_server(fake: FakeJellyfin, item_id: str) -> bool:
    user = fake.users[USER]
    state = fake.user_data.get((user.id, item_id))
    return bool(state and state.played)


def play_count(fake: FakeJellyfin, item_id: str) -> int:
    state = fake.user_data.get((fake.users[USER].id, item_id))
    return state.play_count if state else 0


def position_on_server_ms(fake: FakeJellyfin, item_id: str) -> int:
    state = fake.user_data.get((fake.users[USER].id, item_id))
    return state.position_ticks * 1000 // TICKS_PER_SECOND if state else 0


# -- steps -------------------------------------------------------------------------------------------------


class Daemons:
    """The daemons a test starts in turn, started without blocking the loop the fake answers on."""

    def __init__(self, daemon: StartReeld, env: dict[str, str] | None = None) -> None:
        self._daemon = daemon
        self._env = env
        self.started: list[ReeldProcess] = []

    @property
    def current(self) -> ReeldProcess:
        return self.started[-1]

    async def start(self) -> ReeldProcess:
        process: ReeldProcess = await asyncio.to_thread(self._daemon, env=self._env)
        self.started.append(process)
        return process

    def kill(self) -> None:
        assert self.current.kill() == -9

    async def kill_when(self, moment: Awaitable[Any], action: Callable[[], Awaitable[Any]]) -> None:
        """Do ``action``; as soon as ``moment`` has come, kill -9 the daemon running then."""
        waiting = asyncio.ensure_future(moment)
        await asyncio.sleep(0)  # the wait is registered before anything can happen
        try:
            await action()
            await waiting
        finally:
            waiting.cancel()
        self.kill()


def items_page(server: FakeJellyfinServer, start: int, view: str = "Movies") -> Awaitable[RequestRecord]:
    """The moment the server has answered the page of ``view``'s listing that starts at ``start``."""
    (view_id,) = [v["Id"] for v in server.fake.views if v["Name"] == view]
    return server.wire.answered(
        lambda r: (
            r.path == "/Items"
            and r.query.get("ParentId") == view_id
            and r.query.get("StartIndex") == str(start)
            and r.status == 200
        ),
        within_s=60,
    )


def nth(count: int, matches: Callable[[RequestRecord], bool]) -> Callable[[RequestRecord], bool]:
    """Matches the ``count``-th answered request that ``matches``."""
    seen = 0

    def counting(record: RequestRecord) -> bool:
        nonlocal seen
        seen += matches(record) and record.status is not None
        return seen == count

    return counting


def changed(source: str, name: str, value: Any) -> Callable[[Message], bool]:
    def matches(message: Message) -> bool:
        if message.member != "PropertiesChanged" or message.path != source:
            return False
        got = message.body[1].get(name)
        return isinstance(got, Variant) and got.value == value

    return matches


async def finished_ok(client: Client, source: str) -> None:
    done = await client.sync_finished(source)
    assert done.body[1], done.body[2]


# -- first sync ----------------------------------------------------------------------------------------


async def test_kill_9_during_a_first_sync_leaves_a_sound_cache_and_the_sync_completes(
    private_bus: PrivateBus,
    keyring_daemon: KeyringDaemon,
    daemon: StartReeld,
    client: Client,
    server: FakeJellyfinServer,
    fake: FakeJellyfin,
) -> None:
    daemons = Daemons(daemon)
    await daemons.start()
    accounts: list[str] = []

    async def add_account() -> None:
        accounts.extend(await client.manager("AddJellyfinAccount", "sss", server.url, USER, PASSWORD))

    # 1. The first page of movies just arrived, to be written in one go: all of it or none.
    await daemons.kill_when(items_page(server, 0), add_account)
    assert check_cache(private_bus) in ((0, []), (MOVIES, []))
    source = accounts[0].replace("/accounts/", "/sources/")  # a Jellyfin login is one source
    # 2. Started again, it syncs at once: killed as soon as the movies are written.
    client.signals.clear()
    written = client.wait_signal(
        lambda m: m.member == "ItemsChanged" and (m.path or "").startswith(f"{source}/libraries/"), timeout=60
    )
    await daemons.kill_when(written, daemons.start)
    assert check_cache(private_bus)[0] >= MOVIES
    # 3. Killed as the shows arrive, the movies done.
    await daemons.kill_when(items_page(server, 0, "Shows"), daemons.start)
    assert check_cache(private_bus)[0] >= MOVIES

    # Then left alone, it completes, and what it shows is what the server has.
    client.signals.clear()
    await daemons.start()
    await finished_ok(client, source)
    assert check_cache(private_bus)[0] == len(fake.items)
    libs = await libraries(client, source)
    assert await client.prop(libs["Movies"], "Library", "ItemCount") == MOVIES
    assert await client.prop(libs["Shows"], "Library", "ItemCount") == SERIES
    assert await client.prop(source, "Source", "ItemCount") == len(fake.items)
    daemons.current.stop()


async def test_kill_9_during_a_plex_first_sync_leaves_a_sound_cache_and_the_sync_completes(
    private_bus: PrivateBus, keyring_daemon: KeyringDaemon, daemon: StartReeld, client: Client
) -> None:
    spec = ServerSpec("Home", catalog=CatalogSpec(movies=300, shows=4), connections=(ConnectionSpec.live(),))
    async with FakePlexCluster([spec]) as cluster:
        home = cluster.server("Home")
        daemons = Daemons(daemon, env={"REELD_PLEX_TV_URL": cluster.url})
        await daemons.start()
        listing = home.wire.answered(
            lambda r: r.path.startswith("/library/sections/") and r.path.endswith("/all") and r.status == 200,
            within_s=60,
        )

        async def add_account() -> None:
            await client.manager("AddPlexAccount", "s", cluster.token)

        # 1. The first listing just arrived.
        await daemons.kill_when(listing, add_account)
        check_cache(private_bus)
        # 2. Started again: killed as soon as a library's items are written.
        client.signals.clear()
        written = client.wait_signal(lambda m: m.member == "ItemsChanged", timeout=60)
        await daemons.kill_when(written, daemons.start)
        assert check_cache(private_bus)[0] > 0

        # Then left alone, it completes with the server's counts.
        client.signals.clear()
        await daemons.start()
        (objects,) = await client.call(ROOT, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects")
        (source,) = [path for path, props in objects.items() if f"{IFACE}.Source" in props]
        await finished_ok(client, source)
        libs = await libraries(client, source)
        assert await client.prop(libs["Movies"], "Library", "ItemCount") == 300
        # Every item is kept, music's artists, albums and tracks too.
        kept = list(home.catalog.items.values())
        assert await client.prop(source, "Source", "ItemCount") == len(kept)
        assert check_cache(private_bus)[0] == len(kept)
        daemons.current.stop()


# -- watch changes queued while the server is away -----------------------------------------------------


async def test_kill_9_never_loses_a_watch_change_queued_offline_or_being_sent(
    private_bus: PrivateBus,
    keyring_daemon: KeyringDaemon,
    daemon: StartReeld,
    client: Client,
) -> None:
    fake = FakeJellyfin.generate(movies=40, series=1, seasons=1, episodes=2, user=USER, password=PASSWORD)
    daemons = Daemons(daemon)
    first_server = FakeJellyfinServer(fake)
    port, url = first_server.port, first_server.url
    async with first_server:
        await daemons.start()
        (account,) = await client.manager("AddJellyfinAccount", "sss", url, USER, PASSWORD)
        source = account.replace("/accounts/", "/sources/")  # a Jellyfin login is one source
        await finished_ok(client, source)
    # The server is away (connection refused): the source goes offline once it is asked to sync.
    client.signals.clear()
    await client.call(source, f"{IFACE}.Source", "Sync", "b", False)
    done = await client.sync_finished(source)
    assert not done.body[1]
    assert await client.prop(source, "Source", "Status") == "offline"

    prefix = source.rsplit("/", 1)[1] + ":"
    movies = [item for item in fake.items.values() if item.type == "Movie"]
    unwatched = [m.id for m in movies if not watched_on_server(fake, m.id)][:6]
    watched = [m.id for m in movies if watched_on_server(fake, m.id)][:1]
    expected: list[tuple[str, str, int, str]] = []
    plays_before = {remote_id: play_count(fake, remote_id) for remote_id in unwatched}

    async def set_watched(remote_id: str, value: bool) -> None:
        await client.manager("SetWatched", "sb", prefix + remote_id, value)
        expected.append((remote_id, "watched" if value else "unwatched", 0, ""))

    # 1. Killed right after the daemon answered the last of several changes.
    for remote_id in unwatched[:4]:
        await set_watched(remote_id, True)
    await set_watched(watched[0], False)
    await client.manager("ReportProgress", "sts", prefix + unwatched[4], 754_000, "paused")
    expected.append((unwatched[4], "progress", 754_000, "paused"))
    daemons.kill()
    assert queued(private_bus) == expected

    # 2. Started while the server is still away: killed once it has said so, after one more change.
    client.signals.clear()
    await daemons.start()
    if await client.prop(source, "Source", "Status") != "offline":
        await client.wait_signal(changed(source, "Status", "offline"), timeout=30)
    await set_watched(unwatched[5], True)
    daemons.kill()
    assert queued(private_bus) == expected

    async with FakeJellyfinServer(fake, port=port) as back:
        # 3. The server is back: killed as it answers the third change sent to it, when the daemon
        # has taken the first two off its queue and not yet the third.
        third_sent = back.wire.answered(nth(3, lambda r: r.path.startswith("/UserPlayedItems/")), within_s=60)
        await daemons.kill_when(third_sent, daemons.start)
        left = queued(private_bus)
        assert left in (expected[2:], expected[3:]), "only changes the server had taken went"

        # 4. Left alone, it sends the rest: the server ends up with every change.
        client.signals.clear()
        await daemons.start()
        if await client.prop(source, "Source", "PendingChanges") != 0:
            await client.wait_signal(changed(source, "PendingChanges", 0), timeout=60)
        assert [r for r in unwatched[:4] + unwatched[5:6] if not watched_on_server(fake, r)] == []
        # Each counted as one play, the one the server took just before the kill included.
        plays = {r: play_count(fake, r) - plays_before[r] for r in unwatched[:4] + unwatched[5:6]}
        assert set(plays.values()) == {1}, plays
        assert not watched_on_server(fake, watched[0])
        assert position_on_server_ms(fake, unwatched[4]) == 754_000
        assert queued(private_bus) == []
        (item,) = await client.manager("GetItem", "s", prefix + unwatched[5])
        assert item["watched"].value is True
        daemons.current.stop()
