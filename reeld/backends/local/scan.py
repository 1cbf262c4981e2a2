"""Walking a media folder, and turning classified files into the cache's items.

The walk is iterative ``os.scandir``: it skips hidden entries and NAS litter, follows symlinked
folders once (a loop is seen by device and inode), and skips what it cannot read with a warning
instead of failing the whole folder. It runs in a worker thread; nothing here touches the loop.
"""

import functools
import os
import stat
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import structlog

from reeld.backends.local.classify import NAMING_RULES, Classification, FileKind, classify, title_key
from reeld.errors import BackendUnavailable
from reeld.models.media import ItemKind, Library, LibraryKind, MediaItem

log = structlog.get_logger(__name__)

VIDEO_EXTENSIONS = frozenset(
    [
        "mkv",
        "mp4",
        "m4v",
        "avi",
        "mov",
        "webm",
        "ts",
        "m2ts",
        "mts",
        "wmv",
        "mpg",
        "mpeg",
        "mpe",
        "vob",
        "ogv",
        "ogm",
        "flv",
        "f4v",
        "3gp",
        "3g2",
        "divx",
        "xvid",
        "rm",
        "rmvb",
        "asf",
        "iso",
    ]
)
#: Audio files, listed in a Music library (reeld/backends/local/music.py reads their tags).
AUDIO_EXTENSIONS = frozenset(
    ["mp3", "flac", "ogg", "oga", "opus", "m4a", "m4b", "wma", "wv", "ape", "aiff", "aif"]
)
# Folders that NAS boxes and desktops litter media folders with.
IGNORED_DIRS = frozenset({"@eaDir", "#recycle", "$RECYCLE.BIN", "lost+found", "System Volume Information"})
#: Files smaller than this are not real media: no point asking mediainfo for a duration.
MIN_PROBE_BYTES = 64 * 1024
# Each unreadable path is logged up to this many times per walk; the rest only counted.
MAX_SKIP_WARNINGS = 20

MOVIES = Library("movies", "Movies", LibraryKind.MOVIES)
SHOWS = Library("shows", "TV Shows", LibraryKind.SHOWS)
OTHER = Library("other", "Other", LibraryKind.OTHER)
MUSIC = Library("music", "Music", LibraryKind.MUSIC)
LIBRARY_OF_KIND = {
    FileKind.MOVIE: MOVIES.remote_id,
    FileKind.EPISODE: SHOWS.remote_id,
    FileKind.EXTRA: OTHER.remote_id,
}


def show_id(key: str) -> str:
    return f"show:{key}"


def season_id(key: str, season: int) -> str:
    return f"season:{key}:{season}"


def is_video_name(name: str) -> bool:
    return name.rpartition(".")[2].lower() in VIDEO_EXTENSIONS


def is_audio_name(name: str) -> bool:
    return name.rpartition(".")[2].lower() in AUDIO_EXTENSIONS


def is_hidden(name: str) -> bool:
    return name.startswith(".") or name in IGNORED_DIRS


# -- walking -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FileStat:
    """One video file as the walk saw it. ``relpath`` is ``/``-separated and is the item's id."""

    relpath: str
    path: str
    size: int
    mtime_ns: int
    ctime: int

    @property
    def etag(self) -> str:
        # The naming rules' version: items named by older rules (whose etag lacks it) are named again.
        return f"{self.size}:{self.mtime_ns}:n{NAMING_RULES}"


@dataclass(slots=True)
class WalkResult:
    files: list[FileStat] = field(default_factory=list)
    #: Audio files, apart from the videos.
    audio: list[FileStat] = field(default_factory=list)
    #: Unreadable folders and files left out.
    skipped: int = 0


def missing_folder(root: str) -> BackendUnavailable:
    return BackendUnavailable(f"Folder {root} is missing or not mounted")


def check_root(root: str) -> None:
    """Raise ``BackendUnavailable`` unless ``root`` is a folder this process can list."""
    try:
        with os.scandir(root) as entries:
            next(entries, None)
    except FileNotFoundError as exc:
        raise missing_folder(root) from exc
    except NotADirectoryError as exc:
        raise BackendUnavailable(f"{root} is not a folder") from exc
    except PermissionError as exc:
        raise BackendUnavailable(f"Permission denied reading folder {root}") from exc
    except OSError as exc:
        # A dead network mount answers with EIO or ESTALE: transient like a missing disk.
        raise BackendUnavailable(f"Folder {root} cannot be read ({exc.strerror})") from exc


