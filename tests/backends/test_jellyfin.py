"""Jellyfin end to end, in process: the daemon core with a real keyring, over real HTTP to the fake."""

import asyncio
import time
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
from keyring.backends.SecretService import Keyring
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from reeld.backends.jellyfin import socket as socket_module
from reeld.backends.jellyfin.kind import JellyfinKind
from reeld.backends.local.kind import LocalKind
from reeld.cache import queries
from reeld.config import Paths
from reeld.daemon import Daemon
from reeld.errors import AuthRequired, BackendProtocolError, BackendUnavailable
from reeld.fakes.jellyfin import FakeJellyfin, FakeJellyfinServer
from reeld.fakes.jellyfin.catalog import jf_id
from reeld.fakes.plex.network import HOST, HttpService, listening_socket
from reeld.fakes.plex.wire import Fault, FaultKind
from reeld.models.source import SourceStatus
from reeld.services import backoff
from reeld.services import events as ev
from reeld.services.secrets import SecretStore
from tests.support.cache import cached, remote_ids, watched_then_killed_before_forgotten
from tests.support.events import Recorder, running, stop
from tests.support.keyring import KeyringDaemon

USER, PASSWORD = "anna", "s3cret-pw"


@pytest.fixture
def fake() -> FakeJellyfin:
    return FakeJellyfin.generate(movies=30, series=3, seasons=2, episodes=4, user=USER, password=PASSWORD)


@pytest.fixture
async def server(fake: FakeJellyfin) -> AsyncIterator[FakeJellyfinServer]:
    async with FakeJellyfinServer(fake) as running:
        yield running


def make_daemon(paths: Paths) -> Daemon:
    return Daemon(
        paths, secrets=SecretStore(Keyring()), kinds=[LocalKind(), JellyfinKind()], watch_network=False
    )


@pytest.fixture
async def daemon(paths: Paths) -> AsyncIterator[tuple[Daemon, Recorder]]:
    core = make_daemon(paths)
    async with running(core) as recorder:
        yield core, recorder


async def added(daemon: tuple[Daemon, Recorder], server: FakeJellyfinServer) -> str:
    """Add the account and wait for its first sync; returns the source id."""
    core, recorder = daemon
    account_id = await core.add_jellyfin_account(server.url, USER, PASSWORD)
    finished = await recorder.wait(lambda e: isinstance(e, ev.SyncFinished) and e.source_id == account_id, 30)
    assert isinstance(finished, ev.SyncFinished) and finished.success, finished
    return account_id


