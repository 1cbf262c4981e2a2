"""The artwork cache on disk: ``$XDG_CACHE_HOME/reeld/artwork/``.

One file per image, kind and width step, named after what it shows::

    3f/1a2b3c-3f9e…d1.poster.5c07….w320.jpg
    <subfolder>/<source digest>-<item digest>.<kind>.<tag digest>.<width step>.<format>

The item digest hashes the source and item ids (ids may hold slashes: local files) and follows
the source's own digest, so a source's images go with it when it is removed; the tag
digest hashes the server's image tag (or a sidecar file's mtime and size), so an image whose tag
changed is another file, and one whose tag did not is never fetched again. Files are written to a
temporary name and renamed: a reader (a frontend handed the path) never sees half an image, and
a daemon killed mid-write leaves only a temporary file, removed at the next start.

The files are the truth: at start a scan rebuilds the index of what is kept. The index answers
the item keys (``poster_path``…) with no file system access. The cache is bounded; past the bound
the least recently used images go first. Use is tracked in memory and written back as the files'
mtimes now and then, so the order survives restarts.

Blocking (file I/O): call ``open``, ``put``, ``forget``, ``forget_source``, ``evict`` and ``flush_use`` off the
event loop. ``path`` and ``lookup`` only read memory and are safe anywhere.
"""

import contextlib
import errno
import functools
import hashlib
import itertools
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import structlog

from reeld.errors import ReeldError

log = structlog.get_logger(__name__)

KINDS = ("poster", "backdrop", "thumb", "logo")
#: The widths kept below the original (0): a poster grid, and a large view or a backdrop.
WIDTH_STEPS = (320, 780)
ORIGINAL = 0
#: Eviction frees down to this share of the bound, so it runs now and then, not on every write.
EVICT_TO = 0.9
TEMP_PREFIX = ".tmp-"
_NO_ROOM = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


class NoRoomForArtwork(ReeldError):
    """The disk (or the quota) is full: the image was not kept."""


def width_step(width: int) -> int:
    """The width step that serves ``width`` (0, or past the largest step: the original)."""
    if width <= 0:
        return ORIGINAL
    return next((step for step in WIDTH_STEPS if width <= step), ORIGINAL)


@functools.lru_cache(maxsize=256)  # few sources; asked for each item of every page
def source_digest(source_id: str) -> str:
    return hashlib.blake2b(source_id.encode(), digest_size=3).hexdigest()


def item_digest(source_id: str, remote_id: str) -> str:
    """``<source digest>-<item digest>``: the images of one source share a prefix, so they can be
    removed with the source."""
    item = hashlib.blake2b(f"{source_id}\0{remote_id}".encode(), digest_size=10).hexdigest()
    return f"{source_digest(source_id)}-{item}"


def _subfolder(key: str) -> str:
    """The subfolder of an image: two digits of its item digest (256 folders share the files)."""
    return key[7:9]


def tag_digest(tag: str) -> str:
    return hashlib.blake2b(tag.encode(), digest_size=6).hexdigest()


def _step_name(width: int) -> str:
    return f"w{width}" if width else "orig"


#: An image file kept: (width step, format, size in bytes).
KeptFile = tuple[int, str, int]


@dataclass(slots=True, eq=False)
class Kept:
    """One image of one item (its poster, say) at its current tag: the widths on disk.

    Small on purpose (a large cache holds tens of thousands): paths are made from the key when
    asked for. Replaced, never changed, once in the index (readers on other threads look without
    a lock), but for ``used``.
    """

    key: str  # "<item digest>.<kind>": the index's own key (the same string)
    tag: str  # digest of the tag it shows
    files: tuple[KeptFile, ...]
    #: Wall-clock seconds of the last use; the newest file's mtime at start.
    used: float
    #: From a local folder's sidecar file (whose tag a listing does not carry).
    sidecar: bool = False

    @property
    def size(self) -> int:
        return sum(size for _, _, size in self.files)

    def holds(self, step: int) -> bool:
        return any(width == step for width, _, _ in self.files)


