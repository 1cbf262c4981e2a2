"""A folder of media files as a source: Movies, TV Shows, and Other (extras) and Music (audio
files, reeld/backends/local/music.py) while the folder holds such files.

Every listing rescans the folder (a stat per file: cheap) and compares each file's size and
mtime with what the cache knows, so only new or changed files are parsed and probed; the rest
are reported unchanged. Within one process a file is classified at most once per version, so
the Movies, TV Shows and Other listings of one sync share the work. A file watcher pushes
changes between syncs. Watch state lives in the cache only: there is no server to tell.
"""

import asyncio
import dataclasses
import os
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import structlog
from watchfiles import Change

from reeld.backends.base import ChangeSet, ItemPage, KnownItem, MediaBackend, PlaybackState, SyncContext
from reeld.backends.local.classify import Classification, FileKind, classify, extra_or_sample, split_path
from reeld.backends.local.music import (
    MusicListing,
    TrackTags,
    album_of,
    chunks,
    plan_music,
    read_tags_chunk,
    tag_reader,
)
from reeld.backends.local.playback import probe_file, read_playback_info
from reeld.backends.local.scan import (
    MIN_PROBE_BYTES,
    MOVIES,
    MUSIC,
    OTHER,
    SHOWS,
    FileStat,
    FolderIndex,
    IndexEntry,
    WalkResult,
    check_root,
    choose_show_titles,
    file_item,
    index_entry,
    is_audio_name,
    show_and_season_items,
    show_id,
    walk_folder,
)
from reeld.backends.local.watch import apply_batch, folder_events, relative_path
from reeld.errors import InvalidArgument, NotFound
from reeld.models.media import ItemKind, Library, MediaItem
from reeld.models.playback import PlaybackInfo
from reeld.models.source import ConnectionKind

log = structlog.get_logger(__name__)

#: How long the walk taken by ``get_libraries`` may serve the listings that follow it.
SNAPSHOT_REUSE_S = 30.0
#: Items a page carries at most (each may cost a mediainfo probe)...
PAGE_ITEMS = 500
#: ...and ids in all, unchanged ones included.
PAGE_IDS = 1000


@dataclass(slots=True)
class _Listing:
    """One library's listing, planned in a worker thread before the first page goes out."""

    ready: list[MediaItem] = field(default_factory=list)
    #: Files to turn into items; the flag says whether to read a duration.
    files: list[tuple[FileStat, Classification, bool]] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    #: Show titles by key, for the episodes' ``show_title``.
    titles: dict[str, tuple[str, int | None]] = field(default_factory=dict)
    parsed: int = 0
    skipped: int = 0

    @property
    def total(self) -> int:
        return len(self.ready) + len(self.files) + len(self.unchanged)


