"""SyncManager rules that a person would notice: nothing lost, nothing doubled, the truth shown."""

import asyncio
import threading
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection

from reeld.backends.base import ChangeSet
from reeld.cache import browse, queries
from reeld.config import Paths
from reeld.daemon import Daemon
from reeld.errors import AuthRequired, BackendProtocolError, BackendUnavailable
from reeld.models.media import WatchState
from reeld.models.source import SourceStatus
from reeld.services import activity as activity_module
from reeld.services import events as ev
from reeld.services.activity import CROWDED_CALLS_PER_S, REST_PER_WRITE, ClientActivity
from reeld.services.sync import runner as runner_module
from tests.support.cache import remote_ids
from tests.support.events import Recorder, stop

from .memory_backend import Catalog, MemoryKind, memory_account, movie

SOURCE = "local_mem"


@pytest.fixture
def catalog() -> Catalog:
    return Catalog(libraries={"movies": [movie(n) for n in range(250)]})


@pytest.fixture
async def running(tmp_path: Path, catalog: Catalog) -> AsyncIterator[tuple[Daemon, Recorder]]:
    paths = Paths(config_dir=tmp_path / "config", state_dir=tmp_path / "state")
    daemon = Daemon(paths, kinds=[MemoryKind(catalog)], watch_network=False)
    recorder = Recorder(daemon)
    await daemon.start()
    await daemon.run()
    await daemon.add_account(memory_account(), {})
    yield daemon, recorder
    await stop(daemon)


async def cached_ids(daemon: Daemon) -> set[str]:
    return await daemon.db.read(queries.cached_remote_ids, SOURCE, "movies")


async def test_first_sync_is_full_and_complete(running: tuple[Daemon, Recorder], catalog: Catalog) -> None:
    daemon, recorder = running
    finished = await recorder.sync_finished()
    assert finished.success
    assert await cached_ids(daemon) == {f"m{n}" for n in range(250)}
    assert catalog.listings[0].full and catalog.listings[0].since is None
    runtime = daemon.coordinator.get(SOURCE)
    assert runtime.state.status is SourceStatus.CONNECTED
    assert runtime.last_full_sync > 0
    await recorder.wait(lambda e: isinstance(e, ev.LibrariesChanged))
    assert runtime.item_count == 250 and runtime.library_counts == {"movies": 250}


async def test_progress_is_reported_and_ends_at_one(running: tuple[Daemon, Recorder]) -> None:
    _, recorder = running
    await recorder.sync_finished()
    progress = [e for e in recorder.events if isinstance(e, ev.SyncProgress)]
    assert progress[0].syncing and progress[-1] == ev.SyncProgress(SOURCE, False, 1.0)
    values = [e.progress for e in progress if e.syncing]
    assert values == sorted(values)


async def test_the_scheduled_incremental_sync_runs(
    running: tuple[Daemon, Recorder], catalog: Catalog
) -> None:
    daemon, recorder = running
    await recorder.sync_finished()
    listed = len(catalog.listings)
    recorder.events.clear()
    assert daemon.sync.schedule.scheduler is not None
    job = daemon.sync.schedule.scheduler.get_job(f"{SOURCE}:incremental")
    job.modify(next_run_time=datetime.now(UTC))  # as if its 15 minutes were up
    finished = await recorder.sync_finished()
    assert finished.success
    assert len(catalog.listings) > listed and not catalog.listings[-1].full


async def test_a_sync_reports_what_changed_not_what_it_listed(
    running: tuple[Daemon, Recorder], catalog: Catalog
) -> None:
    daemon, recorder = running
    assert (await recorder.sync_finished()).message == "full sync: 250 items updated"
    recorder.events.clear()
    assert await daemon.sync.sync(SOURCE, full=True)
    assert (await recorder.sync_finished()).message == "full sync: 0 items updated"
    catalog.libraries["movies"][7] = replace(catalog.libraries["movies"][7], title="Renamed", etag="v2-7")
    recorder.events.clear()
    assert await daemon.sync.sync(SOURCE, full=True)
    assert (await recorder.sync_finished()).message == "full sync: 1 item updated"


async def test_incremental_sync_sends_the_stored_cursor(
    running: tuple[Daemon, Recorder], catalog: Catalog
) -> None:
    daemon, recorder = running
    await recorder.sync_finished()
    assert await daemon.sync.sync(SOURCE, full=False)
    assert not catalog.listings[-1].full
    assert catalog.listings[-1].since == "1"


async def test_full_sync_sweeps_deleted_items(running: tuple[Daemon, Recorder], catalog: Catalog) -> None:
    daemon, recorder = running
    await recorder.sync_finished()
    del catalog.libraries["movies"][:10]
    assert await daemon.sync.sync(SOURCE, full=True)
    assert await cached_ids(daemon) == {f"m{n}" for n in range(10, 250)}


