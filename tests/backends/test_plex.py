"""Plex end to end, in process: the daemon core with a real keyring, over real HTTP to the fake
plex.tv and fake servers (plexapi itself talks to the fake plex.tv, routed by REELD_PLEX_TV_URL)."""

import asyncio
import dataclasses
import ssl
import sys
from collections.abc import AsyncIterator

import httpx
import msgspec
import orjson
import pytest
from keyring.backends.SecretService import Keyring

from reeld.backends.local.kind import LocalKind
from reeld.backends.plex import connection
from reeld.backends.plex import kind as plex_kind
from reeld.backends.plex.backend import PlexBackend, _page_of
from reeld.backends.plex.dto import decode_listing
from reeld.backends.plex.kind import PlexKind, plex_source_id
from reeld.backends.plex.plextv import PlexConnection
from reeld.cache import queries
from reeld.cache.db import Database
from reeld.config import Paths
from reeld.daemon import Daemon
from reeld.errors import AuthRequired
from reeld.fakes.plex import (
    CatalogSpec,
    ConnectionSpec,
    FakePlexCluster,
    FakePlexServer,
    Fault,
    FaultKind,
    ServerSpec,
)
from reeld.fakes.plex.catalog import EPISODE, MOVIE, SHOW
from reeld.fakes.plex.network import HOST, refusing_socket
from reeld.models.source import ConnectionKind, SourceStatus
from reeld.services import events as ev
from reeld.services.secrets import SecretStore
from tests.support.cache import CachedRow, cached, watched_then_killed_before_forgotten
from tests.support.events import Recorder, running, stop
from tests.support.keyring import KeyringDaemon
from tests.support.network_manager import Connectivity, NetworkManagerMock

SMALL = CatalogSpec(movies=12, shows=2, seasons=2, episodes=3, artists=1, albums=2, tracks=2)
#: Dead addresses fail faster in tests (a live one still has time on a loaded machine); the message
#: says how long they were given.
PROBE_TIMEOUT_S = 1.5


def specs() -> list[ServerSpec]:
    return [
        ServerSpec(
            "Home",
            owned=True,
            catalog=SMALL,
            connections=(ConnectionSpec.refused(local=True), ConnectionSpec.live(local=False)),
        ),
        ServerSpec(
            "Friend",
            owned=False,
            catalog=CatalogSpec(seed=2, movies=5, shows=1, seasons=1, episodes=2),
            connections=(ConnectionSpec.live(local=False), ConnectionSpec.relayed("refused")),
        ),
        ServerSpec(
            "Cabin",
            owned=False,
            catalog=CatalogSpec(seed=3, movies=3, shows=0),
            connections=(ConnectionSpec.live(local=True), ConnectionSpec.timeout(local=False)),
            running=False,
        ),
    ]


@pytest.fixture
async def cluster(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakePlexCluster]:
    monkeypatch.setattr(connection, "PROBE_TIMEOUT_S", PROBE_TIMEOUT_S)
    async with FakePlexCluster(specs()) as running:
        monkeypatch.setenv("REELD_PLEX_TV_URL", running.url)
        yield running


def make_daemon(paths: Paths, kind: PlexKind | None = None, watch_network: bool = False) -> Daemon:
    kinds = [LocalKind(), kind or PlexKind()]
    return Daemon(paths, secrets=SecretStore(Keyring()), kinds=kinds, watch_network=watch_network)


@pytest.fixture
async def daemon(paths: Paths, cluster: FakePlexCluster) -> AsyncIterator[tuple[Daemon, Recorder]]:
    core = make_daemon(paths)
    async with running(core) as recorder:
        yield core, recorder


def source_of(cluster: FakePlexCluster, name: str) -> str:
    return plex_source_id(cluster.server(name).machine_identifier)


async def synced(recorder: Recorder, source_id: str) -> None:
    finished = await recorder.wait(lambda e: isinstance(e, ev.SyncFinished) and e.source_id == source_id, 30)
    assert isinstance(finished, ev.SyncFinished) and finished.success, finished


async def add_account(daemon: tuple[Daemon, Recorder], cluster: FakePlexCluster) -> str:
    """Add the account by token and wait for the reachable servers' first syncs."""
    core, recorder = daemon
    account_id = await core.add_plex_account(cluster.token)
    for name in ("Home", "Friend"):
        await synced(recorder, source_of(cluster, name))
    return account_id


