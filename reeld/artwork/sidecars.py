"""The images that sit beside local media, named as Plex, Jellyfin and Kodi read them.

A film ``Movies/Heat (1995)/Heat (1995).mkv`` may have ``Heat (1995)-poster.jpg`` or, alone in its
folder, ``poster.jpg`` / ``folder.jpg``, and ``fanart.jpg`` for a backdrop; a show folder its
``poster.jpg`` and ``fanart.jpg``; a season its folder's ``poster.jpg`` or the show folder's
``season01-poster.jpg``; an episode ``<name>-thumb.jpg``. Names match whatever their case; JPEG,
PNG and WebP files count. Blocking (directory listings): call from a worker thread.
"""

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

from reeld.artwork.store import SIDECAR_TAG

EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")
#: A folder that holds one season of a show: "Season 1", "Season 01", "S01", "Specials".
SEASON_FOLDER = re.compile(r"(?i)^(?:season|series|staffel|saison|temporada|s)?[ ._-]*\d{1,4}$|^specials?$")

_MOVIE_OWN = {
    "poster": ("{name}-poster", "{name}"),
    "backdrop": ("{name}-fanart", "{name}-backdrop"),
    "logo": ("{name}-clearlogo", "{name}-logo"),
    "thumb": ("{name}-thumb", "{name}-landscape"),
}
#: Names that stand for the only film (or the show) in a folder.
_FOLDER_NAMES = {
    "poster": ("poster", "folder", "cover", "default", "movie", "show"),
    "backdrop": ("fanart", "backdrop", "background", "art"),
    "logo": ("clearlogo", "logo"),
    "thumb": ("landscape", "thumb"),
}
#: An album folder's cover, by the names Jellyfin, Plex and music players read.
_ALBUM_NAMES = ("cover", "folder", "front", "album", "poster")
_EPISODE_OWN = {"poster": ("{name}-thumb", "{name}"), "thumb": ("{name}-thumb", "{name}")}
_SEASON_FOLDER_NAMES = {"poster": ("poster", "folder", "cover"), "backdrop": ("fanart", "backdrop")}
_SEASON_IN_SHOW = {
    "poster": ("season{n:02d}-poster", "season{n:02d}", "season{n}-poster"),
    "backdrop": ("season{n:02d}-fanart",),
    "thumb": ("season{n:02d}-landscape",),
}


@dataclass(frozen=True, slots=True)
class Sidecar:
    path: str
    tag: str  # changes with the file: a replaced poster is copied again
    #: The image is embedded in ``path`` (an audio file's cover), read only when it is to be copied.
    embedded: bool = False


#: Tags (file versions) of audio files found to hold no picture, so each pass does not parse them again.
_NO_EMBEDDED_COVER: dict[str, None] = {}
_NO_EMBEDDED_COVER_KEPT = 100_000


def read_sidecar(sidecar: Sidecar, limit: int) -> bytes | None:
    """The image's bytes (up to ``limit``); None when an audio file holds no picture after all.
    Raises ``OSError`` when the file cannot be read. Blocking."""
    if not sidecar.embedded:
        with open(sidecar.path, "rb") as image:
            return image.read(limit)
    from reeld.backends.local.music import embedded_cover

    data = embedded_cover(sidecar.path)
    if data is None:
        if len(_NO_EMBEDDED_COVER) >= _NO_EMBEDDED_COVER_KEPT:
            _NO_EMBEDDED_COVER.pop(next(iter(_NO_EMBEDDED_COVER)))
        _NO_EMBEDDED_COVER[sidecar.tag] = None
    return data