def walk_folder(root: str, under: str = "") -> WalkResult:
    """Every readable video file below ``root`` (or below ``root/under``), sorted by path."""
    check_root(root)
    result = WalkResult()
    start = os.path.join(root, under) if under else root
    try:
        root_stat = os.stat(start)
    except OSError:
        return result
    visited = {(root_stat.st_dev, root_stat.st_ino)}
    pending = [(start, f"{under}/" if under else "")]
    while pending:
        folder, prefix = pending.pop()
        try:
            with os.scandir(folder) as entries:
                listed = list(entries)
        except OSError as exc:
            _skip(result, folder, exc.strerror or str(exc))
            continue
        for entry in listed:
            if is_hidden(entry.name):
                continue
            if not has_text_name(entry.name):
                _skip(result, entry.path, NOT_TEXT)
                continue
            try:
                if entry.is_dir():
                    info = entry.stat()
                    if (info.st_dev, info.st_ino) not in visited:
                        visited.add((info.st_dev, info.st_ino))
                        pending.append((entry.path, f"{prefix}{entry.name}/"))
                elif is_video_name(entry.name) and entry.is_file():
                    _add_file(result.files, entry, prefix)
                elif is_audio_name(entry.name) and entry.is_file():
                    _add_file(result.audio, entry, prefix)
            except FileNotFoundError:
                continue  # a dangling symlink, or a file deleted while we looked
            except OSError as exc:
                _skip(result, entry.path, exc.strerror or str(exc))
    result.files.sort(key=lambda f: f.relpath)
    result.audio.sort(key=lambda f: f.relpath)
    return result


def _add_file(found: list[FileStat], entry: os.DirEntry[str], prefix: str) -> None:
    info = entry.stat()
    if not stat.S_ISREG(info.st_mode):
        return
    if not os.access(entry.path, os.R_OK):
        raise PermissionError(13, "Permission denied", entry.path)
    found.append(
        FileStat(
            relpath=prefix + entry.name,
            path=entry.path,
            size=info.st_size,
            mtime_ns=info.st_mtime_ns,
            ctime=int(info.st_ctime),
        )
    )


def _skip(result: WalkResult, path: str, reason: str) -> None:
    result.skipped += 1
    if result.skipped <= MAX_SKIP_WARNINGS:
        log.warning("local_path_skipped", path=printable_path(path), reason=reason)


NOT_TEXT = "its name is not valid UTF-8"


def has_text_name(name: str) -> bool:
    """Whether a file name is text. Linux allows any bytes; Python keeps the ones that are not
    UTF-8 as lone surrogates, which neither the cache nor D-Bus can carry."""
    if name.isascii():
        return True
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable_path(path: str) -> str:
    """``path`` for a log line or a message, with bytes that are not UTF-8 as ``\\xff`` escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def stat_file(root: str, relpath: str) -> FileStat | None:
    """One file, as the walk would see it; None when it is gone, unreadable or not a video."""
    path = os.path.join(root, relpath)
    name = relpath.rpartition("/")[2]
    if not is_video_name(name) or any(is_hidden(part) for part in relpath.split("/")):
        return None
    if not has_text_name(relpath):
        return None
    try:
        info = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode) or not os.access(path, os.R_OK):
        return None
    return FileStat(relpath, path, info.st_size, info.st_mtime_ns, int(info.st_ctime))


# -- durations -----------------------------------------------------------------------------------


@functools.cache
def mediainfo_available() -> bool:
    try:
        from pymediainfo import MediaInfo

        return bool(MediaInfo.can_parse())
    except Exception:  # no library, or a broken one: durations are optional
        return False


def read_duration_ms(file: FileStat) -> int | None:
    """The file's duration from mediainfo; None for tiny files, unreadable media or no libmediainfo."""
    if file.size < MIN_PROBE_BYTES or not mediainfo_available():
        return None
    from pymediainfo import MediaInfo

    try:
        info = MediaInfo.parse(file.path, parse_speed=0)
        for track in info.tracks:
            if track.track_type == "General" and track.duration:
                return int(float(track.duration))
    except Exception as exc:  # mediainfo fails in many ways on odd files; a duration is a nicety
        log.debug("local_duration_unreadable", path=file.path, reason=str(exc))
    return None