class ArtworkStore:
    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self._root = str(root)
        self.max_bytes = max_bytes
        #: "<item digest>.<kind>" -> what is kept of that image.
        self._index: dict[str, Kept] = {}
        self._lock = threading.Lock()
        self.total_bytes = 0
        #: Images used since the last flush (their files' mtimes to update).
        self._used: set[str] = set()
        #: Set once the disk filled up: the bound then stays at what fitted.
        self.disk_full = False
        #: Subfolders known to exist (one per first two digits of the item digest).
        self._folders: set[str] = set()

    def path(self, kept: Kept, step: int) -> str:
        """The absolute path of a width step of an image (one it holds)."""
        fmt = next(fmt for width, fmt, _ in kept.files if width == step)
        return self._path(kept.key, kept.tag, step, fmt)

    def largest(self, kept: Kept) -> str:
        """The path of the largest width kept of an image (the original if it is kept)."""
        return self.path(kept, max((width for width, _, _ in kept.files), key=lambda width: width or 1 << 30))

    def paths_of(self, kept: Kept) -> dict[int, str]:
        return {width: self._path(kept.key, kept.tag, width, fmt) for width, fmt, _ in kept.files}

    def _path(self, key: str, tag: str, step: int, fmt: str) -> str:
        return f"{self._root}/{_subfolder(key)}/{key}.{tag}.{_step_name(step)}.{fmt}"

    # -- start ------------------------------------------------------------------------------------

    def open(self) -> None:
        """Create the folder (0700) and index what it holds; remove what a crash left behind."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.root, 0o700)  # an existing folder too: the images say what someone watches
        found: dict[str, list[tuple[str, int, str, int, float, str]]] = {}
        for entry in self._files():
            name = entry.name
            if name.startswith(TEMP_PREFIX):
                _unlink(entry.path)  # a write cut short (kill -9, power loss)
                continue
            parsed = _parse_name(name)
            if parsed is None:  # in reeld's own subfolders, named as an older reeld did: not kept
                _unlink(entry.path)
                continue
            key, tag, width, fmt = parsed
            try:
                stat = entry.stat()
            except OSError:
                continue
            if stat.st_size == 0:  # renamed but never written out (a crash of the machine)
                _unlink(entry.path)
                continue
            found.setdefault(key, []).append((tag, width, entry.path, stat.st_size, stat.st_mtime, fmt))
        index: dict[str, Kept] = {}
        for key, files in found.items():
            newest = max(files, key=lambda file: file[4])[0]
            for tag, _, path, _, _, _ in files:
                if tag != newest:  # an image replaced just before a crash
                    _unlink(path)
            kept = [file for file in files if file[0] == newest]
            key = sys.intern(key)
            index[key] = Kept(
                key=key,
                tag=newest,
                files=tuple((width, sys.intern(fmt), size) for _, width, _, size, _, fmt in kept),
                used=max(file[4] for file in kept),
                sidecar=newest.startswith("s"),
            )
        with self._lock:
            self._index = index
            self._folders.clear()
            self.total_bytes = sum(kept.size for kept in index.values())
        log.info("artwork_cache_opened", images=len(index), mb=round(self.total_bytes / 1e6, 1))

    def _files(self) -> Iterator[os.DirEntry[str]]:
        with os.scandir(self.root) as folders:
            for folder in folders:
                if folder.is_dir(follow_symlinks=False):
                    with os.scandir(folder.path) as files:
                        yield from files
                elif folder.name.startswith(TEMP_PREFIX):
                    yield folder

    # -- reads (memory only) ----------------------------------------------------------------------

    def lookup(self, source_id: str, remote_id: str, kind: str, tag: str) -> Kept | None:
        """What is kept of an image at ``tag``; ``None`` when nothing is. Counts as a use."""
        key = f"{item_digest(source_id, remote_id)}.{kind}"
        kept = self._index.get(key)
        if kept is None or kept.tag != _tag_key(tag):
            return None
        self._touch(kept)
        return kept

    def holds(self, source_id: str, remote_id: str, kind: str, tag: str) -> bool:
        """Whether an image is kept at ``tag`` (any width). Not a use."""
        kept = self._index.get(f"{item_digest(source_id, remote_id)}.{kind}")
        return kept is not None and kept.tag == _tag_key(tag)

    def any_sidecar(self, source_id: str, remote_id: str, kind: str) -> Kept | None:
        """The sidecar image kept for an item, whatever file it came from (the folder is away)."""
        kept = self._index.get(f"{item_digest(source_id, remote_id)}.{kind}")
        if kept is None or not kept.sidecar:
            return None
        self._touch(kept)
        return kept

    def paths(
        self,
        source_id: str,
        remote_id: str,
        tags: Mapping[str, str] | Callable[[], Mapping[str, str]],
        sidecars: bool,
    ) -> dict[str, str]:
        """The largest kept file of each image of an item, by kind: what its ``*_path`` keys say.

        ``tags`` are the item's current tags by kind, or how to read them: only once an image of
        the item is kept (most items of a page have none; a page reads 200). ``sidecars``: the
        item is a local folder's, whose images are kept under whatever sidecar file is there.
        """
        digest = item_digest(source_id, remote_id)
        found = {}
        for kind in KINDS:
            kept = self._index.get(f"{digest}.{kind}")
            if kept is None:
                continue
            if callable(tags):
                tags = tags()
            tag = tags.get(kind)
            if (sidecars and kept.sidecar) or (tag is not None and kept.tag == _tag_key(tag)):
                found[kind] = self.largest(kept)
                self._touch(kept)
        return found

    def _touch(self, kept: Kept) -> None:
        kept.used = time.time()
        self._used.add(kept.key)

    def __len__(self) -> int:
        return len(self._index)

    # -- writes (blocking) --------------------------------------------------------------------------

    def put(
        self, source_id: str, remote_id: str, kind: str, tag: str, width: int, data: bytes, fmt: str
    ) -> str:
        """Keep ``data`` (a checked image) as that width step of the image at ``tag``; its path.

        A new tag replaces the image's older files. Raises ``NoRoomForArtwork`` when the disk is full.
        """
        key = sys.intern(f"{item_digest(source_id, remote_id)}.{kind}")
        tag_key = _tag_key(tag)
        folder = self.root / _subfolder(key)
        path = self._path(key, tag_key, width, fmt)
        try:
            try:
                if folder.name not in self._folders:
                    folder.mkdir(exist_ok=True, mode=0o700)
                    self._folders.add(folder.name)
                _write_atomically(folder, path, data)
            except FileNotFoundError:  # the folder was removed behind reeld's back: make it again
                self._folders.clear()
                folder.mkdir(parents=True, exist_ok=True, mode=0o700)
                _write_atomically(folder, path, data)
        except OSError as exc:
            if exc.errno in _NO_ROOM:
                self._no_room()
                raise NoRoomForArtwork("There is no room on the disk for more artwork") from exc
            raise
        stale: list[str] = []
        with self._lock:
            old = self._index.get(key)
            files = (
                [file for file in old.files if file[0] != width]
                if old is not None and old.tag == tag_key
                else []
            )
            if old is not None:
                stale = [p for step, p in self.paths_of(old).items() if old.tag != tag_key or step == width]
                stale = [p for p in stale if p != path]
                self.total_bytes -= old.size
            files.append((width, sys.intern(fmt), len(data)))
            kept = Kept(key=key, tag=tag_key, files=tuple(files), used=time.time(), sidecar=is_sidecar(tag))
            self._index[key] = kept
            self.total_bytes += kept.size
        for stale_path in stale:
            _unlink(stale_path)
        if self.total_bytes > self.max_bytes:
            self.evict(keep=key)
        return path

    def drop_missing(self, paths: Collection[str]) -> int:
        """Leave out of the index the files of ``paths`` that are gone (removed behind reeld's back:
        a cache cleaner); how many. Memory only, but for a check of each path named."""
        dropped = 0
        with self._lock:
            for path in paths:
                parsed = _parse_name(os.path.basename(path))
                kept = self._index.get(parsed[0]) if parsed else None
                if parsed is None or kept is None or self.paths_of(kept).get(parsed[2]) != path:
                    continue  # not one the index holds (one reeld removed itself)
                if os.path.exists(path):
                    continue  # replaced meanwhile
                files = tuple(file for file in kept.files if file[0] != parsed[2])
                self.total_bytes -= kept.size
                if files:
                    self._index[kept.key] = replace(kept, files=files)
                    self.total_bytes += self._index[kept.key].size
                else:
                    del self._index[kept.key]
                dropped += 1
        return dropped

    def forget_source(self, source_id: str) -> int:
        """Remove every image of a source (it was removed); how many."""
        prefix = f"{source_digest(source_id)}-"
        with self._lock:
            gone = [kept for key, kept in self._index.items() if key.startswith(prefix)]
            for kept in gone:
                del self._index[kept.key]
                self.total_bytes -= kept.size
        for kept in gone:
            for path in self.paths_of(kept).values():
                _unlink(path)
        return len(gone)

    def forget(self, source_id: str, remote_id: str, kind: str) -> bool:
        """Remove an image (its sidecar file is gone); whether one was kept."""
        key = f"{item_digest(source_id, remote_id)}.{kind}"
        with self._lock:
            kept = self._index.pop(key, None)
            if kept is not None:
                self.total_bytes -= kept.size
        for path in self.paths_of(kept).values() if kept else ():
            _unlink(path)
        return kept is not None

    def evict(self, keep: str = "") -> int:
        """Remove the least recently used images until the cache is within its bound; how many."""
        target = self.max_bytes * EVICT_TO
        with self._lock:
            if self.total_bytes <= self.max_bytes:
                return 0
            gone: list[Kept] = []
            for kept in sorted(self._index.values(), key=lambda kept: kept.used):
                if self.total_bytes <= target:
                    break
                if kept.key == keep:
                    continue
                del self._index[kept.key]
                self.total_bytes -= kept.size
                gone.append(kept)
        for kept in gone:
            for path in self.paths_of(kept).values():
                _unlink(path)
        if gone:
            log.info("artwork_evicted", images=len(gone), mb=round(self.total_bytes / 1e6, 1))
        return len(gone)

    def _no_room(self) -> None:
        """The disk is full: the cache stops growing here (older images make room for new ones)."""
        with self._lock:
            bound = int(self.total_bytes * EVICT_TO)
            first = not self.disk_full
            self.disk_full = True
            self.max_bytes = min(self.max_bytes, bound)
        if first:
            log.warning(
                "artwork_disk_full",
                folder=str(self.root),
                kept_mb=round(bound / 1e6, 1),
                note="the artwork cache stays at this size until reeld restarts",
            )
        self.evict()

    def flush_use(self) -> None:
        """Write recent use back as the files' mtimes, so the eviction order survives a restart."""
        with self._lock:
            used, self._used = self._used, set()
            touched = [(self.paths_of(kept), kept.used) for key in used if (kept := self._index.get(key))]
        for paths, when in touched:
            for path in paths.values():
                with contextlib.suppress(OSError):
                    os.utime(path, (when, when))