class LocalBackend(MediaBackend):
    """One local folder. ``path`` need not exist yet: it may be a disk that is not mounted."""

    kind = "local"
    uses_known_items = True
    etag_follows_content = True
    supports_live_updates = True

    def __init__(self, source_id: str, path: str) -> None:
        super().__init__(source_id)
        self.root = os.path.abspath(os.path.expanduser(path))
        # The index and the classification memo are shared by listing threads and the watcher.
        self._lock = threading.Lock()
        self._index = FolderIndex()
        self._memo: dict[str, tuple[str, Classification]] = {}
        self._listed_libraries: set[str] = {MOVIES.remote_id, SHOWS.remote_id}
        # One walk serves a whole sync: get_libraries takes it, each library's listing uses it once.
        self._snapshot: WalkResult | None = None
        self._snapshot_at = 0.0
        self._snapshot_used: set[str] = set()
        self._watch_stops: set[asyncio.Event] = set()
        # The folders holding the music last listed, and above them: a change there is a change of Music.
        self._music_folders: frozenset[str] = frozenset()
        self._closed = False

    # -- lifecycle and identity ---------------------------------------------------------------

    async def initialize(self) -> None:
        """Check the folder is there and readable; raises ``BackendUnavailable`` if not."""
        await asyncio.to_thread(check_root, self.root)

    async def aclose(self) -> None:
        self._closed = True
        for stop in self._watch_stops:
            stop.set()

    def supports_offline(self) -> bool:
        return True

    @property
    def address(self) -> str:
        return Path(self.root).as_uri()

    @property
    def connection_kind(self) -> ConnectionKind:
        return ConnectionKind.FILE

    # -- listing ------------------------------------------------------------------------------

    async def get_libraries(self) -> list[Library]:
        """Movies and TV Shows always; Other only while the folder holds extras, Music audio files."""
        walk = await asyncio.to_thread(self._walk, None)
        libraries = [MOVIES, SHOWS]
        if any(_is_extra(file) for file in walk.files):
            libraries.append(OTHER)
        if walk.audio:
            libraries.append(MUSIC)
        self._listed_libraries = {library.remote_id for library in libraries}
        return libraries

    def listing_is_exhaustive(self, ctx: SyncContext) -> bool:
        return True

    async def list_items(self, library: Library, ctx: SyncContext) -> AsyncIterator[ItemPage]:
        """Every item of ``library``; unchanged files (by size and mtime) only by id unless ``ctx.full``."""
        if library.remote_id == MUSIC.remote_id:
            async for page in self._list_music(ctx):
                yield page
            return
        if library.remote_id not in (MOVIES.remote_id, SHOWS.remote_id, OTHER.remote_id):
            raise NotFound(f"No library {library.remote_id!r} in a local folder")
        started = time.monotonic()
        listing = await asyncio.to_thread(self._plan, library.remote_id, ctx)
        log.info(
            "local_listing",
            source=self.source_id,
            library=library.remote_id,
            total=listing.total,
            parsed=listing.parsed,
            unchanged=len(listing.unchanged),
            skipped=listing.skipped,
            seconds=round(time.monotonic() - started, 3),
        )
        ready, files, unchanged = listing.ready, listing.files, listing.unchanged
        # Shows and seasons lead, so parents are written before their episodes. An empty library
        # still yields one page, with its total of 0.
        while True:
            items, ready = ready[:PAGE_ITEMS], ready[PAGE_ITEMS:]
            chunk, files = files[: PAGE_ITEMS - len(items)], files[PAGE_ITEMS - len(items) :]
            playback: list[tuple[str, PlaybackInfo]] = []
            if chunk:
                probed, playback = await asyncio.to_thread(_file_items, chunk, listing.titles)
                items = [*items, *probed]
            same, unchanged = unchanged[: PAGE_IDS - len(items)], unchanged[PAGE_IDS - len(items) :]
            yield ItemPage(items=items, unchanged=same, total=listing.total, playback=playback)
            if not (ready or files or unchanged):
                return

    async def _list_music(self, ctx: SyncContext) -> AsyncIterator[ItemPage]:
        """The music library: tags read only from new or changed files, off the event loop."""
        started = time.monotonic()
        walk = await asyncio.to_thread(self._walk, MUSIC.remote_id)
        known = {} if ctx.full else ctx.known
        to_read, unchanged, parents = _split_music(walk.audio, known, ctx.known)
        tags = await asyncio.to_thread(_read_all_tags, to_read)
        # The unchanged tracks of the albums that changed, so those albums are sent whole.
        mates = await asyncio.to_thread(_album_mates, walk.audio, to_read, tags, known)
        if mates:
            tags.update(await asyncio.to_thread(_read_all_tags, mates))
        listing: MusicListing = await asyncio.to_thread(
            plan_music, to_read, tags, unchanged, parents, known, mates
        )
        self._music_folders = _folders_of(file.relpath for file in walk.audio)
        log.info(
            "local_music_listing",
            source=self.source_id,
            files=len(walk.audio),
            read=len(to_read),
            album_mates=len(mates),
            unreadable=listing.unreadable,
            unchanged=len(unchanged),
            seconds=round(time.monotonic() - started, 3),
        )
        items, ids = listing.items, listing.unchanged
        total = len(items) + len(ids)
        while True:
            page, items = items[:PAGE_ITEMS], items[PAGE_ITEMS:]
            same, ids = ids[: PAGE_IDS - len(page)], ids[PAGE_IDS - len(page) :]
            yield ItemPage(items=page, unchanged=same, total=total)
            if not (items or ids):
                return

    def _walk(self, library_id: str | None) -> WalkResult:
        """A fresh walk, or the one ``get_libraries`` just took if this library has not used it yet."""
        with self._lock:
            snapshot = self._snapshot
            if (
                library_id is not None
                and snapshot is not None
                and library_id not in self._snapshot_used
                and time.monotonic() - self._snapshot_at < SNAPSHOT_REUSE_S
            ):
                self._snapshot_used.add(library_id)
                return snapshot
        walk = walk_folder(self.root)
        with self._lock:
            self._snapshot, self._snapshot_at = walk, time.monotonic()
            self._snapshot_used = {library_id} if library_id else set()
        return walk

    def _plan(self, library_id: str, ctx: SyncContext) -> _Listing:
        walk = self._walk(library_id)
        listing = _Listing(skipped=walk.skipped)
        known = {} if ctx.full else ctx.known
        entries: dict[str, IndexEntry] = {}
        parents: dict[str, None] = {}  # an ordered set of unchanged seasons and shows
        for file in walk.files:
            seen = known.get(file.relpath)
            if seen is not None and seen.etag == file.etag:
                if _library_of_known(file, seen) != library_id:
                    continue
                season = seen.parent_id
                above = ctx.known.get(season) if season is not None else None
                show = above.parent_id if above is not None else None
                listing.unchanged.append(file.relpath)
                parents.update((group, None) for group in (season, show) if group)
                entries[file.relpath] = IndexEntry(file.etag, library_id, season, show)
                continue
            found = self._classified(file)
            entry = index_entry(file, found)
            if entry is None or entry.library_id != library_id:
                if entry is not None and _moved_from(ctx.known.get(file.relpath), library_id):
                    # Named anew into another library (newer naming rules): kept here until that
                    # library's listing rewrites it, so no sweep deletes it and its watch state first.
                    listing.unchanged.append(file.relpath)
                continue
            entries[file.relpath] = entry
            was = ctx.known.get(file.relpath)
            # A full sync re-sends unchanged files, but the cache keeps their row: no need to probe.
            listing.files.append((file, found, was is None or was.etag != file.etag))
        listing.parsed = len(listing.files)
        if library_id == SHOWS.remote_id:
            self._plan_shows(listing, known, parents)
        ready_ids = {item.remote_id for item in listing.ready}
        listing.unchanged.extend(group for group in parents if group not in ready_ids)
        with self._lock:
            self._index.replace_library(library_id, entries)
            self._index.show_titles.update(listing.titles)
            present = {file.relpath for file in walk.files}
            self._memo = {path: memo for path, memo in self._memo.items() if path in present}
        return listing

    def _plan_shows(
        self, listing: _Listing, known: Mapping[str, KnownItem], parents: dict[str, None]
    ) -> None:
        """Show and season items above the episodes to send; those the cache has stay unchanged."""
        episodes = [(file, found) for file, found, _ in listing.files]
        listing.titles = choose_show_titles(episodes)
        with self._lock:
            remembered = dict(self._index.show_titles)
        for key in listing.titles:
            if show_id(key) in known and key in remembered:
                listing.titles[key] = remembered[key]  # the spelling the cache already shows
        for item in show_and_season_items(episodes, listing.titles):
            if item.remote_id in known:
                parents[item.remote_id] = None
            else:
                listing.ready.append(item)

    def _classified(self, file: FileStat) -> Classification:
        memo = self._memo.get(file.relpath)
        if memo is not None and memo[0] == file.etag:
            return memo[1]
        found = classify(file.relpath, file.size)
        self._memo[file.relpath] = (file.etag, found)
        return found

    # -- live changes -------------------------------------------------------------------------

    async def watch_changes(self) -> AsyncGenerator[ChangeSet, None]:
        """Changes in the folder as they happen (inotify), until ``aclose()``."""
        await asyncio.to_thread(check_root, self.root)
        if self._closed:
            return
        stop = asyncio.Event()
        # One event per watch: watchfiles sets it when the watch is cancelled, which must not end later ones.
        self._watch_stops.add(stop)
        try:
            async for batch in folder_events(self.root, stop):
                if batch is None:  # lost: a rescan finds what it held
                    yield ChangeSet(libraries_to_sync=sorted(self._listed_libraries))
                    continue
                change = await asyncio.to_thread(self._apply, batch)
                if change is not None:
                    yield change
        finally:
            self._watch_stops.discard(stop)

    def _apply(self, batch: set[tuple[Change, str]]) -> ChangeSet | None:
        with self._lock:
            change = apply_batch(self.root, self._index, self._classified, self._listed_libraries, batch)
        if not self._music_changed(batch):
            return change
        # Music is listed again (its unchanged files cost a stat): an album's items depend on its tracks.
        if change is None:
            return ChangeSet(libraries_to_sync=[MUSIC.remote_id])
        return dataclasses.replace(
            change, libraries_to_sync=sorted({*change.libraries_to_sync, MUSIC.remote_id})
        )

    def _music_changed(self, batch: set[tuple[Change, str]]) -> bool:
        """Whether a batch touched an audio file, a folder that held music, or brought a folder in."""
        for change, path in batch:
            if is_audio_name(path):
                return True
            relative = relative_path(self.root, path)
            if relative is not None and relative in self._music_folders:
                return True
            if change is Change.added and _holds_audio(path):
                return True
        return False

    # -- playback and watch state -------------------------------------------------------------

    async def get_stream_url(self, item: MediaItem) -> str:
        """The file's ``file://`` URI."""
        if item.kind not in (ItemKind.MOVIE, ItemKind.EPISODE, ItemKind.VIDEO, ItemKind.TRACK):
            raise InvalidArgument(f"{item.title} is not a playable file")
        return (Path(self.root) / item.remote_id).as_uri()

    async def get_playback_info(self, item: MediaItem) -> PlaybackInfo:
        """The file's tracks and chapters, from mediainfo (off the event loop)."""
        return await asyncio.to_thread(read_playback_info, str(Path(self.root) / item.remote_id))

    async def mark_watched(self, remote_id: str) -> None:
        """Nothing to do: a local source's watch state lives in the cache alone."""

    async def mark_unwatched(self, remote_id: str) -> None:
        """Nothing to do: a local source's watch state lives in the cache alone."""

    async def update_progress(self, remote_id: str, position_ms: int, state: PlaybackState) -> None:
        """Nothing to do: a local source's progress lives in the cache alone."""


