"""Live changes of a media folder: file-system events turned into cache changes.

watchfiles (inotify) reports paths; a batch is resolved against the ``FolderIndex`` the listings
built, so a deleted file also removes the season and show it was the last of, a renamed file is a
delete plus an add, and a folder moved in is walked. Runs in a worker thread, under the backend's lock.
"""

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field

import structlog
from watchfiles import Change

from reeld.aio import wait_at_most
from reeld.backends.base import ChangeSet, pair_moves
from reeld.backends.local.classify import Classification, FileKind
from reeld.backends.local.scan import (
    NOT_TEXT,
    FileStat,
    FolderIndex,
    IndexEntry,
    check_root,
    choose_show_titles,
    file_item,
    has_text_name,
    index_entry,
    is_hidden,
    is_video_name,
    printable_path,
    read_duration_ms,
    show_and_season_items,
    show_id,
    stat_file,
    walk_folder,
)
from reeld.models.media import MediaItem

log = structlog.get_logger(__name__)

#: Longest a burst of events is gathered before it is handled, in milliseconds.
DEBOUNCE_MS = 200
#: Quiet time after which gathered events are handled at once.
STEP_MS = 50
#: How long a watch that lost a batch waits before it starts again.
LOST_BATCH_PAUSE_S = 0.5
LOST_BATCH_MAX_PAUSE_S = 60.0


def relative_path(root: str, path: str) -> str | None:
    """``path`` relative to ``root`` with ``/`` separators; "" for the root, None outside it."""
    relative = os.path.relpath(path, root)
    if relative == ".":
        return ""
    if relative.startswith(".." + os.sep) or relative == "..":
        return None
    return relative.replace(os.sep, "/")


def wanted(root: str, path: str) -> bool:
    """Whether an event's path may matter: inside the folder and not hidden."""
    relative = relative_path(root, path)
    return relative is not None and not any(is_hidden(part) for part in relative.split("/") if part)


async def folder_events(root: str, stop: asyncio.Event) -> AsyncIterator[set[tuple[Change, str]] | None]:
    """Batches of (change, absolute path) until ``stop`` is set; None for a batch that was lost.

    watchfiles gives up on a batch holding a path that is not UTF-8 (Linux allows any bytes in a
    name), and its watch ends with it: the watch is started again, and the caller rescans for
    whatever else that batch held.
    """
    from watchfiles import awatch

    pause_s = LOST_BATCH_PAUSE_S
    while not stop.is_set():
        try:
            async for batch in awatch(
                root,
                watch_filter=lambda _change, path: wanted(root, path),
                debounce=DEBOUNCE_MS,
                step=STEP_MS,
                stop_event=stop,
                ignore_permission_denied=True,
            ):
                pause_s = LOST_BATCH_PAUSE_S
                yield batch
            return
        except Exception as exc:
            if not _watchfiles_failed(exc):
                raise
            log.warning("local_watch_batch_lost", reason=_printable(exc), next_try_s=pause_s)
        # Such a file that keeps changing (a download) loses batch after batch: back off, up to a minute.
        await wait_at_most(stop, pause_s)
        pause_s = min(pause_s * 2, LOST_BATCH_MAX_PAUSE_S)
        if not stop.is_set():
            yield None


def _watchfiles_failed(exc: Exception) -> bool:
    """Whether ``exc`` is watchfiles' own failure (WatchfilesRustInternalError, a RuntimeError,
    raised through anyio's task group as an exception group)."""
    if isinstance(exc, BaseExceptionGroup):
        return exc.split(RuntimeError)[1] is None
    return isinstance(exc, RuntimeError)


def _printable(exc: BaseException) -> str:
    leaves = exc.exceptions if isinstance(exc, BaseExceptionGroup) else (exc,)
    return "; ".join(str(leaf) for leaf in leaves).encode("utf-8", "backslashreplace").decode()


@dataclass(slots=True)
class _Batch:
    """What one batch did to the index, to be reported as one ``ChangeSet``."""

    removed: set[str] = field(default_factory=set)
    # The etags (size and mtime) of the files removed, and which of the files listed are new: a
    # new file with the etag of one removed in the same batch is that file, renamed or moved.
    removed_etags: dict[str, str] = field(default_factory=dict)
    new_files: set[str] = field(default_factory=set)
    files: dict[str, tuple[FileStat, Classification]] = field(default_factory=dict)
    # Season and show ids touched, and whether each existed before the batch.
    groups_before: dict[str, bool] = field(default_factory=dict)
    libraries_to_sync: set[str] = field(default_factory=set)