async def test_empty_listing_does_not_wipe_the_library_until_confirmed(
    running: tuple[Daemon, Recorder], catalog: Catalog
) -> None:
    daemon, recorder = running
    await recorder.sync_finished()
    catalog.libraries["movies"] = []
    assert await daemon.sync.sync(SOURCE, full=True)
    assert len(await cached_ids(daemon)) == 250  # held: could be a server mid-rescan
    assert await daemon.sync.sync(SOURCE, full=True)
    assert await cached_ids(daemon) == set()  # the second complete listing confirms it


async def test_truncated_listing_sweeps_nothing(running: tuple[Daemon, Recorder], catalog: Catalog) -> None:
    daemon, recorder = running
    await recorder.sync_finished()
    del catalog.libraries["movies"][:5]
    catalog.overstate_total = 5
    assert await daemon.sync.sync(SOURCE, full=True)
    assert len(await cached_ids(daemon)) == 250


async def test_server_error_mid_sync_keeps_the_cache_and_the_next_sync_completes(
    running: tuple[Daemon, Recorder], catalog: Catalog
) -> None:
    daemon, recorder = running
    await recorder.sync_finished()
    catalog.libraries["movies"] = [movie(n, title=f"Renamed {n}") for n in range(300)]
    catalog.libraries["movies"] = [m for m in catalog.libraries["movies"]]
    for n, item in enumerate(catalog.libraries["movies"]):
        catalog.libraries["movies"][n] = replace(item, etag="v2")
    catalog.fail_page = (1, BackendProtocolError("The server sent a truncated page"))
    assert not await daemon.sync.sync(SOURCE, full=True)
    state = await daemon.db.read(queries.library_sync_state, SOURCE, "movies")
    assert state is not None and state.last_error == "The server sent a truncated page"
    assert len(await cached_ids(daemon)) == 250  # first page updated, nothing lost
    assert await daemon.sync.sync(SOURCE, full=True)
    assert len(await cached_ids(daemon)) == 300
    state = await daemon.db.read(queries.library_sync_state, SOURCE, "movies")
    assert state is not None and state.last_error is None


async def test_unreachable_mid_sync_shows_offline_with_the_reason(
    running: tuple[Daemon, Recorder], catalog: Catalog
) -> None:
    daemon, recorder = running
    await recorder.sync_finished()
    catalog.fail_page = (0, BackendUnavailable("Connection refused by 127.0.0.1:9"))
    catalog.fail_connect = BackendUnavailable("Connection refused by 127.0.0.1:9")
    assert not await daemon.sync.sync(SOURCE, full=True)
    runtime = daemon.coordinator.get(SOURCE)
    assert runtime.state.status is SourceStatus.OFFLINE
    assert "Connection refused" in runtime.state.message
    assert len(await cached_ids(daemon)) == 250


async def test_token_revoked_mid_sync_needs_auth_and_keeps_the_cache(
    running: tuple[Daemon, Recorder], catalog: Catalog
) -> None:
    daemon, recorder = running
    await recorder.sync_finished()
    catalog.fail_page = (1, AuthRequired("The server rejected the saved token: log in again"))
    assert not await daemon.sync.sync(SOURCE, full=True)
    runtime = daemon.coordinator.get(SOURCE)
    assert runtime.state.status is SourceStatus.NEEDS_AUTH
    assert daemon.auth.status["local_mem"].attention_needed
    assert len(await cached_ids(daemon)) == 250


async def test_never_two_syncs_of_one_source(running: tuple[Daemon, Recorder], catalog: Catalog) -> None:
    daemon, recorder = running
    await recorder.sync_finished()
    catalog.gate = asyncio.Event()
    recorder.events.clear()
    listings_before = len(catalog.listings)
    first = daemon.sync.request_sync(SOURCE, full=True)
    assert first is not None
    await recorder.wait(lambda e: isinstance(e, ev.SyncProgress) and e.syncing)
    assert daemon.sync.request_sync(SOURCE, full=False) is None
    assert await daemon.sync.sync(SOURCE, full=False) is False
    catalog.gate.set()
    assert await first
    assert len(catalog.listings) == listings_before + 1