def find_sidecar(
    root: str, kind: str, item_kind: str, file: str, season: int | None = None
) -> Sidecar | None:
    """The sidecar image of ``kind`` for an item of a local folder at ``root``.

    ``file`` is the item's file, relative to ``root``: for a show or season, one of its episodes.
    """
    relative = PurePosixPath(file)
    folder = relative.parent
    if item_kind in ("movie", "video"):
        return _first(root, folder, _names(_MOVIE_OWN, kind, relative.stem), alone=False) or (
            _first(root, folder, _FOLDER_NAMES.get(kind, ()), alone=True)
            if _holds_one_video(root, folder)
            else None
        )
    if item_kind == "episode":
        return _first(root, folder, _names(_EPISODE_OWN, kind, relative.stem), alone=False)
    if item_kind == "album":
        return _album_cover(root, folder, relative) if kind == "poster" else None
    in_season_folder = bool(SEASON_FOLDER.match(folder.name)) and folder != PurePosixPath(".")
    show_folder = folder.parent if in_season_folder else folder
    if item_kind == "season" and season is not None:
        own = (
            _first(root, folder, _SEASON_FOLDER_NAMES.get(kind, ()), alone=True) if in_season_folder else None
        )
        names = tuple(pattern.format(n=season) for pattern in _SEASON_IN_SHOW.get(kind, ()))
        if season == 0 and kind == "poster":
            names += ("season-specials-poster",)
        return own or _first(root, show_folder, names, alone=True)
    if item_kind == "show":
        return _first(root, show_folder, _FOLDER_NAMES.get(kind, ()), alone=True)
    return None


def _album_cover(root: str, folder: PurePosixPath, track: PurePosixPath) -> Sidecar | None:
    """An album's cover: ``cover.jpg``/``folder.jpg``/``front.jpg`` in its folder (or above a ``CD1``
    folder), else the picture embedded in its first track (``track``)."""
    from reeld.backends.local.music import DISC_FOLDER

    folders = [folder, folder.parent] if DISC_FOLDER.match(folder.name) else [folder]
    for where in folders:
        found = _first(root, where, _ALBUM_NAMES, alone=True)
        if found is not None:
            return found
    path = os.path.join(root, str(track))
    try:
        stat = os.stat(path)
    except OSError:
        return None
    tag = f"{SIDECAR_TAG}embedded:{stat.st_mtime_ns}:{stat.st_size}:{track.name}"
    return None if tag in _NO_EMBEDDED_COVER else Sidecar(path, tag, embedded=True)


def _names(table: Mapping[str, tuple[str, ...]], kind: str, stem: str) -> tuple[str, ...]:
    return tuple(pattern.format(name=stem) for pattern in table.get(kind, ()))


def _first(root: str, folder: PurePosixPath, stems: tuple[str, ...], alone: bool) -> Sidecar | None:
    """The first of ``stems`` (with any image extension) in ``folder``. Names that stand for a
    whole folder (``alone``) are never taken from the top of the library, which many items share."""
    if not stems or (alone and folder == PurePosixPath(".")):
        return None
    directory = os.path.join(root, str(folder))
    try:
        with os.scandir(directory) as entries:
            images = {
                os.path.splitext(entry.name)[0].casefold(): entry
                for entry in entries
                if entry.name.lower().endswith(EXTENSIONS) and entry.is_file()
            }
    except OSError:
        return None
    for stem in stems:
        entry = images.get(stem.casefold())
        if entry is not None:
            try:
                stat = entry.stat()
            except OSError:
                continue
            return Sidecar(entry.path, f"{SIDECAR_TAG}{stat.st_mtime_ns}:{stat.st_size}:{entry.name}")
    return None


def _holds_one_video(root: str, folder: PurePosixPath) -> bool:
    # Imported here: the local backend's modules load after the daemon's start (BACKGROUND_MODULES).
    from reeld.backends.local.classify import extra_or_sample
    from reeld.backends.local.scan import is_video_name

    if folder == PurePosixPath("."):
        return False
    dirs = list(folder.parts)
    try:
        with os.scandir(os.path.join(root, str(folder))) as entries:
            # The film's own trailer or sample beside it leaves it alone in its folder.
            videos = sum(
                1
                for entry in entries
                if is_video_name(entry.name)
                and extra_or_sample(dirs, os.path.splitext(entry.name)[0], entry.stat().st_size) is None
            )
    except OSError:
        return False
    return videos == 1