async def home_added(daemon: tuple[Daemon, Recorder], cluster: FakePlexCluster) -> tuple[FakePlexServer, str]:
    """Add the account (first syncs done); the "Home" server and its source id."""
    await add_account(daemon, cluster)
    return cluster.server("Home"), source_of(cluster, "Home")


def expected(server: FakePlexServer) -> dict[str, CachedRow]:
    """The catalog as reeld should cache it: movies, shows, seasons, episodes, artists, albums, tracks."""
    out: dict[str, CachedRow] = {}
    for section in server.catalog.sections.values():
        for type_name in ("movie", "show", "season", "episode", "artist", "album", "track"):
            for item in server.catalog.of_type(section.id, type_name):
                leaf = type_name in (MOVIE, EPISODE, "track")
                parent = str(item.parent.rating_key) if item.parent is not None else None
                if leaf:
                    watched, position = item.view_count > 0, item.view_offset
                else:
                    watched = item.leaf_count() > 0 and item.watched_leaf_count() >= item.leaf_count()
                    position = 0
                out[str(item.rating_key)] = (type_name, parent, watched, position)
    return out


async def test_token_login_discovers_every_server_and_syncs_the_reachable_ones(
    daemon: tuple[Daemon, Recorder], cluster: FakePlexCluster, keyring_daemon: KeyringDaemon, paths: Paths
) -> None:
    core, recorder = daemon
    account_id = await add_account(daemon, cluster)
    home, friend, cabin = (source_of(cluster, name) for name in ("Home", "Friend", "Cabin"))
    assert {rt.id for rt in core.coordinator.sources_of(account_id)} == {home, friend, cabin}
    for name, source_id in (("Home", home), ("Friend", friend)):
        assert await cached(core, source_id) == expected(cluster.server(name))
    # Each server's own token is in the keyring; none is in the config file.
    friend_server = cluster.server("Friend")
    key = f"{account_id}/server/{friend_server.machine_identifier}"
    assert keyring_daemon.keyring_get("reeld", key) == friend_server.access_token
    assert keyring_daemon.keyring_get("reeld", f"{account_id}/token") == cluster.token
    config = paths.config_file.read_text()
    assert cluster.token not in config and friend_server.access_token not in config
    # Home's LAN address refuses: it is reached on its remote one.
    state = core.coordinator.get(home).state
    assert state.status is SourceStatus.CONNECTED and state.connection_kind is ConnectionKind.REMOTE
    assert state.address == cluster.server("Home").url and "Token" not in state.address
    # The Cabin is off: it says what each of its addresses did.
    runtime = core.coordinator.get(cabin)
    if runtime.state.status is SourceStatus.CONNECTING:
        await recorder.wait(
            lambda e: (
                isinstance(e, ev.SourceChanged)
                and e.source_id == cabin
                and core.coordinator.get(cabin).state.status is SourceStatus.OFFLINE
            ),
            10,
        )
    message = core.coordinator.get(cabin).state.message
    cabin_server = cluster.server("Cabin")
    local, remote = cabin_server.connections
    assert message == (
        f"no address answered: {local.address}:{local.port} (local) connection refused; "
        f"{remote.address}:{remote.port} (remote) timed out after {PROBE_TIMEOUT_S:g} s"
    )
    kinds = {lib.library.title: str(lib.library.kind) for lib in core.coordinator.get(home).libraries}
    assert kinds == {"Movies": "movies", "TV Shows": "shows", "Music": "music"}


async def test_a_rejected_token_adds_nothing(
    daemon: tuple[Daemon, Recorder], cluster: FakePlexCluster
) -> None:
    core, _ = daemon
    with pytest.raises(AuthRequired, match=r"plex\.tv did not accept that token"):
        await core.add_plex_account("not-a-token")
    assert core.auth.accounts == {}


# -- logging in -----------------------------------------------------------------------------------


async def login_finished(recorder: Recorder, login_id: str) -> ev.LoginFinished:
    finished = await recorder.wait(lambda e: isinstance(e, ev.LoginFinished) and e.login_id == login_id, 15)
    assert isinstance(finished, ev.LoginFinished)
    return finished


@pytest.fixture
def fast_pin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plex_kind, "PIN_POLL_S", 0.05)


