"""A local folder as a source: what a scan lists, what a rescan sends again, and what the watcher pushes."""

import asyncio
import contextlib
import os
import pickle
import shutil
import tempfile
import time
import wave
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from reeld.backends.base import ChangeSet, KnownItem, SyncContext
from reeld.backends.local.backend import LocalBackend
from reeld.cache import queries
from reeld.config import Paths
from reeld.daemon import Daemon
from reeld.errors import BackendUnavailable, InvalidArgument
from reeld.fakes.media_folder import SampleFolder, make_sample_folder
from reeld.models.media import ItemKind, Library, LibraryKind, MediaItem
from reeld.models.source import ConnectionKind
from reeld.services import events as ev
from tests.support.events import stop

Known = dict[str, dict[str, KnownItem]]


@dataclass
class Listing:
    items: dict[str, MediaItem]
    unchanged: set[str]

    @property
    def ids(self) -> set[str]:
        return set(self.items) | self.unchanged


async def list_library(backend: LocalBackend, library: Library, ctx: SyncContext) -> Listing:
    """A listing as the SyncManager consumes it, checking what it relies on: no id twice, an exact total."""
    items: dict[str, MediaItem] = {}
    unchanged: set[str] = set()
    totals = set()
    async for page in backend.list_items(library, ctx):
        assert len(page.items) + len(page.unchanged) <= 1000
        for item in page.items:
            assert item.remote_id not in items and item.remote_id not in unchanged
            assert item.library_id == library.remote_id
            items[item.remote_id] = item
        for remote_id in page.unchanged:
            assert remote_id not in items and remote_id not in unchanged
            unchanged.add(remote_id)
        totals.add(page.total)
    # The sweep is skipped when a listing names fewer ids than its total: it must be exact.
    assert totals == {len(items) + len(unchanged)}
    return Listing(items, unchanged)


async def sync(backend: LocalBackend, known: Known | None = None, full: bool = False) -> dict[str, Listing]:
    listings = {}
    for library in await backend.get_libraries():
        lib_known = (known or {}).get(library.remote_id, {})
        ctx = SyncContext(full=full or known is None, known=lib_known)
        listings[library.remote_id] = await list_library(backend, library, ctx)
    return listings


def cache_after(listings: dict[str, Listing], before: Known | None = None) -> Known:
    """What the cache holds after a sync: sent items, unchanged ones kept, the rest swept."""
    known: Known = {}
    for library_id, listing in listings.items():
        old = (before or {}).get(library_id, {})
        lib = known[library_id] = {rid: KnownItem(i.etag, i.parent_id) for rid, i in listing.items.items()}
        lib.update((rid, old[rid]) for rid in listing.unchanged)
    return known


@pytest.fixture
def sample(tmp_path: Path) -> SampleFolder:
    return make_sample_folder(tmp_path / "media", movies=40, shows=8, seasons=2, episodes=4)


@pytest.fixture
async def backend(sample: SampleFolder) -> AsyncIterator[LocalBackend]:
    async with LocalBackend("local_test", str(sample.root)) as live:
        yield live