# -- items ---------------------------------------------------------------------------------------


def sort_title(title: str) -> str:
    for article in ("The ", "A ", "An "):
        if title.startswith(article) and len(title) > len(article):
            return title[len(article) :]
    return title


def file_item(
    file: FileStat, found: Classification, duration_ms: int | None = None, show_title: str | None = None
) -> MediaItem:
    """The item for a movie, episode or extra file; ``show_title`` as the show item spells it."""
    extra: dict[str, object] = {"path": file.path, "size": file.size, "mtime": file.mtime_ns // 1_000_000_000}
    if found.last_episode:
        extra["last_episode"] = found.last_episode
    if found.aired:
        extra["aired"] = found.aired
    episode = found.kind is FileKind.EPISODE and found.season is not None
    title = found.title or (_episode_title(found) if episode else file.relpath.rpartition("/")[2])
    return MediaItem(
        remote_id=file.relpath,
        library_id=LIBRARY_OF_KIND.get(found.kind, MOVIES.remote_id),
        kind=_ITEM_KIND.get(found.kind, ItemKind.MOVIE),
        title=title,
        sort_title=sort_title(title) if found.kind is FileKind.MOVIE else None,
        year=found.year,
        parent_id=season_id(found.show_key, found.season) if episode and found.season is not None else None,
        index=found.episode if episode else None,
        parent_index=found.season if episode else None,
        show_title=(show_title or found.show) if episode else None,
        duration_ms=duration_ms,
        added_at=file.ctime,
        updated_at=file.mtime_ns // 1_000_000_000,
        etag=file.etag,
        extra=extra,
        air_date=found.aired,
        index_end=found.last_episode if episode else None,
    )


_ITEM_KIND = {
    FileKind.MOVIE: ItemKind.MOVIE,
    FileKind.EPISODE: ItemKind.EPISODE,
    FileKind.EXTRA: ItemKind.VIDEO,
}


def _episode_title(found: Classification) -> str:
    if found.aired:
        return found.aired
    if found.last_episode and found.last_episode != found.episode:
        return f"Episodes {found.episode}\u2013{found.last_episode}"
    return f"Episode {found.episode}"


def season_title(season: int) -> str:
    return "Specials" if season == 0 else f"Season {season}"


def choose_show_titles(
    episodes: Iterable[tuple[FileStat, Classification]],
) -> dict[str, tuple[str, int | None]]:
    """Each show's (title, year) by key: as its folder spells it if any episode lives there, else
    as most of its files do (the first in path order among equals)."""
    spellings: dict[str, Counter[tuple[bool, str, int | None]]] = {}
    for _, found in episodes:
        spellings.setdefault(found.show_key, Counter())[
            (found.show_from_folder, found.show or "", found.show_year)
        ] += 1
    chosen = {}
    for key, counts in spellings.items():
        (_, title, year), _ = max(counts.items(), key=lambda pair: (pair[0][0], pair[1]))
        chosen[key] = (title, year)
    return chosen


def show_and_season_items(
    episodes: Iterable[tuple[FileStat, Classification]], titles: dict[str, tuple[str, int | None]]
) -> list[MediaItem]:
    """The show and season items above ``episodes`` (shows first), titled from ``titles``."""
    seasons: dict[tuple[str, int], list[FileStat]] = {}
    files_of_show: dict[str, list[FileStat]] = {}
    for file, found in episodes:
        assert found.season is not None
        seasons.setdefault((found.show_key, found.season), []).append(file)
        files_of_show.setdefault(found.show_key, []).append(file)
    items = []
    for key, files in files_of_show.items():
        title, year = titles[key]
        added_at, updated_at = _group_times(files)
        items.append(
            MediaItem(
                remote_id=show_id(key),
                library_id=SHOWS.remote_id,
                kind=ItemKind.SHOW,
                title=title,
                sort_title=sort_title(title),
                year=year,
                added_at=added_at,
                updated_at=updated_at,
                etag=_group_etag(title, year, added_at, updated_at),
            )
        )
    for (key, number), files in sorted(seasons.items()):
        added_at, updated_at = _group_times(files)
        items.append(
            MediaItem(
                remote_id=season_id(key, number),
                library_id=SHOWS.remote_id,
                kind=ItemKind.SEASON,
                title=season_title(number),
                parent_id=show_id(key),
                index=number,
                show_title=titles[key][0],
                added_at=added_at,
                updated_at=updated_at,
                etag=_group_etag(titles[key][0], number, added_at, updated_at),
            )
        )
    return items


def _group_times(files: list[FileStat]) -> tuple[int, int]:
    """When a show or season was added (its first file) and last changed (its newest file)."""
    return min(f.ctime for f in files), max(f.mtime_ns for f in files) // 1_000_000_000


def _group_etag(title: str, number: int | None, added_at: int, updated_at: int) -> str:
    # Everything a show or season item holds, so an unchanged one is not rewritten every scan.
    return f"group:{title}|{number}|{added_at}|{updated_at}"


def is_later_part(file: FileStat, found: Classification) -> bool:
    """Whether ``file`` is part 2 or later of a movie whose first part lies beside it (``cd2`` beside
    ``cd1``): the movie is listed once, as its first part, which is what playing it plays."""
    if found.kind is not FileKind.MOVIE or found.part is None or found.part < 2:
        return False
    try:
        names = os.listdir(os.path.dirname(file.path))
    except OSError:
        return False
    folder, _, own = file.relpath.rpartition("/")
    movie = title_key(found.title, found.year)
    for name in names:
        if name == own or not is_video_name(name):
            continue
        other = classify(f"{folder}/{name}" if folder else name, file.size)
        if other.part == 1 and other.kind is FileKind.MOVIE and title_key(other.title, other.year) == movie:
            return True
    return False


# -- what the backend knows ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """Where a file sits in the libraries, so a deletion can tell which seasons and shows emptied."""

    etag: str
    library_id: str
    season_id: str | None = None
    show_id: str | None = None


class FolderIndex:
    """Every listed file of the folder and the seasons and shows they make up.

    Seeded by listings, kept current by the watcher. Not thread-safe: callers hold a lock.
    """

    def __init__(self) -> None:
        self.files: dict[str, IndexEntry] = {}
        #: Show titles as last sent, by show key, so new episodes of a show spell it the same way.
        self.show_titles: dict[str, tuple[str, int | None]] = {}
        self._season_files: dict[str, set[str]] = {}
        self._show_seasons: dict[str, set[str]] = {}

    def put(self, relpath: str, entry: IndexEntry) -> None:
        self.pop(relpath)
        self.files[relpath] = entry
        if entry.season_id is not None:
            self._season_files.setdefault(entry.season_id, set()).add(relpath)
            if entry.show_id is not None:
                self._show_seasons.setdefault(entry.show_id, set()).add(entry.season_id)

    def pop(self, relpath: str) -> IndexEntry | None:
        entry = self.files.pop(relpath, None)
        if entry is None or entry.season_id is None:
            return entry
        members = self._season_files.get(entry.season_id)
        if members is not None:
            members.discard(relpath)
            if not members:
                del self._season_files[entry.season_id]
                if entry.show_id is not None:
                    seasons = self._show_seasons.get(entry.show_id, set())
                    seasons.discard(entry.season_id)
                    if not seasons:
                        self._show_seasons.pop(entry.show_id, None)
        return entry

    def under(self, relpath: str) -> list[str]:
        """The indexed files at ``relpath`` or below it (a deleted or renamed folder)."""
        if relpath in self.files:
            return [relpath]
        prefix = relpath.rstrip("/") + "/"
        return [path for path in self.files if path.startswith(prefix)]

    def has_season(self, season: str) -> bool:
        return season in self._season_files

    def has_show(self, show: str) -> bool:
        return show in self._show_seasons

    def replace_library(self, library_id: str, entries: dict[str, IndexEntry]) -> None:
        """What a complete listing of ``library_id`` found replaces what the index held for it."""
        for relpath in [path for path, entry in self.files.items() if entry.library_id == library_id]:
            if relpath not in entries:
                self.pop(relpath)
        for relpath, entry in entries.items():
            if self.files.get(relpath) != entry:
                self.put(relpath, entry)


def index_entry(file: FileStat, found: Classification) -> IndexEntry | None:
    library = LIBRARY_OF_KIND.get(found.kind)
    if library is None or is_later_part(file, found):
        return None
    if found.kind is FileKind.EPISODE and found.season is not None:
        key = found.show_key
        return IndexEntry(file.etag, library, season_id(key, found.season), show_id(key))
    return IndexEntry(file.etag, library)