@pytest.mark.usefixtures("fast_pin")
async def test_pin_login_finishes_once_approved(
    daemon: tuple[Daemon, Recorder], cluster: FakePlexCluster
) -> None:
    core, recorder = daemon
    login_id, code, url = await core.begin_plex_login()
    pin = next(pin for pin in cluster.plex_tv.pins.values() if pin.code == code)
    assert pin.strong and len(code) == 25
    client_id = pin.client_identifier
    assert (
        url.startswith("https://app.plex.tv/auth#?")
        and f"clientID={client_id}" in url
        and f"code={code}" in url
    )
    token = cluster.plex_tv.approve_pin(code=code)
    finished = await login_finished(recorder, login_id)
    assert finished.error == "" and finished.account_id in core.auth.accounts
    assert await core.auth.secret(core.auth.accounts[finished.account_id]) == token
    # The client identity is per install: a second login sends the same one.
    _, second_code, _ = await core.begin_plex_login()
    assert (
        next(p for p in cluster.plex_tv.pins.values() if p.code == second_code).client_identifier == client_id
    )


@pytest.mark.usefixtures("fast_pin")
async def test_pin_login_expiry_and_cancel_say_so(
    daemon: tuple[Daemon, Recorder], cluster: FakePlexCluster
) -> None:
    core, recorder = daemon
    login_id, code, _ = await core.begin_plex_login()
    pin = next(pin for pin in cluster.plex_tv.pins.values() if pin.code == code)
    cluster.plex_tv.expire_pin(pin.id)
    finished = await login_finished(recorder, login_id)
    assert finished.account_id is None and "PIN expired" in finished.error
    login_id, _, _ = await core.begin_plex_login()
    core.cancel_login(login_id)
    finished = await login_finished(recorder, login_id)
    assert finished.account_id is None and "cancelled" in finished.error
    assert core.auth.accounts == {}


# -- discovery --------------------------------------------------------------------------------------


async def test_servers_joining_and_leaving_the_account(
    daemon: tuple[Daemon, Recorder], cluster: FakePlexCluster, keyring_daemon: KeyringDaemon
) -> None:
    core, recorder = daemon
    account_id = await add_account(daemon, cluster)
    # A server with a live LAN address and a live remote one: the LAN one is chosen.
    spec = ServerSpec(
        "Attic",
        owned=False,
        catalog=CatalogSpec(seed=9, movies=4, shows=0),
        connections=(ConnectionSpec.live(local=False), ConnectionSpec.live(local=True)),
    )
    async with FakePlexServer(spec) as attic:
        cluster.plex_tv.add_server(attic)
        core.refresh_account(account_id)
        attic_id = plex_source_id(attic.machine_identifier)
        await synced(recorder, attic_id)
        state = core.coordinator.get(attic_id).state
        assert state.connection_kind is ConnectionKind.LOCAL
        assert state.address == next(c.uri for c in attic.connections if c.spec.local)
        assert await cached(core, attic_id) == expected(attic)

    friend = cluster.server("Friend")
    friend_id = source_of(cluster, "Friend")
    cluster.plex_tv.remove_server(friend.machine_identifier)
    core.refresh_account(account_id)
    await recorder.wait(lambda e: isinstance(e, ev.SourceRemoved) and e.source_id == friend_id, 10)
    assert await cached(core, friend_id) == {}
    assert keyring_daemon.keyring_get("reeld", f"{account_id}/server/{friend.machine_identifier}") is None

    # Shared again: it comes back with its own token in the keyring, and syncs.
    cluster.plex_tv.add_server(friend)
    core.refresh_account(account_id)
    await synced(recorder, friend_id)
    assert keyring_daemon.keyring_get("reeld", f"{account_id}/server/{friend.machine_identifier}")
    assert core.coordinator.get(friend_id).state.status is SourceStatus.CONNECTED


async def test_plex_tv_failing_says_so_and_never_blames_the_credentials(
    daemon: tuple[Daemon, Recorder], cluster: FakePlexCluster
) -> None:
    """The seed failure: a valid token whose discovery fails must say why, not "no valid credentials"."""
    core, recorder = daemon
    cluster.plex_tv.wire.add_fault(Fault(FaultKind.STATUS, path="/api/v2/resources", status=503))
    account_id = await core.add_plex_account(cluster.token)
    await recorder.wait(
        lambda e: isinstance(e, ev.AccountChanged) and core.auth.status[account_id].message, 10
    )
    status = core.auth.status[account_id]
    assert status.message == "plex.tv failed (HTTP 503)" and not status.attention_needed
    assert core.coordinator.sources_of(account_id) == []
    cluster.plex_tv.wire.clear_faults()
    core.refresh_account(account_id)
    await synced(recorder, source_of(cluster, "Home"))
    assert core.auth.status[account_id].message == ""