def touch(path: Path, data: bytes = b"new file\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


# -- scanning ------------------------------------------------------------------------------------


async def test_full_scan_lists_what_the_folder_holds(backend: LocalBackend, sample: SampleFolder) -> None:
    listings = await sync(backend)
    assert [(lib.remote_id, lib.title, lib.kind) for lib in await backend.get_libraries()] == [
        ("movies", "Movies", LibraryKind.MOVIES),
        ("shows", "TV Shows", LibraryKind.SHOWS),
        ("other", "Other", LibraryKind.OTHER),
    ]
    items = {rid: item for listing in listings.values() for rid, item in listing.items.items()}
    for expected in sample.files:
        item = items.get(expected.relpath)
        if expected.kind == "ignored":
            assert item is None, expected.relpath
            continue
        assert item is not None, expected.relpath
        if expected.kind == "movie":
            assert (item.kind, item.title, item.year) == (ItemKind.MOVIE, expected.title, expected.year)
        elif expected.kind == "other":
            assert (item.kind, item.library_id, item.title) == (ItemKind.VIDEO, "other", expected.title)
        else:
            assert (item.kind, item.title, item.parent_index, item.index) == (
                ItemKind.EPISODE,
                expected.title,
                expected.season,
                expected.episode,
            )
            season = items[item.parent_id or ""]
            show = items[season.parent_id or ""]
            assert (show.title, show.year) == (expected.show, expected.show_year)
            assert item.show_title == season.show_title == show.title
            assert season.index == expected.season
    by_kind = [item.kind for item in items.values()]
    assert by_kind.count(ItemKind.SHOW) == sample.shows
    assert by_kind.count(ItemKind.SEASON) == sample.seasons
    assert by_kind.count(ItemKind.EPISODE) == sample.episodes
    assert by_kind.count(ItemKind.MOVIE) == sample.movies
    assert len(listings["other"].items) == sample.others


async def test_files_carry_their_path_size_and_times(backend: LocalBackend, sample: SampleFolder) -> None:
    movie = next(f for f in sample.files if f.kind == "movie")
    path = sample.root / movie.relpath
    info = path.stat()
    item = (await sync(backend))["movies"].items[movie.relpath]
    assert item.extra == {"path": str(path), "size": info.st_size, "mtime": int(info.st_mtime)}
    assert item.etag.startswith(f"{info.st_size}:{info.st_mtime_ns}:")  # then the naming rules' version
    assert item.updated_at == int(info.st_mtime) and item.added_at == int(info.st_ctime)
    assert item.duration_ms is None  # the sample files are not real media


async def test_real_media_gets_a_duration(tmp_path: Path) -> None:
    # A WAV stream in a video-named file: real media that mediainfo reads, written without any encoder.
    with wave.open(str(tmp_path / "Home.Recording.2020.mkv"), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\0\0" * 8000 * 5)
    touch(tmp_path / "Not.Media.Either.2021.mkv", os.urandom(100_000))
    async with LocalBackend("local_test", str(tmp_path)) as backend:
        movies = (await sync(backend))["movies"].items
    assert movies["Home.Recording.2020.mkv"].duration_ms == 5000
    assert movies["Not.Media.Either.2021.mkv"].duration_ms is None


async def test_ids_are_stable_across_restarts(sample: SampleFolder) -> None:
    first = await sync(LocalBackend("local_test", str(sample.root)))
    again = await sync(LocalBackend("local_test", str(sample.root)))
    assert first == again
    shows = [rid for rid in first["shows"].items if rid.startswith("show:")]
    assert all(rid == rid.casefold() for rid in shows)


async def test_other_is_listed_only_while_there_are_extras(tmp_path: Path) -> None:
    touch(tmp_path / "Movie.2001.mkv")
    async with LocalBackend("local_test", str(tmp_path)) as backend:
        assert [lib.remote_id for lib in await backend.get_libraries()] == ["movies", "shows"]
        touch(tmp_path / "Movie (2001)" / "Extras" / "Interview.mkv")
        assert [lib.remote_id for lib in await backend.get_libraries()] == ["movies", "shows", "other"]


async def test_one_show_whatever_the_case_of_its_files(tmp_path: Path) -> None:
    for name in ("Dark.S01E01.mkv", "dark.s01e02.mkv", "DARK.S02E01.mkv", "Dark.S01E03.mkv"):
        touch(tmp_path / name)
    async with LocalBackend("local_test", str(tmp_path)) as backend:
        shows = (await sync(backend))["shows"].items
    assert [(i.remote_id, i.title) for i in shows.values() if i.kind is ItemKind.SHOW] == [
        ("show:dark", "Dark")
    ]
    assert {i.remote_id for i in shows.values() if i.kind is ItemKind.SEASON} == {
        "season:dark:1",
        "season:dark:2",
    }


# -- incremental rescans -------------------------------------------------------------------------


@pytest.mark.parametrize("restarted", [False, True], ids=["same-backend", "after-restart"])
async def test_rescan_sends_only_new_and_changed_files(
    backend: LocalBackend, sample: SampleFolder, restarted: bool
) -> None:
    before = cache_after(await sync(backend))
    root = sample.root
    episodes = [f for f in sample.files if f.kind == "episode"]
    movies = [f for f in sample.files if f.kind == "movie"]
    # Changed: a movie rewritten, an episode added to a known season, a whole new show.
    changed_movie = movies[1].relpath
    touch(root / changed_movie, b"a longer file than before\n")
    kept_episode = next(f for f in episodes if f.relpath.startswith("TV/") and "/Season 1/" in f.relpath)
    new_episode = str(Path(kept_episode.relpath).parent / "99 - Bonus.mkv")
    touch(root / new_episode)
    touch(root / "New Show" / "New.Show.S01E01.mkv")
    # Gone: a movie, and every episode of one season of a show that has another season.
    deleted_movie = movies[2].relpath
    (root / deleted_movie).unlink()
    show = next(f for f in episodes if f.relpath.startswith("TV/"))
    key = f"{show.show}{f' {show.show_year}' if show.show_year else ''}".lower()
    emptied = [f.relpath for f in episodes if f.show == show.show and f.season == 2]
    for relpath in emptied:
        (root / relpath).unlink()
    assert f"season:{key}:2" in before["shows"]

    rescanner = LocalBackend("local_test", str(root)) if restarted else backend
    listings = await sync(rescanner, before)

    sent = {rid for listing in listings.values() for rid in listing.items}
    assert sent == {
        changed_movie,
        new_episode,
        "show:new show",
        "season:new show:1",
        "New Show/New.Show.S01E01.mkv",
    }
    still_there = {rid for lib in before.values() for rid in lib} - {
        deleted_movie,
        *emptied,
        f"season:{key}:2",
    }
    unchanged = {rid for listing in listings.values() for rid in listing.unchanged}
    assert unchanged == still_there - sent
    # The show keeps its other seasons, so it is still named; the emptied season is not (the sweep removes it).
    assert f"show:{key}" in unchanged and f"season:{key}:1" in unchanged
    assert listings["shows"].items[new_episode].show_title == show.show


async def test_full_sync_sends_every_item_again(backend: LocalBackend, sample: SampleFolder) -> None:
    before = cache_after(await sync(backend))
    listings = await sync(backend, before, full=True)
    assert all(not listing.unchanged for listing in listings.values())
    assert {lib: set(listing.items) for lib, listing in listings.items()} == {
        lib: set(ids) for lib, ids in before.items()
    }


# -- a folder that is not there, or not readable -----------------------------------------------------


async def test_a_missing_folder_is_unavailable_not_empty(tmp_path: Path) -> None:
    backend = LocalBackend("local_test", str(tmp_path / "Unplugged Disk"))
    message = f"Folder {tmp_path / 'Unplugged Disk'} is missing or not mounted"
    with pytest.raises(BackendUnavailable, match="missing or not mounted") as raised:
        await backend.initialize()
    assert str(raised.value) == message
    with pytest.raises(BackendUnavailable, match="missing or not mounted"):
        await backend.get_libraries()
    with pytest.raises(BackendUnavailable, match="missing or not mounted"):
        await list_library(backend, Library("movies", "Movies", LibraryKind.MOVIES), SyncContext(full=True))


async def test_a_folder_unmounted_after_a_sync_is_unavailable(
    backend: LocalBackend, sample: SampleFolder
) -> None:
    before = cache_after(await sync(backend))
    shutil.rmtree(sample.root)
    with pytest.raises(BackendUnavailable, match="missing or not mounted"):
        await sync(backend, before)


@contextlib.contextmanager
def shared_temp_dir() -> Iterator[Path]:
    """A temp dir another user can enter (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="reeld-local-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for folder, dirs, _ in os.walk(path):
            for name in dirs:
                os.chmod(os.path.join(folder, name), 0o755)
        path.chmod(0o755)
        shutil.rmtree(path)


def as_unprivileged(work: Callable[[], Any]) -> Any:
    """``work()`` run by a user that permissions apply to: ``nobody`` in a forked child when we are root
    (root reads anything, so chmod 000 would prove nothing), else this process."""
    if os.geteuid() != 0:
        return work()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop root, run, send the result back, never return into pytest
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            payload = pickle.dumps(("ok", work()))
        except BaseException as exc:
            payload = pickle.dumps(("error", f"{exc.__class__.__name__}: {exc}"))
        with os.fdopen(write_end, "wb") as out:
            out.write(payload)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as source:
        status, value = pickle.loads(source.read())
    os.waitpid(pid, 0)
    assert status == "ok", value
    return value


def scan_with_logs(root: Path) -> tuple[set[str], list[dict[str, Any]]]:
    async def scan() -> set[str]:
        listings = await sync(LocalBackend("local_test", str(root)))
        return {rid for listing in listings.values() for rid in listing.items}

    with capture_logs() as logs:
        listed = asyncio.run(scan())
    return listed, [{k: v for k, v in log.items() if isinstance(v, str | int)} for log in logs]


def test_unreadable_files_and_folders_are_skipped_and_reported() -> None:
    with shared_temp_dir() as root:
        touch(root / "Readable.Movie.2001.mkv")
        touch(root / "Locked" / "Inside.Locked.2002.mkv")
        touch(root / "Private.Movie.2003.mkv")
        (root / "Locked").chmod(0o000)
        (root / "Private.Movie.2003.mkv").chmod(0o000)
        listed, logs = as_unprivileged(lambda: scan_with_logs(root))
    assert listed == {"Readable.Movie.2001.mkv"}
    skipped = {log["path"] for log in logs if log["event"] == "local_path_skipped"}
    assert skipped == {str(root / "Locked"), str(root / "Private.Movie.2003.mkv")}
    assert all(log["skipped"] == 2 for log in logs if log["event"] == "local_listing")


def not_utf8(folder: Path, name: bytes) -> Path:
    """A file in ``folder`` whose name is bytes that are not UTF-8 (Linux allows any)."""
    path = Path(os.fsdecode(os.path.join(os.fsencode(folder), name)))
    path.write_bytes(b"not text")
    return path


def test_a_file_whose_name_is_not_utf8_is_skipped_and_named_in_the_log(tmp_path: Path) -> None:
    touch(tmp_path / "Good.Movie.2001.mkv")
    not_utf8(tmp_path, b"Bad\xffName.2002.mkv")
    listed, logs = scan_with_logs(tmp_path)
    assert listed == {"Good.Movie.2001.mkv"}
    skipped = [log for log in logs if log["event"] == "local_path_skipped"]
    assert skipped == [
        {
            "event": "local_path_skipped",
            "log_level": "warning",
            "path": f"{tmp_path}/Bad\\xffName.2002.mkv",
            "reason": "its name is not valid UTF-8",
        }
    ]


def test_an_unreadable_folder_says_permission_denied() -> None:
    def initialize() -> str:
        try:
            asyncio.run(LocalBackend("local_test", str(root)).initialize())
        except BackendUnavailable as exc:
            return str(exc)
        return "no error"

    with shared_temp_dir() as root:
        root.chmod(0o000)
        assert as_unprivileged(initialize) == f"Permission denied reading folder {root}"


async def test_symlink_loops_are_followed_once(tmp_path: Path) -> None:
    touch(tmp_path / "Movies" / "Looped.Movie.2001.mkv")
    (tmp_path / "Movies" / "again").symlink_to(tmp_path / "Movies")
    (tmp_path / "Elsewhere").symlink_to(tmp_path / "Movies")
    async with LocalBackend("local_test", str(tmp_path)) as backend:
        movies = (await sync(backend))["movies"].items
    assert len(movies) == 1 and next(iter(movies.values())).title == "Looped Movie"


# -- live changes ------------------------------------------------------------------------------


class Watch:
    """The backend's change stream, consumed in a task as the SyncManager does."""

    def __init__(self, backend: LocalBackend, root: Path) -> None:
        self.backend, self.root = backend, root
        self.changes: asyncio.Queue[ChangeSet] = asyncio.Queue()
        self.task = asyncio.get_running_loop().create_task(self._consume())

    async def _consume(self) -> None:
        async for change in self.backend.watch_changes():
            await self.changes.put(change)

    async def ready(self) -> None:
        """Write a probe until the watcher reports it: from then on, inotify is watching."""
        probe = self.root / "Probe.Film.1999.mkv"
        for attempt in range(50):
            touch(probe, b"probe %d" % attempt)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.until(lambda up, _: probe.name in up), 0.2)
                break
        probe.unlink()
        await self.until(lambda _, gone: probe.name in gone)

    async def until(
        self, done: Callable[[set[str], set[str]], bool], timeout: float = 2.0
    ) -> tuple[set[str], set[str], list[ChangeSet]]:
        """Change sets until ``done(upserted ids, deleted ids)``; fails after ``timeout`` seconds."""
        upserted: set[str] = set()
        deleted: set[str] = set()
        seen: list[ChangeSet] = []
        async with asyncio.timeout(timeout):
            while not done(upserted, deleted):
                change = await self.changes.get()
                seen.append(change)
                upserted |= {item.remote_id for item in change.upserts}
                deleted |= set(change.deleted)
        return upserted, deleted, seen


@pytest.fixture
async def watch(backend: LocalBackend, sample: SampleFolder) -> AsyncIterator[Watch]:
    await sync(backend)  # the watcher knows seasons and shows from the last scan
    watching = Watch(backend, sample.root)
    await watching.ready()
    yield watching
    await backend.aclose()
    await asyncio.wait_for(watching.task, 2)


async def test_watcher_reports_an_added_file_quickly(watch: Watch, sample: SampleFolder) -> None:
    started = time.monotonic()
    touch(sample.root / "Fresh.Arrival.2024.1080p.mkv")
    _, _, changes = await watch.until(lambda up, _: "Fresh.Arrival.2024.1080p.mkv" in up)
    assert time.monotonic() - started < 2.0
    item = next(i for c in changes for i in c.upserts if i.remote_id == "Fresh.Arrival.2024.1080p.mkv")
    assert (item.kind, item.title, item.year, item.library_id) == (
        ItemKind.MOVIE,
        "Fresh Arrival",
        2024,
        "movies",
    )


async def test_watcher_reports_a_new_show_with_its_season(watch: Watch, sample: SampleFolder) -> None:
    touch(sample.root / "Fresh Show" / "Season 1" / "Fresh.Show.S01E01.mkv")
    upserted, _, changes = await watch.until(lambda up, _: "show:fresh show" in up)
    assert {"show:fresh show", "season:fresh show:1", "Fresh Show/Season 1/Fresh.Show.S01E01.mkv"} <= upserted
    order = [item.remote_id for change in changes for item in change.upserts]
    assert order.index("show:fresh show") < order.index("Fresh Show/Season 1/Fresh.Show.S01E01.mkv")


async def test_watcher_reports_a_rename_as_delete_and_add(watch: Watch, sample: SampleFolder) -> None:
    movie = next(f for f in sample.files if f.kind == "movie").relpath
    (sample.root / movie).rename(sample.root / "Renamed.Film.2011.mkv")
    upserted, deleted, changes = await watch.until(
        lambda up, gone: "Renamed.Film.2011.mkv" in up and movie in gone
    )
    assert upserted == {"Renamed.Film.2011.mkv"} and deleted == {movie}
    # Same size and mtime, gone and arrived together: the same file, which keeps its watch state.
    assert [change.moved for change in changes if change.moved] == [{movie: "Renamed.Film.2011.mkv"}]


async def test_watcher_deletes_a_season_and_show_with_their_last_episode(
    watch: Watch, sample: SampleFolder
) -> None:
    show = next(f.show for f in sample.files if f.kind == "episode" and f.relpath.startswith("TV/"))
    assert show is not None
    key = show.lower()
    files = [f for f in sample.files if f.kind == "episode" and f.show == show]
    for f in files:
        if f.season == 2:
            (sample.root / f.relpath).unlink()
    _, deleted, _ = await watch.until(lambda _, gone: f"season:{key}:2" in gone)
    assert f"show:{key}" not in deleted
    for f in files:
        if f.season != 2:
            (sample.root / f.relpath).unlink()
    _, deleted, _ = await watch.until(lambda _, gone: f"show:{key}" in gone)
    assert {f.relpath for f in files if f.season != 2} <= deleted


async def test_watcher_deletes_a_show_with_its_only_episode(watch: Watch, sample: SampleFolder) -> None:
    episode = sample.root / "Solo Show" / "Solo.Show.S01E01.mkv"
    touch(episode)
    await watch.until(lambda up, _: "show:solo show" in up)
    episode.unlink()
    _, deleted, _ = await watch.until(lambda _, gone: "show:solo show" in gone)
    assert deleted == {"Solo Show/Solo.Show.S01E01.mkv", "season:solo show:1", "show:solo show"}


async def test_watcher_asks_for_a_listing_when_the_first_extra_appears(tmp_path: Path) -> None:
    touch(tmp_path / "Movie (2001)" / "Movie (2001).mkv")
    async with LocalBackend("local_test", str(tmp_path)) as backend:
        await sync(backend)
        watching = Watch(backend, tmp_path)
        await watching.ready()
        touch(tmp_path / "Movie (2001)" / "Extras" / "Interview.mkv")
        async with asyncio.timeout(2):
            change = await watching.changes.get()
        # The Other library does not exist yet: a listing creates it, then fills it.
        assert change.libraries_to_sync == ["other"] and not change.upserts
    await asyncio.wait_for(watching.task, 2)


async def test_watcher_stops_when_the_folder_goes_away(tmp_path: Path) -> None:
    root = tmp_path / "disk"
    touch(root / "Movie.2001.mkv")
    async with LocalBackend("local_test", str(root)) as backend:
        await sync(backend)
        watching = Watch(backend, root)
        await watching.ready()
        shutil.rmtree(root)
        # An unmounted disk is not "every file deleted": the watch ends as unavailable, deleting nothing.
        with pytest.raises(BackendUnavailable, match="missing or not mounted"):
            await asyncio.wait_for(watching.task, 2)
        assert watching.changes.empty()


# -- playback and identity -----------------------------------------------------------------------


async def test_stream_urls_are_file_uris(tmp_path: Path) -> None:
    touch(tmp_path / "Films" / "Caf\u00e9 #1 (2001).mkv")
    async with LocalBackend("local_test", str(tmp_path)) as backend:
        movie = next(iter((await sync(backend))["movies"].items.values()))
        url = await backend.get_stream_url(movie)
        assert url == (tmp_path / "Films" / "Caf\u00e9 #1 (2001).mkv").as_uri()
        assert url.startswith("file:///") and "%23" in url and " " not in url
        show = MediaItem("show:x", "shows", ItemKind.SHOW, "X")
        with pytest.raises(InvalidArgument):
            await backend.get_stream_url(show)
        assert backend.supports_offline() and backend.kind == "local"
        assert backend.connection_kind is ConnectionKind.FILE
        assert backend.address == tmp_path.as_uri()


# -- through the daemon ------------------------------------------------------------------------------


async def test_a_local_folder_syncs_into_the_cache_and_follows_changes(
    tmp_path: Path, sample: SampleFolder
) -> None:
    daemon = Daemon(Paths(config_dir=tmp_path / "config", state_dir=tmp_path / "state"), watch_network=False)
    finished: asyncio.Queue[ev.SyncFinished] = asyncio.Queue()
    changed: asyncio.Queue[str] = asyncio.Queue()

    def on_event(event: ev.Event) -> None:
        if isinstance(event, ev.SyncFinished):
            finished.put_nowait(event)
        elif isinstance(event, ev.SourceChanged):
            changed.put_nowait(event.source_id)

    daemon.events.subscribe(on_event)
    await daemon.start()
    await daemon.run()
    try:
        source = await daemon.add_local_folder(str(sample.root))
        assert (await asyncio.wait_for(finished.get(), 10)).success

        async def cached(library: str) -> set[str]:
            return await daemon.db.read(queries.cached_remote_ids, source, library)

        assert len(await cached("movies")) == sample.movies
        assert len(await cached("shows")) == sample.episodes + sample.seasons + sample.shows
        assert len(await cached("other")) == sample.others
        # Nothing changed: nothing is rewritten, shows and seasons included.
        assert await daemon.sync.sync(source, full=True)
        assert (await asyncio.wait_for(finished.get(), 10)).message == "full sync: 0 items updated"

        # A file that appears is in the cache moments later, through the watcher.
        for attempt in range(50):
            touch(sample.root / "Live.Arrival.2024.mkv", b"attempt %d" % attempt)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.get(), 0.3)
            if "Live.Arrival.2024.mkv" in await cached("movies"):
                break
        assert "Live.Arrival.2024.mkv" in await cached("movies")

        async def until_cached(name: str, library: str = "movies") -> None:
            async with asyncio.timeout(10):
                while name not in await cached(library):
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(changed.get(), 0.3)

        # A name that is not UTF-8 ends a watchfiles batch: what else it held, in every library,
        # comes through a rescan, the bad name is passed over, and the watcher goes on.
        not_utf8(sample.root, b"Bad\xffName.2002.mkv")
        touch(sample.root / "Beside.The.Bad.One.2003.mkv")
        touch(sample.root / "Brand New Show" / "Brand.New.Show.S01E01.mkv")
        await until_cached("Beside.The.Bad.One.2003.mkv")
        await until_cached("Brand New Show/Brand.New.Show.S01E01.mkv", "shows")
        touch(sample.root / "Still.Watching.2004.mkv")
        await until_cached("Still.Watching.2004.mkv")

        # After a rescan what went away is gone from the cache (the watcher or the sweep removed it),
        # and every other file is still there.
        gone = next(f.relpath for f in sample.files if f.kind == "movie")
        (sample.root / gone).unlink()
        assert await daemon.sync.sync(source, full=False)
        assert gone not in await cached("movies")
        assert (
            len(await cached("movies")) == sample.movies + 2
        )  # one arrived live, one gone, two after the bad name
    finally:
        await stop(daemon)


async def test_folders_that_contain_each_other_are_refused(tmp_path: Path) -> None:
    """Both would list the same files: every search would find them twice."""
    (tmp_path / "media" / "sub").mkdir(parents=True)
    daemon = Daemon(Paths(config_dir=tmp_path / "config", state_dir=tmp_path / "state"), watch_network=False)
    await daemon.start()
    await daemon.run()
    try:
        first = await daemon.add_local_folder(str(tmp_path / "media"))
        for inside_or_around in (tmp_path / "media" / "sub", tmp_path):
            with pytest.raises(
                InvalidArgument, match=f"overlaps the folder {tmp_path / 'media'} already added"
            ):
                await daemon.add_local_folder(str(inside_or_around))
        assert await daemon.add_local_folder(str(tmp_path / "media")) == first  # the same one: no error
    finally:
        await stop(daemon)