async def test_watch_state_set_offline_is_queued_kept_and_replayed(
    running: tuple[Daemon, Recorder], catalog: Catalog
) -> None:
    daemon, recorder = running
    await recorder.sync_finished()
    catalog.fail_watch = BackendUnavailable("Server unreachable")
    catalog.fail_connect = BackendUnavailable("Server unreachable")
    await daemon.set_watched(f"{SOURCE}:m1", True)
    await daemon.report_progress(f"{SOURCE}:m2", 61_000, "stopped")
    row = await daemon.get_item(f"{SOURCE}:m1")
    assert row.watched  # applied to the cache at once
    await recorder.wait(
        lambda e: (
            isinstance(e, ev.SourceChanged)
            and daemon.coordinator.get(SOURCE).state.status is SourceStatus.OFFLINE
        )
    )
    assert await daemon.db.read(queries.pending_count) == 2
    # The server's view (unwatched) arrives in a sync: the person's pending change wins.
    await daemon.db.write(queries.upsert_watch_states, SOURCE, [WatchState("m1", watched=False)])
    assert (await daemon.get_item(f"{SOURCE}:m1")).watched
    catalog.fail_watch = None
    catalog.fail_connect = None
    daemon.reconnect(SOURCE)
    await recorder.wait(lambda e: isinstance(e, ev.SourceConnected))
    await recorder.sync_finished()
    assert catalog.sent == [("watched", "m1", 0), ("stopped", "m2", 61_000)]
    assert await daemon.db.read(queries.pending_count) == 0


async def with_a_shows_library(daemon: Daemon, recorder: Recorder, catalog: Catalog) -> None:
    """After the first sync (started when the account was added), a second library fully synced."""
    await recorder.sync_finished()
    catalog.libraries["shows"] = [movie(n, library="shows") for n in range(1000, 1010)]
    assert await daemon.sync.sync(SOURCE, full=True)


async def test_a_library_that_fails_an_incremental_sync_leaves_the_others_synced(
    running: tuple[Daemon, Recorder], catalog: Catalog
) -> None:
    daemon, recorder = running
    await with_a_shows_library(daemon, recorder, catalog)
    catalog.libraries["movies"].append(replace(movie(900), updated_at=2_000_000_000))
    catalog.fail_library["shows"] = BackendProtocolError("the server sent a malformed page")
    assert not await daemon.sync.sync(SOURCE, full=False)
    assert "m900" in await cached_ids(daemon)  # the movies library synced all the same
    runtime = daemon.coordinator.get(SOURCE)
    assert "Shows: the server sent a malformed page" in runtime.state.message


async def test_a_rejected_login_in_one_library_stops_the_whole_incremental_sync(
    running: tuple[Daemon, Recorder], catalog: Catalog
) -> None:
    daemon, recorder = running
    await with_a_shows_library(daemon, recorder, catalog)
    catalog.gate = asyncio.Event()  # the movies listing waits: it must be cancelled, not left hanging
    catalog.fail_library["shows"] = AuthRequired("The server rejected the saved login")
    assert not await asyncio.wait_for(daemon.sync.sync(SOURCE, full=False), 10)
    assert daemon.coordinator.get(SOURCE).state.status is SourceStatus.NEEDS_AUTH
    assert not daemon.sync.is_syncing(SOURCE)


async def test_an_item_that_moved_keeps_its_watch_state(running: tuple[Daemon, Recorder]) -> None:
    daemon, recorder = running
    await recorder.sync_finished()
    await daemon.db.write(
        queries.upsert_watch_states,
        SOURCE,
        [WatchState("m1", watched=True, view_count=2, last_viewed_at=100)],
    )
    await daemon.db.write(queries.upsert_watch_states, SOURCE, [WatchState("m2", position_ms=61_000)])
    # As a file watcher reports them: the files, with no watch state of their own (it lives here).
    renamed = [replace(movie(n), remote_id=f"m{n}-renamed", watch=None) for n in (1, 2)]
    moves = {"m1": "m1-renamed", "m2": "m2-renamed"}
    await daemon.sync.apply_changes(SOURCE, ChangeSet(upserts=renamed, deleted=["m1", "m2"], moved=moves))
    first = await daemon.get_item(f"{SOURCE}:m1-renamed")
    assert (first.watched, first.view_count, first.last_viewed_at) == (True, 2, 100)
    assert (await daemon.get_item(f"{SOURCE}:m2-renamed")).position_ms == 61_000
    assert {"m1", "m2"}.isdisjoint(await cached_ids(daemon))


async def test_search_finds_titles_by_prefix_across_sources(running: tuple[Daemon, Recorder]) -> None:
    daemon, recorder = running
    await recorder.sync_finished()
    found = await daemon.search("movie 0012", 50, remote_ids)  # the last word is a prefix
    assert set(found) == {f"m{n}" for n in range(120, 130)}
    assert await daemon.search("MOVIE 00012", 50, remote_ids) == ["m12"]
    assert await daemon.search('"AND*', 5, list) == []
    rows = await daemon.db.read(browse.list_library, SOURCE, "movies", 0, 3, "added")
    remote_id = browse.BROWSE_COLUMNS.index("remote_id")
    assert [row[remote_id] for row in rows] == ["m249", "m248", "m247"]