async def test_plex_tv_down_at_startup_shows_cached_servers_at_once(
    paths: Paths, cluster: FakePlexCluster
) -> None:
    first = make_daemon(paths)
    async with running(first) as recorder:
        account_id = await add_account((first, recorder), cluster)
    await cluster.plex_tv.close()

    again = make_daemon(paths)
    recorder = Recorder(again)
    await again.start()  # cache only: no network yet
    home = source_of(cluster, "Home")
    assert {rt.id for rt in again.coordinator.sources_of(account_id)} == {
        home,
        source_of(cluster, "Friend"),
        source_of(cluster, "Cabin"),
    }
    assert await cached(again, home) == expected(cluster.server("Home"))
    await again.run()
    try:
        # Cached addresses are still tried; plex.tv's absence is the account's message.
        await recorder.wait(lambda e: isinstance(e, ev.SourceConnected) and e.source_id == home, 10)
        await recorder.wait(
            lambda e: isinstance(e, ev.AccountChanged) and again.auth.status[account_id].message, 10
        )
        assert again.auth.status[account_id].message.startswith("plex.tv cannot be reached")
    finally:
        await stop(again)


async def test_cached_servers_connect_while_plex_tv_keeps_them_waiting(
    paths: Paths, cluster: FakePlexCluster
) -> None:
    """plex.tv answering slowly (up to its 15 s timeout) must not hold back servers reeld knows."""
    first = make_daemon(paths)
    async with running(first) as recorder:
        await add_account((first, recorder), cluster)
    cluster.plex_tv.wire.add_fault(Fault(FaultKind.LATENCY, path="/api/v2/resources", delay=30))
    home = source_of(cluster, "Home")
    again = make_daemon(paths)
    async with running(again) as recorder:
        await recorder.wait(lambda e: isinstance(e, ev.SourceConnected) and e.source_id == home, 5)
    cluster.plex_tv.wire.clear_faults()


async def test_addresses_that_changed_while_reeld_was_down_are_used_once_plex_tv_answers(
    paths: Paths, cluster: FakePlexCluster
) -> None:
    """Cached servers connect before plex.tv answers, on the addresses the cache knows; when those
    no longer answer, the addresses discovery brings are tried, without a restart."""
    first = make_daemon(paths)
    async with running(first) as recorder:
        await add_account((first, recorder), cluster)
    home = source_of(cluster, "Home")
    moved_away = refusing_socket()  # the server's old address: nothing listens there any more
    db = Database(paths.cache_file)
    await db.open()
    (source,) = [s for s in await db.read(queries.load_sources) if s.id == home]
    old = PlexConnection(f"http://{HOST}:{moved_away.getsockname()[1]}", local=True, relay=False)
    stale = dataclasses.replace(
        source, address=old.uri, settings={**source.settings, "connections": [old.to_settings()]}
    )
    await db.write(queries.save_source, stale)
    await db.close()
    cluster.plex_tv.wire.add_fault(Fault(FaultKind.LATENCY, path="/api/v2/resources", delay=1))
    again = make_daemon(paths)
    try:
        async with running(again) as recorder:
            await recorder.wait(lambda e: isinstance(e, ev.SourceConnected) and e.source_id == home, 20)
            assert again.coordinator.get(home).state.address != old.uri
    finally:
        moved_away.close()
        cluster.plex_tv.wire.clear_faults()


# -- sync -------------------------------------------------------------------------------------------