def _split_music(
    files: Sequence[FileStat], known: Mapping[str, KnownItem], cached: Mapping[str, KnownItem]
) -> tuple[list[FileStat], list[str], list[str]]:
    """The audio files to read, the unchanged ones, and the albums and artists above those."""
    to_read: list[FileStat] = []
    unchanged: list[str] = []
    parents: dict[str, None] = {}
    for file in files:
        seen = known.get(file.relpath)
        if seen is None or seen.etag != file.etag:
            to_read.append(file)
            continue
        unchanged.append(file.relpath)
        album = seen.parent_id
        if album is not None and album not in parents:
            parents[album] = None
            above = cached.get(album)
            if above is not None and above.parent_id is not None:
                parents[above.parent_id] = None
    return to_read, unchanged, list(parents)


def _album_mates(
    files: Sequence[FileStat],
    changed: Sequence[FileStat],
    tags: Mapping[str, TrackTags | None],
    known: Mapping[str, KnownItem],
) -> list[FileStat]:
    """The unchanged files of the albums that ``changed`` files are in or that lost a file."""
    if not known:
        return []
    albums = {album_of(file, found) for file in changed if (found := tags.get(file.relpath)) is not None}
    present = {file.relpath for file in files}
    albums.update(
        seen.parent_id
        for relpath, seen in known.items()
        if relpath not in present and seen.parent_id is not None and seen.parent_id.startswith("album:")
    )
    if not albums:
        return []
    changed_paths = {file.relpath for file in changed}
    return [
        file
        for file in files
        if file.relpath not in changed_paths
        and (seen := known.get(file.relpath)) is not None
        and seen.parent_id in albums
    ]