def apply_batch(
    root: str,
    index: FolderIndex,
    classify: Callable[[FileStat], Classification],
    listed_libraries: set[str],
    changes: Iterable[tuple[Change, str]],
) -> ChangeSet | None:
    """Bring ``index`` up to date with ``changes`` and say what the cache must do; None if nothing.

    Raises ``BackendUnavailable`` when the folder itself went away: an unmounted disk must not
    look like every file deleted.
    """
    check_root(root)
    removals, candidates = _resolve(root, index, changes)
    batch = _Batch()
    for relpath in removals:
        entry = index.files.get(relpath)
        if entry is not None:
            _note(batch, index, entry)  # before the pop: whether its season and show existed
            index.pop(relpath)
            batch.removed_etags[relpath] = entry.etag
        if entry is not None or is_video_name(relpath):
            batch.removed.add(relpath)
    for file in candidates:
        _upsert(batch, index, classify, listed_libraries, file)
    return _change_set(batch, index)


def _resolve(
    root: str, index: FolderIndex, changes: Iterable[tuple[Change, str]]
) -> tuple[list[str], list[FileStat]]:
    """The indexed files that are gone, and the files that are there to (re)consider."""
    removals: set[str] = set()
    candidates: dict[str, FileStat] = {}
    for change, path in changes:
        relative = relative_path(root, path)
        if not relative:
            continue
        if not has_text_name(relative):  # never listed: nothing to add, nothing to delete
            log.warning("local_path_skipped", path=printable_path(path), reason=NOT_TEXT)
            continue
        if os.path.isdir(path):
            if change is Change.added:
                # A folder moved or copied in: its files raise no events of their own.
                candidates.update((f.relpath, f) for f in walk_folder(root, under=relative).files)
            continue
        file = stat_file(root, relative)
        if file is not None:
            candidates[relative] = file
        else:
            removals.update(index.under(relative) or [relative])
    return sorted(removals - candidates.keys()), [candidates[k] for k in sorted(candidates)]


def _note(batch: _Batch, index: FolderIndex, entry: IndexEntry) -> None:
    if entry.season_id is not None and entry.season_id not in batch.groups_before:
        batch.groups_before[entry.season_id] = index.has_season(entry.season_id)
    if entry.show_id is not None and entry.show_id not in batch.groups_before:
        batch.groups_before[entry.show_id] = index.has_show(entry.show_id)


def _upsert(
    batch: _Batch,
    index: FolderIndex,
    classify: Callable[[FileStat], Classification],
    listed_libraries: set[str],
    file: FileStat,
) -> None:
    old = index.files.get(file.relpath)
    if old is not None and old.etag == file.etag:
        return
    found = classify(file)
    entry = index_entry(file, found)
    if old is not None:
        _note(batch, index, old)
        index.pop(file.relpath)
    else:
        batch.new_files.add(file.relpath)
    if entry is None:  # now a sample: no longer listed
        if old is not None:
            batch.removed.add(file.relpath)
        return
    _note(batch, index, entry)
    index.put(file.relpath, entry)
    if entry.library_id not in listed_libraries:
        # The Other library appears with its first extra: a listing creates it, then fills it.
        batch.libraries_to_sync.add(entry.library_id)
        return
    batch.files[file.relpath] = (file, found)


def _change_set(batch: _Batch, index: FolderIndex) -> ChangeSet | None:
    exists = {
        group: index.has_season(group) if group.startswith("season:") else index.has_show(group)
        for group in batch.groups_before
    }
    gone = [group for group, before in batch.groups_before.items() if before and not exists[group]]
    episodes = [(file, found) for file, found in batch.files.values() if found.kind is FileKind.EPISODE]
    titles = choose_show_titles(episodes)
    for key in titles:
        # An existing show keeps the spelling it was sent with.
        if batch.groups_before.get(show_id(key)) and key in index.show_titles:
            titles[key] = index.show_titles[key]
    index.show_titles.update(titles)
    new_groups = [
        item
        for item in show_and_season_items(episodes, titles)
        if not batch.groups_before.get(item.remote_id, True) and exists.get(item.remote_id, False)
    ]
    files = [
        file_item(file, found, read_duration_ms(file), titles.get(found.show_key, (None, None))[0])
        for file, found in batch.files.values()
    ]
    deleted = sorted(batch.removed - batch.files.keys()) + sorted(gone)
    upserts: list[MediaItem] = [*new_groups, *files]
    if not (upserts or deleted or batch.libraries_to_sync):
        return None
    moved = _moves(batch)
    log.info("local_changes", upserts=len(upserts), deleted=len(deleted), moved=len(moved))
    return ChangeSet(
        upserts=upserts, deleted=deleted, moved=moved, libraries_to_sync=sorted(batch.libraries_to_sync)
    )


def _moves(batch: _Batch) -> dict[str, str]:
    """Removed file -> new file with the same size and mtime, where that pairing is unambiguous."""
    gone = {relpath: etag for relpath, etag in batch.removed_etags.items() if relpath not in batch.files}
    arrived = {relpath: batch.files[relpath][0].etag for relpath in batch.new_files & batch.files.keys()}
    return pair_moves(gone, arrived)