async def test_incremental_sync_catches_changes_made_elsewhere(
    daemon: tuple[Daemon, Recorder], cluster: FakePlexCluster
) -> None:
    core, _ = daemon
    home, home_id = await home_added(daemon, cluster)
    home.notifier._queues.clear()  # no websocket: this is the safety net's job
    movies = home.catalog.of_type(1, MOVIE)
    episodes = [e for s in home.catalog.sections.values() for e in home.catalog.of_type(s.id, EPISODE)]
    home.add_movie("Brand New Film", year=2026)
    home.update_item(movies[0].rating_key, title="Renamed Film")
    home.delete_item(episodes[0].rating_key)
    home.set_watched(movies[1].rating_key)
    home.set_watched(episodes[1].rating_key)
    home.set_progress(movies[2].rating_key, 60_000)
    watched_before = (
        next(m for m in movies[3:] if m.view_count > 0) if any(m.view_count for m in movies[3:]) else None
    )
    if watched_before is not None:
        home.set_watched(watched_before.rating_key, False)
    home.wire.reset_log()
    assert await core.sync.sync(home_id, full=False)
    assert await cached(core, home_id) == expected(home)
    listings = [r for r in home.wire.requests if r.path.endswith("/all") and "includeGuids" in r.query]
    assert listings and all("updatedAt>>" in r.query for r in listings)
    # Watched elsewhere, nothing unwatched: the counts add up, so the list of watched items is not read.
    home.set_watched(next(m for m in movies[4:] if m.view_count == 0).rating_key)
    home.wire.reset_log()
    assert await core.sync.sync(home_id, full=False)
    assert await cached(core, home_id) == expected(home)
    watched_reads = [r for r in home.wire.requests if r.query.get("unwatched") == "0"]
    assert watched_reads and all(r.headers.get("x-plex-container-size") == "0" for r in watched_reads)
    # A resume point cleared elsewhere without a new view leaves no date behind: the counts tell.
    resumed = next(e for e in episodes[2:] if e.view_count == 0)
    home.set_progress(resumed.rating_key, 50_000)
    assert await core.sync.sync(home_id, full=False)
    assert (await cached(core, home_id))[str(resumed.rating_key)][3] == 50_000
    home.set_progress(resumed.rating_key, 0, at=1)
    assert await core.sync.sync(home_id, full=False)
    assert await cached(core, home_id) == expected(home)
    # An episode renamed (its season and show are listed with it): no list of every id is read.
    home.notifier._queues.clear()  # the live updates reconnected meanwhile: again, no websocket
    home.update_item(episodes[3].rating_key, title="Renamed Episode")
    home.wire.reset_log()
    assert await core.sync.sync(home_id, full=False)
    assert await cached(core, home_id) == expected(home)
    every_id = [r for r in home.wire.requests if r.path.endswith("/all") and set(r.query) == {"type"}]
    assert not [r for r in every_id if r.headers.get("x-plex-container-size") != "0"]
    # Two edits within one second (Plex's updatedAt counts whole seconds): the second one stays.
    home.notifier._queues.clear()
    clock, second = home.catalog.clock, home.catalog.clock()
    home.catalog.clock = lambda: second
    try:
        home.update_item(movies[6].rating_key, title="Quokka Three")
        assert await core.sync.sync(home_id, full=True)
        home.update_item(movies[6].rating_key, title="Quokka Four")
        assert await core.sync.sync(home_id, full=True)
    finally:
        home.catalog.clock = clock
    assert (await core.get_item(f"{home_id}:{movies[6].rating_key}")).title == "Quokka Four"
    # A movie deleted and another added in the same library: the count alone would not tell.
    home.notifier._queues.clear()
    home.delete_item(movies[5].rating_key)
    home.add_movie("Another New Film", year=2026)
    assert await core.sync.sync(home_id, full=False)
    assert await cached(core, home_id) == expected(home)


async def test_live_notifications_reach_the_cache_within_two_seconds(
    daemon: tuple[Daemon, Recorder], cluster: FakePlexCluster
) -> None:
    core, recorder = daemon
    home, home_id = await home_added(daemon, cluster)
    await asyncio.wait_for(home.notifier.wait_for_listener(), 10)
    recorder.events.clear()
    added = home.add_movie("Pushed Film", year=2026)
    await recorder.wait(lambda e: isinstance(e, ev.LibrariesChanged) and e.source_id == home_id, 2)
    assert str(added.rating_key) in await cached(core, home_id)
    recorder.events.clear()
    home.delete_item(added.rating_key)
    await recorder.wait(lambda e: isinstance(e, ev.LibrariesChanged) and e.source_id == home_id, 2)
    assert str(added.rating_key) not in await cached(core, home_id)


async def test_watch_state_reaches_the_server_or_waits_for_it(
    daemon: tuple[Daemon, Recorder], cluster: FakePlexCluster
) -> None:
    core, recorder = daemon
    home, home_id = await home_added(daemon, cluster)
    first, second = [m for m in home.catalog.of_type(1, MOVIE) if m.view_count == 0][:2]
    await core.set_watched(f"{home_id}:{first.rating_key}", True)
    await core.report_progress(f"{home_id}:{second.rating_key}", 90_000, "paused")
    await core.sync.replay_pending(home_id)  # the sends under way; waits for them (one queue, one lock)
    assert home.item(first.rating_key).view_count == 1
    assert home.item(second.rating_key).view_offset == 90_000

    await stop(home)
    await core.set_watched(f"{home_id}:{second.rating_key}", True)  # queued: the server is off
    assert (await cached(core, home_id))[str(second.rating_key)][2] is True
    assert home.item(second.rating_key).view_count == 0
    await home.start()
    core.reconnect(home_id)
    await recorder.wait(lambda e: isinstance(e, ev.SourceConnected) and e.source_id == home_id, 10)
    await recorder.wait(lambda e: isinstance(e, ev.SyncFinished) and e.source_id == home_id, 10)
    assert home.item(second.rating_key).view_count == 1