async def test_a_fault_in_reeld_during_a_sync_is_said_without_a_class_name(
    running: tuple[Daemon, Recorder], catalog: Catalog
) -> None:
    daemon, recorder = running
    await recorder.sync_finished()
    catalog.fail_page = (0, RuntimeError("a bug"))  # type: ignore[assignment]  # no ReeldError: a fault
    recorder.events.clear()
    assert not await daemon.sync.sync(SOURCE, full=True)
    finished = await recorder.sync_finished()
    assert finished.message == (
        "Sync failed unexpectedly: a fault in reeld; its log (journalctl --user -u reeld) says more"
    )
    assert await cached_ids(daemon) == {f"m{n}" for n in range(250)}  # nothing lost


async def test_an_older_read_of_the_counts_never_overwrites_a_newer_one(
    running: tuple[Daemon, Recorder], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A count read taken before a sync wrote its items, answered after a read taken after it
    (the cache has several reader threads), left a library showing 0 items in the GTK client."""
    daemon, recorder = running
    await recorder.sync_finished()
    real_counts = queries.item_counts
    newer_read_done = threading.Event()
    calls = 0

    def item_counts(conn: Connection) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
        nonlocal calls
        calls += 1
        if calls == 1:  # the older read: taken before the items were there, answered late
            newer_read_done.wait(timeout=1.0)
            return {}, {}
        counts = real_counts(conn)
        newer_read_done.set()
        return counts

    monkeypatch.setattr(queries, "item_counts", item_counts)
    older = asyncio.create_task(daemon.coordinator.refresh_counts())
    await asyncio.sleep(0)  # the older read is on its thread before the newer one starts
    await daemon.coordinator.refresh_counts()
    await older
    assert daemon.coordinator.get(SOURCE).library_counts == {"movies": 250}


async def test_a_resync_that_changes_nothing_keeps_the_orders_and_counts_readers_use(
    running: tuple[Daemon, Recorder], catalog: Catalog
) -> None:
    """Paging orders, show counts and ranked searches are kept for a cache generation. Every page a
    resync wrote moved it, changed or not, and under 20 busy clients the readers' CPU per call
    doubled for the length of every sync."""
    daemon, recorder = running
    await recorder.sync_finished()
    before = daemon.db.generation
    assert await daemon.sync.sync(SOURCE, full=True)
    assert daemon.db.generation == before
    catalog.libraries["movies"][0] = replace(movie(0), title="Renamed", etag="v2-0")
    assert await daemon.sync.sync(SOURCE, full=True)
    assert daemon.db.generation > before
    assert await daemon.search("renamed", 5, remote_ids) == ["m0"]


async def test_a_sync_is_told_how_long_each_write_took_so_it_can_give_way_to_clients(
    tmp_path: Path, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner_module, "WRITE_BATCH_ITEMS", 100)
    paths = Paths(config_dir=tmp_path / "config", state_dir=tmp_path / "state")
    daemon = Daemon(paths, kinds=[MemoryKind(catalog)], watch_network=False)
    recorder = Recorder(daemon)
    writes: list[float] = []

    async def give_way(worked_s: float) -> None:
        writes.append(worked_s)

    daemon.sync.runner._give_way = give_way
    await daemon.start()
    await daemon.run()
    try:
        await daemon.add_account(memory_account(), {})
        assert (await recorder.sync_finished()).success
        # 250 movies, 100 a write; no rest after the last
        assert len(writes) == 2 and all(worked > 0 for worked in writes)
    finally:
        await stop(daemon)


async def test_a_sync_rests_as_long_as_it_wrote_only_while_clients_crowd_the_daemon() -> None:
    activity = ClientActivity()
    loop = asyncio.get_running_loop()
    for _ in range(CROWDED_CALLS_PER_S - 1):  # a frontend scrolling: the sync keeps its speed
        activity.note_call()
    started = loop.time()
    await activity.give_way(0.2)
    assert loop.time() - started < 0.1
    activity.note_call()  # as many calls a second as 20 busy clients make
    started = loop.time()
    await activity.give_way(0.2)
    assert loop.time() - started >= 0.2 * REST_PER_WRITE


def test_calls_are_counted_per_second_and_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(activity_module.time, "monotonic", lambda: now[0])
    activity = ClientActivity()
    for _ in range(30):
        activity.note_call()
    assert activity.calls_per_s == 30
    now[0] += 1.2
    activity.note_call()
    assert activity.calls_per_s == 30  # the last whole second's, while this one has fewer
    now[0] += 1.0
    assert activity.calls_per_s == 1
    now[0] += 5
    assert activity.calls_per_s == 0 and not activity.busy