def _read_all_tags(files: Sequence[FileStat]) -> dict[str, TrackTags | None]:
    """Each file's tags by relative path, from worker processes for a large batch. Blocking."""
    paths = [file.path for file in files]
    found: list[TrackTags | None] | None = None
    pool = tag_reader(len(paths))
    if pool is not None:
        try:
            with pool:
                found = [tags for part in pool.map(read_tags_chunk, chunks(paths)) for tags in part]
        except Exception as exc:  # no processes to be had (limits, a sandbox): one thread reads them all
            log.warning("local_music_workers_failed", reason=str(exc)[:200] or type(exc).__name__)
    if found is None:
        found = read_tags_chunk(paths)
    return {file.relpath: tags for file, tags in zip(files, found, strict=True)}


def _holds_audio(path: str) -> bool:
    """Whether ``path`` is a folder with an audio file somewhere below it (a folder moved in)."""
    pending = [path]
    while pending:
        try:
            with os.scandir(pending.pop()) as entries:
                for entry in entries:
                    if is_audio_name(entry.name):
                        return True
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(entry.path)
        except OSError:
            continue
    return False


def _folders_of(relpaths: Iterable[str]) -> frozenset[str]:
    folders: set[str] = set()
    for relpath in relpaths:
        folder = relpath.rpartition("/")[0]
        while folder and folder not in folders:
            folders.add(folder)
            folder = folder.rpartition("/")[0]
    return frozenset(folders)