async def test_a_watched_change_the_server_took_before_a_crash_is_not_counted_twice(
    daemon: tuple[Daemon, Recorder], cluster: FakePlexCluster
) -> None:
    """Plex counts every scrobble as one more view. A kill -9 after the server took the change,
    before the queue forgot it, sent it again after the restart: two views."""
    core, _ = daemon
    home, home_id = await home_added(daemon, cluster)
    movie = next(m for m in home.catalog.of_type(1, MOVIE) if m.view_count == 0)
    await watched_then_killed_before_forgotten(core, home_id, str(movie.rating_key))
    await core.sync.replay_pending(home_id)
    assert home.item(movie.rating_key).view_count == 1
    assert await core.db.read(queries.pending_count) == 0


async def test_a_change_to_an_item_the_server_no_longer_has_waits_until_a_sync_removes_it(
    daemon: tuple[Daemon, Recorder], cluster: FakePlexCluster
) -> None:
    core, _ = daemon
    home, home_id = await home_added(daemon, cluster)
    gone, other = [m for m in home.catalog.of_type(1, MOVIE) if m.view_count == 0][:2]
    home.catalog.remove(gone)  # deleted on the server, and reeld not told yet
    await core.set_watched(f"{home_id}:{gone.rating_key}", True)
    await core.set_watched(f"{home_id}:{other.rating_key}", True)
    await core.sync.replay_pending(home_id)
    assert home.item(other.rating_key).view_count == 1  # not held back by the other
    assert await core.db.read(queries.pending_count) == 1  # a 404 alone drops nothing
    assert await core.sync.sync(home_id, full=True)  # the listing shows the item gone
    await core.sync.replay_pending(home_id)
    assert await core.db.read(queries.pending_count) == 0


async def test_a_show_marked_watched_is_watched_to_its_last_episode_here_and_on_the_server(
    daemon: tuple[Daemon, Recorder], cluster: FakePlexCluster
) -> None:
    core, _ = daemon
    home, home_id = await home_added(daemon, cluster)
    shows = home.catalog.section_of_type(SHOW)
    assert shows is not None
    show = home.catalog.of_type(shows.id, SHOW)[0]
    episodes = [str(leaf.rating_key) for leaf in show.leaves()]
    before = await cached(core, home_id)
    assert not all(before[episode][2] for episode in episodes)
    await core.set_watched(f"{home_id}:{show.rating_key}", True)
    rows = await cached(core, home_id)
    assert all(rows[episode][2] for episode in episodes)  # at once, before the server answers
    await core.sync.replay_pending(home_id)
    assert all(home.item(episode).view_count >= 1 for episode in episodes)
    assert await core.sync.sync(home_id, full=True)  # and the server's view agrees
    rows = await cached(core, home_id)
    assert all(rows[episode][2] for episode in episodes)


async def test_stream_url_plays_the_file(daemon: tuple[Daemon, Recorder], cluster: FakePlexCluster) -> None:
    core, _ = daemon
    await add_account(daemon, cluster)
    home_id = source_of(cluster, "Home")
    movie = cluster.server("Home").catalog.of_type(1, MOVIE)[0]
    url = await core.stream_url(f"{home_id}:{movie.rating_key}")
    assert url.startswith(cluster.server("Home").url + "/library/parts/")
    async with httpx.AsyncClient() as http:
        response = await http.get(url, headers={"Range": "bytes=0-15"})
    assert response.status_code == 206 and len(response.content) == 16


async def test_a_revoked_token_mid_sync_needs_auth_without_retrying(
    daemon: tuple[Daemon, Recorder], cluster: FakePlexCluster
) -> None:
    core, _ = daemon
    account_id = await add_account(daemon, cluster)
    home_id = source_of(cluster, "Home")
    home = cluster.server("Home")
    cluster.plex_tv.revoke_token(cluster.token)
    home.wire.reset_log()
    assert not await core.sync.sync(home_id, full=True)
    state = core.coordinator.get(home_id).state
    assert state.status is SourceStatus.NEEDS_AUTH and "rejected its access token" in state.message
    assert core.auth.status[account_id].attention_needed
    requests_after = len(home.wire.requests)
    assert requests_after <= 3  # the sync stopped at the first 401