#: How the tag of a local folder's sidecar image starts (``sidecar:<mtime>:<size>:<name>``).
SIDECAR_TAG = "sidecar:"


def is_sidecar(tag: str) -> bool:
    return tag.startswith(SIDECAR_TAG)


def _tag_key(tag: str) -> str:
    # A sidecar's tag digest is marked (hex digits never make an "s"), so a scan at start knows
    # which images came from sidecar files by their names alone.
    return f"s{tag_digest(tag)}" if is_sidecar(tag) else tag_digest(tag)


def _parse_name(name: str) -> tuple[str, str, int, str] | None:
    """``(key, tag digest, width step, format)`` of a cache file's name; ``None`` for anything else."""
    parts = name.split(".")
    if len(parts) != 5 or parts[1] not in KINDS or not _KEY.fullmatch(parts[0]):
        return None
    step = parts[3]
    if step == "orig":
        width = ORIGINAL
    elif step.startswith("w") and step[1:].isdigit():
        width = int(step[1:])
    else:
        return None
    return f"{parts[0]}.{parts[1]}", parts[2], width, parts[4]


_KEY = re.compile(r"[0-9a-f]{6}-[0-9a-f]{20}")
_temp_names = itertools.count()


def _write_atomically(folder: Path, path: str, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` (mode 0600) and rename it into place."""
    temp = os.path.join(folder, f"{TEMP_PREFIX}{os.getpid()}-{next(_temp_names)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(temp, path)
    except BaseException:
        _unlink(temp)
        raise


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