def _moved_from(known: KnownItem | None, library_id: str) -> bool:
    return known is not None and known.library_id == library_id


def _library_of_known(file: FileStat, known: KnownItem) -> str:
    """The library of an unchanged file, without parsing its name: episodes have a season above them,
    extras are told by their folder or suffix, the rest are movies. (So ``known`` may span libraries.)"""
    if known.parent_id is not None and known.parent_id.startswith("season:"):
        return SHOWS.remote_id
    return OTHER.remote_id if _is_extra(file) else MOVIES.remote_id


def _is_extra(file: FileStat) -> bool:
    dirs, stem = split_path(file.relpath)
    found = extra_or_sample(dirs, stem, file.size)
    return found is not None and found.kind is FileKind.EXTRA


def _file_items(
    chunk: Sequence[tuple[FileStat, Classification, bool]], titles: Mapping[str, tuple[str, int | None]]
) -> tuple[list[MediaItem], list[tuple[str, PlaybackInfo]]]:
    """Items of new or changed files, and the playback info of those probed (the same probe gives
    the duration and the tracks)."""
    items: list[MediaItem] = []
    read: list[tuple[str, PlaybackInfo]] = []
    folders: dict[str, list[str] | None] = {}  # each folder listed once for its sidecar subtitles
    for file, found, probe in chunk:
        worth_it = probe and file.size >= MIN_PROBE_BYTES  # no folder listing for what is not probed
        info = probe_file(file, _names_in(folders, os.path.dirname(file.path))) if worth_it else None
        duration = info.duration_ms if info is not None else None
        items.append(file_item(file, found, duration, titles.get(found.show_key, ("", None))[0]))
        if info is not None:
            read.append((file.relpath, info))
    return items, read


def _names_in(folders: dict[str, list[str] | None], folder: str) -> list[str] | None:
    if folder not in folders:
        try:
            folders[folder] = os.listdir(folder)
        except OSError:
            folders[folder] = None
    return folders[folder]