async def test_server_errors_and_truncated_pages_keep_the_cache_and_the_next_sync_completes(
    daemon: tuple[Daemon, Recorder], cluster: FakePlexCluster
) -> None:
    core, recorder = daemon
    home, home_id = await home_added(daemon, cluster)
    before = await cached(core, home_id)
    for kind in (FaultKind.TRUNCATED, FaultKind.MALFORMED, FaultKind.EMPTY, FaultKind.STATUS, FaultKind.DROP):
        # A dropped connection is asked again once (a kept-alive connection the server closed):
        # this server drops every one until the sync has failed.
        home.wire.add_fault(
            Fault(kind, path="/library/sections/2/all", times=None if kind is FaultKind.DROP else 1)
        )
        assert not await core.sync.sync(home_id, full=True)
        home.wire.clear_faults()
        assert await cached(core, home_id) == before
        runtime = core.coordinator.get(home_id)
        assert runtime.state.message  # the status says why: what the server did, not a crash
        assert "unexpectedly" not in runtime.state.message, (kind, runtime.state.message)
        if runtime.state.status is not SourceStatus.CONNECTED:
            recorder.events.clear()
            core.reconnect(home_id)
            finished = await recorder.wait(
                lambda e: isinstance(e, ev.SyncFinished) and e.source_id == home_id, 15
            )
            assert isinstance(finished, ev.SyncFinished) and finished.success
    assert await core.sync.sync(home_id, full=True)
    assert await cached(core, home_id) == expected(home)


async def test_a_server_ignoring_date_filters_gets_full_listings(
    daemon: tuple[Daemon, Recorder], cluster: FakePlexCluster
) -> None:
    """A filter that does not narrow must not be trusted: incremental listings become full ones."""
    core, _ = daemon
    home, home_id = await home_added(daemon, cluster)
    home.notifier._queues.clear()
    home.set_ignore_date_filters(True)
    movies = home.catalog.of_type(1, MOVIE)
    home.delete_item(movies[0].rating_key)
    assert await core.sync.sync(home_id, full=False)
    backend = core.backends.get(home_id)
    assert isinstance(backend, PlexBackend) and not backend.date_filters_work
    home.wire.reset_log()
    assert await core.sync.sync(home_id, full=False)
    listings = [r for r in home.wire.requests if r.path.endswith("/all") and "includeGuids" in r.query]
    assert listings and not any("updatedAt>>" in r.query for r in listings)
    assert await cached(core, home_id) == expected(home)