def expected(fake: FakeJellyfin) -> dict[str, tuple[str, str | None, bool, int]]:
    kinds = {
        "Movie": "movie",
        "Series": "show",
        "Season": "season",
        "Episode": "episode",
        "MusicArtist": "artist",
        "MusicAlbum": "album",
        "Audio": "track",
    }
    user = fake.users[USER].id
    out = {}
    for item in fake.items.values():
        state = fake.user_data.get((user, item.id))
        parents = {
            "Episode": item.season_id,
            "Season": item.series_id,
            "MusicAlbum": item.album_artist and jf_id("artist", item.album_artist),
            "Audio": item.album_id,
        }
        parent = parents.get(item.type)
        watchable = item.type in ("Movie", "Episode", "Audio")
        out[item.id] = (
            kinds[item.type],
            parent,
            bool(state and state.played) if watchable else False,
            (state.position_ticks // 10_000 if state else 0) if watchable else 0,
        )
    return out


async def test_password_login_and_full_sync_equal_the_catalog(
    daemon: tuple[Daemon, Recorder],
    server: FakeJellyfinServer,
    fake: FakeJellyfin,
    keyring_daemon: KeyringDaemon,
    paths: Paths,
) -> None:
    core, _ = daemon
    source_id = await added(daemon, server)
    assert await cached(core, source_id) == expected(fake)
    token = keyring_daemon.keyring_get("reeld", f"{source_id}/token")
    assert token in fake.tokens
    assert token not in paths.config_file.read_text() and PASSWORD not in paths.config_file.read_text()
    runtime = core.coordinator.get(source_id)
    assert runtime.state.status is SourceStatus.CONNECTED and runtime.source.address == server.url
    kinds = {lib.library.title: str(lib.library.kind) for lib in runtime.libraries}
    assert kinds == {"Movies": "movies", "Shows": "shows", "Music": "music"}
    assert runtime.library_counts[fake.views[0]["Id"]] == 30
    # The same server and user again is the same account and source.
    assert await core.add_jellyfin_account(server.url + "/", USER, PASSWORD) == source_id
    assert len(core.coordinator.runtimes) == 1


async def test_login_failures_say_which(
    daemon: tuple[Daemon, Recorder], server: FakeJellyfinServer, fake: FakeJellyfin
) -> None:
    core, _ = daemon
    with pytest.raises(AuthRequired, match="did not accept"):
        await core.add_jellyfin_account(server.url, USER, "wrong")
    dead = listening_socket(HOST)
    port = dead.getsockname()[1]
    dead.close()
    with pytest.raises(BackendUnavailable, match="refused"):
        await core.add_jellyfin_account(f"http://{HOST}:{port}", USER, PASSWORD)
    other = HttpService(
        Starlette(routes=[Route("/", lambda r: PlainTextResponse("hello"))]), [listening_socket(HOST)]
    )
    await other.start()
    try:
        with pytest.raises(BackendProtocolError, match="does not look like a Jellyfin server"):
            await core.add_jellyfin_account(
                f"http://{HOST}:{other.sockets[0].getsockname()[1]}", USER, PASSWORD
            )
    finally:
        await stop(other)
    assert core.auth.accounts == {}


async def test_quick_connect_login(
    daemon: tuple[Daemon, Recorder], server: FakeJellyfinServer, fake: FakeJellyfin
) -> None:
    core, recorder = daemon
    login_id, code = await core.begin_jellyfin_quick_connect(server.url)
    assert len(code) == 6 and code.isdigit()
    fake.approve_quick_connect(code, USER)
    finished = await recorder.wait(lambda e: isinstance(e, ev.LoginFinished) and e.login_id == login_id, 15)
    assert isinstance(finished, ev.LoginFinished) and finished.account_id and finished.error == ""
    assert finished.account_id in core.auth.accounts


async def test_incremental_sync_catches_changes_made_elsewhere(
    daemon: tuple[Daemon, Recorder], server: FakeJellyfinServer, fake: FakeJellyfin
) -> None:
    core, _ = daemon
    source_id = await added(daemon, server)
    fake.listeners.clear()  # no websocket: this is the safety net's job
    movie = next(i for i in fake.items.values() if i.type == "Movie")
    episode = next(i for i in fake.items.values() if i.type == "Episode")
    fresh = fake.add_movie("Brand New Film", 2026)
    fake.update_item(movie.id, name="Renamed Film")
    fake.delete_item(episode.id)
    fake.set_played(USER, movie.id, True)
    server.wire.reset_log()
    assert await core.sync.sync(source_id, full=False)
    assert await cached(core, source_id) == expected(fake)
    assert fresh.id in await cached(core, source_id)
    assert await core.search("Renamed Film", 5, remote_ids) == [movie.id]
    # Incremental: changed items only, plus the cheap sweeps; no full listing.
    listed = [r for r in server.wire.requests if r.path == "/Items" and "Fields" in r.query]
    assert all("MinDateLastSaved" in r.query for r in listed)
    # Played elsewhere, nothing unplayed: the counts add up, so the played ids are not listed.
    user = fake.users[USER].id
    unplayed = [i for i in fake.items.values() if i.type == "Movie" and (user, i.id) not in fake.user_data]
    fake.set_played(USER, unplayed[0].id, True)
    server.wire.reset_log()
    assert await core.sync.sync(source_id, full=False)
    assert await cached(core, source_id) == expected(fake)
    played_reads = [r for r in server.wire.requests if r.query.get("IsPlayed") == "true"]
    assert played_reads and all(r.query.get("Limit") == "0" for r in played_reads)
    # A resume point cleared on another device without a new play date: only the counts tell.
    fake.set_played(USER, unplayed[1].id, False, position_ticks=600_000_000)
    assert await core.sync.sync(source_id, full=False)
    assert (await cached(core, source_id))[unplayed[1].id][3] == 60_000
    fake.user_data[(user, unplayed[1].id)].position_ticks = 0
    assert await core.sync.sync(source_id, full=False)
    assert await cached(core, source_id) == expected(fake)
    # A rename alone: the counts add up, so no list of every id is read.
    fake.listeners.clear()  # the live updates reconnected meanwhile: again, no websocket
    fake.update_item(fresh.id, name="Brand New Film, Director's Cut")
    server.wire.reset_log()
    assert await core.sync.sync(source_id, full=False)
    assert await cached(core, source_id) == expected(fake)
    assert not [r for r in server.wire.requests if r.query.get("Limit") == "5000"]
    # A movie deleted and another added in the same library: the count alone would not tell.
    gone = next(i for i in fake.items.values() if i.type == "Movie" and i.id != fresh.id)
    fake.listeners.clear()
    fake.delete_item(gone.id)
    fake.add_movie("Another New Film", 2026)
    assert await core.sync.sync(source_id, full=False)
    assert await cached(core, source_id) == expected(fake)


async def test_live_updates_reach_the_cache_within_2_s(
    daemon: tuple[Daemon, Recorder], server: FakeJellyfinServer, fake: FakeJellyfin
) -> None:
    core, recorder = daemon
    source_id = await added(daemon, server)
    await asyncio.wait_for(fake.socket_connected.wait(), 5)
    loop = asyncio.get_running_loop()
    started = loop.time()
    recorder.events.clear()
    fresh = fake.add_movie("Live Arrival")
    await recorder.wait(lambda e: isinstance(e, ev.LibraryItemsChanged) and fresh.id in e.changed, 2)
    assert fresh.id in await cached(core, source_id)
    movie = next(i for i in fake.items.values() if i.type == "Movie" and i.id != fresh.id)
    recorder.events.clear()
    fake.set_played(USER, movie.id, True)
    await recorder.wait(lambda e: isinstance(e, ev.LibraryItemsChanged) and movie.id in e.changed, 2)
    assert (await cached(core, source_id))[movie.id][2] is True
    recorder.events.clear()
    fake.delete_item(fresh.id)
    # Other work (artwork arriving, counts) says SourceChanged too: wait for this item's removal.
    await recorder.wait(lambda e: isinstance(e, ev.LibraryItemsChanged) and fresh.id in e.removed, 2)
    assert fresh.id not in await cached(core, source_id)
    assert loop.time() - started < 6


async def test_token_revoked_mid_sync_needs_auth_and_loses_nothing(
    daemon: tuple[Daemon, Recorder], server: FakeJellyfinServer, fake: FakeJellyfin
) -> None:
    core, _ = daemon
    source_id = await added(daemon, server)
    before = await cached(core, source_id)
    fake.revoke_tokens()
    assert not await core.sync.sync(source_id, full=True)
    runtime = core.coordinator.get(source_id)
    assert runtime.state.status is SourceStatus.NEEDS_AUTH
    assert f"log in again (reelctl add-jellyfin {server.url} --user {USER})" in runtime.state.message
    assert core.auth.status[source_id].attention_needed
    assert await cached(core, source_id) == before


async def test_server_errors_and_truncated_pages_keep_the_cache_and_the_next_sync_completes(
    daemon: tuple[Daemon, Recorder], server: FakeJellyfinServer, fake: FakeJellyfin
) -> None:
    core, recorder = daemon
    source_id = await added(daemon, server)
    before = await cached(core, source_id)
    for kind in (FaultKind.TRUNCATED, FaultKind.MALFORMED, FaultKind.EMPTY, FaultKind.STATUS):
        # The listing alone: an artwork fetch (/Items/{id}/Images/…) must not take the fault.
        server.wire.add_fault(Fault(kind, path="/Items$", times=1))
        assert not await core.sync.sync(source_id, full=True)
        assert await cached(core, source_id) == before
        runtime = core.coordinator.get(source_id)
        assert runtime.state.message  # the status says why: what the server did, not a crash
        assert "unexpectedly" not in runtime.state.message, (kind, runtime.state.message)
        if kind is FaultKind.TRUNCATED:
            assert "cut its answer short" in runtime.state.message
        if runtime.state.status is not SourceStatus.CONNECTED:
            # Reconnected at once (no waiting for backoff), it syncs again: and that sync completes.
            recorder.events.clear()
            core.reconnect(source_id)
            finished = await recorder.wait(lambda e: isinstance(e, ev.SyncFinished), 15)
            assert isinstance(finished, ev.SyncFinished) and finished.success
    assert await core.sync.sync(source_id, full=True)
    assert await cached(core, source_id) == expected(fake)


async def test_a_server_that_fails_every_sync_is_asked_again_after_growing_pauses(
    daemon: tuple[Daemon, Recorder], server: FakeJellyfinServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that answers its connection check but fails every listing (a proxy's HTTP 503) is
    not asked again at once: reeld reconnects, and syncs, after a pause that grows with each failure."""
    # Without the jitter (a quarter either way): 2 s then 2.6 s overlapped, and the check flaked.
    monkeypatch.setattr(backoff.random, "uniform", lambda low, high: 1.0)
    core, recorder = daemon
    source_id = await added(daemon, server)
    server.wire.add_fault(Fault(FaultKind.STATUS, path="/Items"))
    server.wire.reset_log()
    recorder.events.clear()
    failed_at = []
    for _ in range(3):
        if not failed_at:
            core.sync.request_sync(source_id, False)
        finished = await recorder.wait(
            lambda e: isinstance(e, ev.SyncFinished) and e.source_id == source_id, 20
        )
        assert (
            isinstance(finished, ev.SyncFinished) and not finished.success and "HTTP 503" in finished.message
        )
        failed_at.append(time.monotonic())
    first_pause, second_pause = failed_at[1] - failed_at[0], failed_at[2] - failed_at[1]
    assert 1.9 < first_pause < 2.5 and second_pause > first_pause + 0.3  # 2 s, then 2.6 s
    assert sum(1 for r in server.wire.requests if r.path == "/Items") <= 12  # a few a sync, not hundreds
    server.wire.clear_faults()
    core.reconnect(source_id)  # asked for: at once, and the sync that follows completes
    finished = await recorder.wait(lambda e: isinstance(e, ev.SyncFinished) and e.source_id == source_id, 20)
    assert isinstance(finished, ev.SyncFinished) and finished.success


async def test_a_bad_answer_to_any_request_of_an_incremental_sync_is_said_in_words(
    daemon: tuple[Daemon, Recorder], server: FakeJellyfinServer
) -> None:
    """Each of the sync's requests in turn gets an empty or malformed answer (the counts and id
    lists too, not only the listing pages): the sync fails with words, never a crash."""
    core, recorder = daemon
    source_id = await added(daemon, server)
    server.wire.reset_log()
    assert await core.sync.sync(source_id, full=False)
    requests = sum(1 for r in server.wire.requests if r.path == "/Items")
    assert requests >= 3  # the listings and the counts that prove watch state unchanged
    for kind in (FaultKind.EMPTY, FaultKind.MALFORMED):
        for earlier in range(requests):
            server.wire.clear_faults()
            if earlier:  # answered normally, so that the fault below meets request number `earlier`
                server.wire.add_fault(Fault(FaultKind.LATENCY, path="/Items", times=earlier))
            server.wire.add_fault(Fault(kind, path="/Items", times=1))
            recorder.events.clear()
            await core.sync.sync(source_id, full=False)
            runtime = core.coordinator.get(source_id)
            assert "unexpectedly" not in runtime.state.message, (kind, earlier, runtime.state.message)
            if runtime.state.status is not SourceStatus.CONNECTED:
                core.reconnect(source_id)  # and the sync that follows connecting
                await recorder.wait(lambda e: isinstance(e, ev.SyncFinished), 15)
    server.wire.clear_faults()
    assert await core.sync.sync(source_id, full=False)


async def slow_sync_under_way(
    daemon: tuple[Daemon, Recorder], server: FakeJellyfinServer, full: bool, fault: Fault
) -> tuple[str, "asyncio.Future[bool]"]:
    """The source added, then a sync of it running with ``fault`` (a latency) on its listings:
    the source id and the sync, which has started."""
    core, recorder = daemon
    source_id = await added(daemon, server)
    server.wire.add_fault(fault)
    recorder.events.clear()
    syncing = asyncio.ensure_future(core.sync.sync(source_id, full=full))
    await recorder.wait(lambda e: isinstance(e, ev.SyncProgress) and e.syncing)
    return source_id, syncing


async def test_a_full_sync_asked_for_during_an_incremental_one_runs_right_after_it(
    daemon: tuple[Daemon, Recorder], server: FakeJellyfinServer
) -> None:
    core, recorder = daemon
    latency = Fault(FaultKind.LATENCY, path="/Items", times=2, delay=0.3)
    source_id, incremental = await slow_sync_under_way(daemon, server, False, latency)
    core.sync_source(source_id, True)
    first = await recorder.wait(lambda e: isinstance(e, ev.SyncFinished))
    second = await recorder.wait(lambda e: isinstance(e, ev.SyncFinished), 15)
    assert isinstance(first, ev.SyncFinished) and first.message.startswith("incremental sync")
    assert isinstance(second, ev.SyncFinished) and second.message.startswith("full sync"), second
    assert await incremental


async def test_a_sync_of_an_account_removed_meanwhile_says_so_and_leaves_nothing(
    daemon: tuple[Daemon, Recorder], server: FakeJellyfinServer
) -> None:
    core, recorder = daemon
    latency = Fault(FaultKind.LATENCY, path="/Items", delay=0.5)
    source_id, syncing = await slow_sync_under_way(daemon, server, True, latency)
    await core.remove_account(source_id)
    finished = await recorder.wait(lambda e: isinstance(e, ev.SyncFinished), 15)
    assert isinstance(finished, ev.SyncFinished) and not finished.success
    assert finished.message == "Stopped: the source was removed"
    assert not await syncing
    assert await cached(core, source_id) == {}


async def test_a_source_reconnected_after_a_failed_sync_says_why_until_a_sync_ends(
    daemon: tuple[Daemon, Recorder], server: FakeJellyfinServer
) -> None:
    core, recorder = daemon
    source_id = await added(daemon, server)
    runtime = core.coordinator.get(source_id)
    on_connect: list[str] = []
    core.events.subscribe(
        lambda e: on_connect.append(runtime.state.message) if isinstance(e, ev.SourceConnected) else None
    )
    # Dropped twice: the first drop alone is asked again (a kept-alive connection the server closed).
    server.wire.add_fault(Fault(FaultKind.DROP, path="/Items", times=2))
    assert not await core.sync.sync(source_id, full=True)
    assert runtime.state.status is SourceStatus.OFFLINE
    recorder.events.clear()
    core.reconnect(source_id)  # connected again, it syncs again (sync on start)
    finished = await recorder.wait(lambda e: isinstance(e, ev.SyncFinished), 15)
    assert on_connect and on_connect[0].startswith("The last sync failed: ") and "dropped" in on_connect[0]
    assert isinstance(finished, ev.SyncFinished) and finished.success
    assert runtime.state.message == ""  # that sync went well: nothing to say any more


async def test_stopped_at_the_end_is_watched_here_at_once_and_on_the_server(
    daemon: tuple[Daemon, Recorder], server: FakeJellyfinServer, fake: FakeJellyfin
) -> None:
    core, _ = daemon
    source_id = await added(daemon, server)
    user = fake.users[USER].id
    movie = next(
        i
        for i in fake.items.values()
        if i.type == "Movie" and i.runtime_ticks and not fake.user_data.get((user, i.id))
    )
    item_id = f"{source_id}:{movie.id}"
    runtime_ms = movie.runtime_ticks // 10_000
    await core.report_progress(item_id, runtime_ms + 60_000, "stopped")  # a player overshooting the end
    row = await core.get_item(item_id)
    assert row.watched and row.position_ms == 0 and row.view_count == 1
    await core.sync.replay_pending(source_id)
    state = fake.user_data[(user, movie.id)]
    assert state.played and state.position_ticks == 0


async def test_a_watched_change_the_server_took_before_a_crash_is_not_counted_twice(
    daemon: tuple[Daemon, Recorder],
    server: FakeJellyfinServer,
    fake: FakeJellyfin,
) -> None:
    """Jellyfin counts every POST of a played item as one more play. A kill -9 after the server
    took the change, before the queue forgot it, sent it again after the restart: two plays."""
    core, _ = daemon
    source_id = await added(daemon, server)
    (movie,) = unplayed_movies(fake, 1)
    await watched_then_killed_before_forgotten(core, source_id, movie)
    await core.sync.replay_pending(source_id)
    posts = [r for r in server.wire.requests if r.method == "POST" and r.path == f"/UserPlayedItems/{movie}"]
    assert len(posts) == 1
    assert fake.user_data[(fake.users[USER].id, movie)].play_count == 1
    assert await core.db.read(queries.pending_count) == 0


def unplayed_movies(fake: FakeJellyfin, count: int) -> list[str]:
    user = fake.users[USER].id
    movies = [i.id for i in fake.items.values() if i.type == "Movie" and not fake.user_data.get((user, i.id))]
    return movies[:count]


async def one_refused_one_sent(
    daemon: tuple[Daemon, Recorder], server: FakeJellyfinServer, fake: FakeJellyfin, status: int
) -> tuple[str, str]:
    """Two movies marked watched, the server answering ``status`` for the first: the second still
    reaches it. Returns the source id and the refused movie's id."""
    core, _ = daemon
    source_id = await added(daemon, server)
    refused, other = unplayed_movies(fake, 2)
    server.wire.add_fault(Fault(FaultKind.STATUS, path=f"/UserPlayedItems/{refused}", status=status))
    await core.set_watched(f"{source_id}:{refused}", True)
    await core.set_watched(f"{source_id}:{other}", True)
    await core.sync.replay_pending(source_id)
    assert fake.user_data[(fake.users[USER].id, other)].played  # not held back by the refused one
    return source_id, refused


async def test_a_change_the_server_refuses_holds_back_only_that_items_later_changes(
    daemon: tuple[Daemon, Recorder], server: FakeJellyfinServer, fake: FakeJellyfin
) -> None:
    core, _ = daemon
    source_id, refused = await one_refused_one_sent(daemon, server, fake, 400)
    await core.set_watched(f"{source_id}:{refused}", False)  # after the refused one: waits behind it
    await core.sync.replay_pending(source_id)
    assert await core.db.read(queries.pending_count) == 2
    server.wire.clear_faults()
    server.wire.reset_log()
    await core.sync.replay_pending(source_id)
    sent = [(r.method, r.status) for r in server.wire.requests if r.path == f"/UserPlayedItems/{refused}"]
    assert sent == [("POST", 200), ("DELETE", 200)]  # in the order they were made
    assert not fake.user_data[(fake.users[USER].id, refused)].played
    assert await core.db.read(queries.pending_count) == 0


async def test_a_watch_change_the_server_fails_waits_and_the_source_stays_connected(
    daemon: tuple[Daemon, Recorder], server: FakeJellyfinServer, fake: FakeJellyfin
) -> None:
    """HTTP 500 for one change: that change waits; the source stays connected and syncs, and the
    change reaches the server after the next sync that finds the server well again."""
    core, recorder = daemon
    source_id, failed = await one_refused_one_sent(daemon, server, fake, 500)
    assert core.coordinator.get(source_id).state.status is SourceStatus.CONNECTED
    assert await core.db.read(queries.pending_count) == 1
    assert await core.sync.sync(source_id, full=False)  # the server still fails that call
    await recorder.wait(lambda e: isinstance(e, ev.SyncFinished) and e.source_id == source_id)
    assert core.coordinator.get(source_id).state.status is SourceStatus.CONNECTED
    server.wire.clear_faults()
    replayed = asyncio.ensure_future(server.wire.answered(lambda r: r.path == f"/UserPlayedItems/{failed}"))
    assert await core.sync.sync(source_id, full=False)  # and, after it, the replay in the background
    assert (await replayed).status == 200
    assert fake.user_data[(fake.users[USER].id, failed)].played
    # The replay forgets the change once the server has answered: wait for PendingChanges to say so.
    await recorder.wait(
        lambda e: (
            isinstance(e, ev.SourceChanged)
            and e.source_id == source_id
            and core.coordinator.get(source_id).pending_changes == 0
        )
    )
    assert await core.db.read(queries.pending_count) == 0


async def test_progress_reported_offline_is_queued_as_where_playback_stands(
    daemon: tuple[Daemon, Recorder], server: FakeJellyfinServer, fake: FakeJellyfin
) -> None:
    """Playing reports made while the server is away replace each other in the queue: the server
    later hears where playback stood, not every step of an hour; a stop and what follows it stay."""
    core, _ = daemon
    source_id = await added(daemon, server)
    movie, other = unplayed_movies(fake, 2)
    await server.stop()
    for minute in range(1, 21):
        await core.report_progress(f"{source_id}:{movie}", minute * 60_000, "playing")
    await core.report_progress(f"{source_id}:{other}", 30_000, "paused")
    await core.report_progress(f"{source_id}:{movie}", 21 * 60_000, "paused")
    await core.report_progress(f"{source_id}:{movie}", 22 * 60_000, "stopped")
    await core.report_progress(f"{source_id}:{movie}", 23 * 60_000, "playing")
    queued = await core.db.read(queries.pending_for_source, source_id)
    assert [(a.remote_id, a.position_ms, a.state) for a in queued] == [
        (other, 30_000, "paused"),
        (movie, 21 * 60_000, "paused"),
        (movie, 22 * 60_000, "stopped"),
        (movie, 23 * 60_000, "playing"),
    ]


async def test_a_change_to_an_item_the_server_no_longer_has_waits_until_a_sync_removes_it(
    daemon: tuple[Daemon, Recorder], server: FakeJellyfinServer, fake: FakeJellyfin
) -> None:
    core, _ = daemon
    # As if deleted on the server, and reeld not told yet: the server answers 404 for it.
    source_id, gone = await one_refused_one_sent(daemon, server, fake, 404)
    assert await core.db.read(queries.pending_count) == 1  # a 404 alone drops nothing
    fake.delete_item(gone)
    assert await core.sync.sync(source_id, full=True)  # the listing shows the item gone
    await core.sync.replay_pending(source_id)
    assert await core.db.read(queries.pending_count) == 0


async def test_a_series_marked_watched_is_watched_to_its_last_episode_here_and_on_the_server(
    daemon: tuple[Daemon, Recorder], server: FakeJellyfinServer, fake: FakeJellyfin
) -> None:
    core, _ = daemon
    source_id = await added(daemon, server)
    series = next(i for i in fake.items.values() if i.type == "Series")
    episodes = [i.id for i in fake.items.values() if i.type == "Episode" and i.series_id == series.id]
    before = await cached(core, source_id)
    assert not all(before[episode][2] for episode in episodes)
    await core.set_watched(f"{source_id}:{series.id}", True)
    rows = await cached(core, source_id)
    assert all(rows[episode][2] for episode in episodes)  # at once, before the server answers
    await core.sync.replay_pending(source_id)
    user = fake.users[USER].id
    assert all(fake.user_data[(user, episode)].played for episode in episodes)
    assert await core.sync.sync(source_id, full=True)  # and the server's view agrees
    rows = await cached(core, source_id)
    assert rows[series.id][2] and all(rows[episode][2] for episode in episodes)


async def test_a_sync_asked_for_while_the_server_is_away_ends_at_once_saying_why(
    daemon: tuple[Daemon, Recorder], server: FakeJellyfinServer
) -> None:
    core, recorder = daemon
    source_id = await added(daemon, server)
    await server.stop()
    assert not await core.sync.sync(source_id, full=False)  # finds the server gone
    await recorder.wait(lambda e: isinstance(e, ev.SyncFinished) and e.source_id == source_id)
    runtime = core.coordinator.runtimes[source_id]
    assert runtime.state.status is SourceStatus.OFFLINE
    core.sync_source(source_id, False)
    finished = await recorder.wait(lambda e: isinstance(e, ev.SyncFinished) and e.source_id == source_id)
    assert isinstance(finished, ev.SyncFinished) and not finished.success
    assert finished.message.startswith(f"Not synced: {runtime.source.name} is offline: ")

    # Retries in the background keep the status and its reason: no flicker through "connecting".
    statuses: list[SourceStatus] = []
    core.events.subscribe(
        lambda e: statuses.append(runtime.state.status) if isinstance(e, ev.SourceChanged) else None
    )
    backend = runtime.backend
    assert backend is not None
    attempted = asyncio.Event()
    initialize = backend.initialize

    async def observed_initialize() -> None:
        try:
            await initialize()
        finally:
            attempted.set()

    backend.initialize = observed_initialize  # type: ignore[method-assign]
    core.coordinator.reconnect_offline()
    await asyncio.wait_for(attempted.wait(), 10)
    await asyncio.sleep(0)  # the failed attempt's state is set right after initialize raises
    assert runtime.state.status is SourceStatus.OFFLINE and runtime.state.message
    assert SourceStatus.CONNECTING not in statuses

    # The server is back while reeld waits out a long pause (a minute, after a few failed tries):
    # a sync asked for tries to reach it now.
    runtime.backoff.attempt = 5
    attempted.clear()
    runtime.wake.set()  # one more failed try now, then a pause of about a minute
    await asyncio.wait_for(attempted.wait(), 10)
    back = FakeJellyfinServer(server.fake, port=server.port)
    await back.start()
    try:
        recorder.events.clear()
        core.sync_source(source_id, False)
        await recorder.wait(lambda e: isinstance(e, ev.SourceConnected) and e.source_id == source_id, 5)
    finally:
        await back.stop()


async def test_a_sync_asked_for_while_connecting_runs_once_connected(
    paths: Paths, fake: FakeJellyfin
) -> None:
    server = FakeJellyfinServer(fake)
    await server.start()
    first = make_daemon(paths)
    async with running(first) as recorder:
        source_id = await added((first, recorder), server)
    await server.stop()
    # Not syncing on start, so a sync after connecting is the one asked for.
    paths.config_file.write_text(paths.config_file.read_text() + "\n[sync]\nsync_on_start = false\n")
    again = make_daemon(paths)
    async with running(again) as recorder:
        runtime = again.coordinator.runtimes[source_id]
        assert runtime.state.status is SourceStatus.CONNECTING  # the server is not back yet
        again.sync_source(source_id, True)
        second = FakeJellyfinServer(fake, port=server.port)
        await second.start()
        try:
            again.coordinator.reconnect_offline()
            finished = await recorder.wait(
                lambda e: isinstance(e, ev.SyncFinished) and e.source_id == source_id, 30
            )
            assert isinstance(finished, ev.SyncFinished) and finished.success, finished
            assert again.coordinator.runtimes[source_id].last_full_sync > 0
        finally:
            await stop(second)


async def test_watch_state_set_while_the_server_is_down_is_replayed_after_a_restart(
    paths: Paths, fake: FakeJellyfin
) -> None:
    first_server = FakeJellyfinServer(fake)
    await first_server.start()
    core = make_daemon(paths)
    recorder = Recorder(core)
    await core.start()
    await core.run()
    source_id = await added((core, recorder), first_server)
    movie = next(
        i
        for i in fake.items.values()
        if i.type == "Movie" and not fake.user_data.get((fake.users[USER].id, i.id))
    )
    await first_server.stop()
    await core.set_watched(f"{source_id}:{movie.id}", True)
    await core.report_progress(f"{source_id}:{movie.id}", 90_000, "stopped")
    assert (await core.get_item(f"{source_id}:{movie.id}")).watched
    assert await core.db.read(queries.pending_count) == 2
    await stop(core)

    second_server = FakeJellyfinServer(fake, port=first_server.port)
    await second_server.start()
    again = make_daemon(paths)
    try:
        async with running(again) as recorder:
            await recorder.wait(lambda e: isinstance(e, ev.SyncFinished) and e.source_id == source_id, 30)
            assert await again.db.read(queries.pending_count) == 0
            state = fake.user_data[(fake.users[USER].id, movie.id)]
            assert state.played or state.position_ticks == 90_000 * 10_000
            reports = [kind for kind, body in fake.session_reports if body.get("ItemId") == movie.id]
            assert reports == ["Stopped"]
            assert (await again.get_item(f"{source_id}:{movie.id}")).watched
    finally:
        await second_server.stop()


async def test_stream_url_plays_from_the_fake(
    daemon: tuple[Daemon, Recorder], server: FakeJellyfinServer, fake: FakeJellyfin
) -> None:
    core, _ = daemon
    source_id = await added(daemon, server)
    movie = next(i for i in fake.items.values() if i.type == "Movie")
    url = await core.stream_url(f"{source_id}:{movie.id}")
    assert url.startswith(f"{server.url}/Videos/{movie.id}/stream?") and "static=true" in url
    async with httpx.AsyncClient() as http:
        response = await http.get(url, headers={"Range": "bytes=0-99"})
    assert response.status_code == 206 and len(response.content) == 100


async def test_a_silent_socket_is_detected_and_replaced(
    daemon: tuple[Daemon, Recorder], server: FakeJellyfinServer, fake: FakeJellyfin
) -> None:
    core, recorder = daemon
    fake.keepalive_s = 1  # the daemon keeps alive every 0.5 s and gives up after 2 s of silence
    source_id = await added(daemon, server)
    await asyncio.wait_for(fake.socket_connected.wait(), 5)
    fake.socket_connected.clear()
    fake.socket_silent = True  # a half-open connection: nothing comes back, nothing closes
    await asyncio.wait_for(fake.socket_connected.wait(), 10)
    fake.socket_silent = False
    recorder.events.clear()
    fresh = fake.add_movie("After The Silence")
    await recorder.wait(lambda e: isinstance(e, ev.SourceChanged) and e.source_id == source_id, 3)
    assert fresh.id in await cached(core, source_id)


async def test_one_odd_entry_of_a_watch_state_message_leaves_out_that_entry_only() -> None:
    backend = cast(Any, SimpleNamespace(user_id="u1", source_id="jellyfin_x"))
    data = {
        "UserId": "u1",
        "UserDataList": [
            {"ItemId": "a", "Played": True, "PlayCount": 1},
            {"ItemId": "b", "Played": None, "PlaybackPositionTicks": "many"},  # odd fields: defaults
            "not an entry",
            {"ItemId": "c", "PlaybackPositionTicks": 600_000_000},
        ],
    }
    change = await socket_module._apply(backend, cast(Any, None), "UserDataChanged", data)
    assert change is not None
    assert [(s.remote_id, s.watched, s.position_ms) for s in change.watch_states] == [
        ("a", True, 0),
        ("b", False, 0),
        ("c", False, 60_000),
    ]