async def test_tls_is_verified_and_https_is_preferred(paths: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = ServerSpec(
        "Secure",
        catalog=CatalogSpec(movies=3, shows=0),
        connections=(ConnectionSpec.live(local=True), ConnectionSpec.live(local=True, protocol="https")),
    )
    untrusted_only = ServerSpec(
        "Untrusted",
        owned=False,
        catalog=CatalogSpec(seed=5, movies=2, shows=0),
        connections=(ConnectionSpec.live(local=True, protocol="https"),),
    )
    async with FakePlexCluster([spec, untrusted_only]) as cluster:
        monkeypatch.setenv("REELD_PLEX_TV_URL", cluster.url)
        assert cluster.tls is not None
        trusted = ssl.create_default_context(cafile=str(cluster.tls.ca))
        for kind, secure_scheme, untrusted_ok in (
            (PlexKind(), "http://", False),  # the fake's CA is not trusted: its https addresses fail
            (PlexKind(http=lambda: httpx.AsyncClient(verify=trusted)), "https://", True),
        ):
            core = make_daemon(paths, kind)
            async with running(core) as recorder:
                account_id = await core.add_plex_account(cluster.token)
                await synced(recorder, source_of(cluster, "Secure"))
                state = core.coordinator.get(source_of(cluster, "Secure")).state
                assert (
                    state.address.startswith(secure_scheme) and state.connection_kind is ConnectionKind.LOCAL
                )
                untrusted_id = source_of(cluster, "Untrusted")
                if untrusted_ok:
                    await synced(recorder, untrusted_id)
                else:
                    untrusted = core.coordinator.get(untrusted_id)
                    await recorder.wait(
                        lambda e, runtime=untrusted: (
                            isinstance(e, ev.SourceChanged) and runtime.state.status is SourceStatus.ERROR
                        ),
                        10,
                    )
                    assert "TLS certificate that is not trusted" in untrusted.state.message
                await core.remove_account(account_id)


async def test_a_finished_scan_and_another_players_progress_reach_the_cache(
    daemon: tuple[Daemon, Recorder], cluster: FakePlexCluster
) -> None:
    core, recorder = daemon
    home, home_id = await home_added(daemon, cluster)
    await asyncio.wait_for(home.notifier.wait_for_listener(), 10)
    # A library scan that ended: that library gets an incremental sync.
    recorder.events.clear()
    home.scan_section(1)
    finished = await recorder.wait(lambda e: isinstance(e, ev.SyncFinished) and e.source_id == home_id, 5)
    assert isinstance(finished, ev.SyncFinished) and finished.success
    # Another player reports progress to the server: the position reaches the cache.
    movie = next(m for m in home.catalog.of_type(1, MOVIE) if m.view_count == 0)
    recorder.events.clear()
    async with httpx.AsyncClient() as player:
        response = await player.get(
            f"{home.url}/:/timeline",
            params={
                "ratingKey": movie.rating_key,
                "state": "playing",
                "time": 120_000,
                "duration": movie.duration,
            },
            headers={"X-Plex-Token": cluster.token, "X-Plex-Client-Identifier": "living-room-tv"},
        )
    assert response.status_code == 200
    await recorder.wait(lambda e: isinstance(e, ev.ItemsChanged) and e.source_id == home_id, 2)
    assert (await cached(core, home_id))[str(movie.rating_key)][3] == 120_000


async def test_the_address_is_chosen_again_when_the_network_comes_back(
    network_manager: NetworkManagerMock, paths: Paths, cluster: FakePlexCluster
) -> None:
    network_manager.set_connectivity(Connectivity.FULL)
    core = make_daemon(paths, watch_network=True)
    async with running(core) as recorder:
        await core.add_plex_account(cluster.token)
        home_id = source_of(cluster, "Home")
        await synced(recorder, home_id)
        if not core.online:  # the monitor may still be reading NetworkManager's first answer
            await recorder.wait(lambda e: isinstance(e, ev.OnlineChanged) and e.online, 10)
        recorder.events.clear()
        network_manager.set_connectivity(Connectivity.NONE)
        await recorder.wait(lambda e: isinstance(e, ev.OnlineChanged) and not e.online, 10)
        network_manager.set_connectivity(Connectivity.FULL)
        await recorder.wait(lambda e: isinstance(e, ev.SourceDisconnected) and e.source_id == home_id, 10)
        await recorder.wait(lambda e: isinstance(e, ev.SourceConnected) and e.source_id == home_id, 10)
        assert core.coordinator.get(home_id).state.connection_kind is ConnectionKind.REMOTE


def test_an_unreadable_field_does_not_stop_a_page_from_mapping() -> None:
    """Plex sends numbers; a server (or proxy) that sends something else must not fail the sync:
    the odd field is left out, the item is kept, and an entry that is no item is skipped."""
    body = orjson.dumps(
        {
            "MediaContainer": {
                "totalSize": "3",
                "Metadata": [
                    {"ratingKey": "7", "type": "movie", "title": "Heat", "updatedAt": "n/a", "year": 1995},
                    {"ratingKey": 8, "type": "movie", "title": "Ronin", "Media": "none", "year": "1998"},
                    # A title that looks like a number comes as one; a duration with a fraction.
                    {"ratingKey": "9", "type": "movie", "title": 1917, "year": 2019, "duration": 7140000.0},
                    "not an item",
                ],
            }
        }
    )
    for check_dates in (False, True):
        items, oldest_update, sent = _page_of("1", "http://pms.example", check_dates, decode_listing(body))
        assert [(item.remote_id, item.title, item.year) for item in items] == [
            ("7", "Heat", 1995),
            ("8", "Ronin", 1998),
            ("9", "1917", 2019),
        ]
        assert oldest_update == (0 if check_dates else sys.maxsize) and sent == 3


def test_an_answer_that_is_no_listing_is_a_protocol_error() -> None:
    for body in ({"MediaContainer": {"Metadata": "x"}}, {"Metadata": []}, [1]):
        with pytest.raises(msgspec.ValidationError):
            decode_listing(orjson.dumps(body))
