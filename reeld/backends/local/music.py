"""Audio files of a local folder as a music library: artists, their albums, the albums' tracks.

Tags are read only for files new or changed since the cache saw them (by size and mtime), and for
the other tracks of an album that changed: MP3 and FLAC in their usual shapes by ``fast_tags``
(about 50 µs a file), the rest with mutagen (ID3, Vorbis comments in Ogg Vorbis and Opus, MP4
atoms in M4A, and whatever else mutagen reads; 0.2-0.5 ms a file). A large batch goes to a few
worker processes, a small one to a thread, never the event loop.

Albums are the library's top level, as Plex's and Jellyfin's album views list them; artists are
items too (``Query`` with kind ``artist``), each album's parent, so ``GetChildren`` goes artist →
albums → tracks. An album is its album artist's album of that title: the tracks of one album in
``CD1``/``CD2`` folders are one album, ordered by disc then track. Files without tags are placed as
people lay out folders: ``Artist/Album/01 - Title.mp3``.
"""

import contextlib
import functools
import multiprocessing
import os
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import structlog

from reeld.backends.local.fast_tags import read_fast
from reeld.backends.local.scan import MUSIC, FileStat, sort_title
from reeld.models.media import ItemKind, MediaItem

log = structlog.get_logger(__name__)

#: A batch of at least this many files is read by worker processes (starting them costs ~0.2 s).
PROCESS_POOL_MIN_FILES = 2000
#: Files handed to a worker process at a time.
CHUNK_FILES = 256
UNKNOWN_ARTIST = "Unknown Artist"
UNKNOWN_ALBUM = "Unknown Album"
VARIOUS_ARTISTS = "Various Artists"
#: Disc folders inside an album folder ("CD1", "Disc 2"): the album is the folder above.
DISC_FOLDER = re.compile(r"(?i)^(?:cd|disc|disk)[ ._-]*(\d{1,2})$")
#: "01 - Title", "01. Title", "1-03 Title" (disc 1, track 3): a file name's leading numbers.
_NUMBERED_NAME = re.compile(r"^(?:(\d)[-.])?(\d{1,3})(?:\s*[-._]\s*|\s+)(.+)$")
_FIRST_NUMBER = re.compile(r"\d+")
_YEAR = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)(?!\d)")


@dataclass(frozen=True, slots=True)
class TrackTags:
    """What a file's tags say (``None``/empty where they do not), and its length."""

    title: str | None = None
    artist: str | None = None
    album_artist: str | None = None
    album: str | None = None
    track: int | None = None
    disc: int | None = None
    year: int | None = None
    genres: tuple[str, ...] = ()
    compilation: bool = False
    duration_ms: int | None = None
    has_cover: bool = False


# -- reading tags (worker threads or processes) ----------------------------------------------------


def read_tags(path: str) -> TrackTags | None:
    """The tags of one audio file; None when mutagen cannot read it as audio (a broken or
    mislabelled file). Never raises: one bad file must not stop a library."""
    extension = path.rpartition(".")[2].lower()
    if extension in ("mp3", "flac"):
        try:
            fast = read_fast(path, extension)
        except OSError:
            return None
        if fast is not None:
            values, length, picture = fast
            return _from_values(values, int(length * 1000) if length > 0 else None, picture)
    return read_tags_with_mutagen(path)


def read_tags_with_mutagen(path: str) -> TrackTags | None:
    """``read_tags`` without the fast path: every format mutagen knows, every shape of tag."""
    try:
        audio = _open_audio(path)
    except Exception as exc:  # mutagen raises many kinds on damaged files
        log.debug("music_tags_unreadable", path=path, reason=str(exc)[:200])
        return None
    if audio is None:
        return None
    length = getattr(audio.info, "length", 0) or 0
    duration = int(length * 1000) if length > 0 else None
    tags = audio.tags
    try:
        if tags is None:
            return TrackTags(duration_ms=duration, has_cover=bool(getattr(audio, "pictures", None)))
        return _fields(audio, tags, duration)
    except Exception as exc:  # a tag of an unexpected shape: keep the length, skip the tags
        log.debug("music_tags_odd", path=path, reason=str(exc)[:200])
        return TrackTags(duration_ms=duration)


def read_tags_chunk(paths: Sequence[str]) -> list[TrackTags | None]:
    """``read_tags`` of each path (what a worker process is handed)."""
    return [read_tags(path) for path in paths]


def _open_audio(path: str) -> Any:
    """The mutagen file for ``path``, chosen by extension (no sniffing of every format: faster)."""
    extension = path.rpartition(".")[2].lower()
    if extension == "mp3":
        from mutagen.mp3 import MP3

        return MP3(path)
    if extension == "flac":
        from mutagen.flac import FLAC

        return FLAC(path)
    if extension in ("m4a", "m4b", "alac"):
        from mutagen.mp4 import MP4

        return MP4(path)
    if extension == "opus":
        from mutagen.oggopus import OggOpus

        return OggOpus(path)
    import mutagen

    return mutagen.File(path)


def _fields(audio: Any, tags: Any, duration: int | None) -> TrackTags:
    from mutagen.id3 import ID3
    from mutagen.mp4 import MP4Tags

    if isinstance(tags, ID3):
        return _id3_fields(tags, duration)
    if isinstance(tags, MP4Tags):
        return _mp4_fields(tags, duration)
    values: dict[str, list[str]] = {}
    for key, value in tags.items():
        listed = value if isinstance(value, list) else [value]
        values.setdefault(str(key).casefold(), []).extend(str(item) for item in listed)
    return _from_values(values, duration, bool(getattr(audio, "pictures", None)))


def _id3_fields(tags: Any, duration: int | None) -> TrackTags:
    def text(frame_id: str) -> str | None:
        frame = tags.get(frame_id)
        return _clean(str(frame.text[0])) if frame is not None and frame.text else None

    genres = tags.get("TCON")
    return TrackTags(
        title=text("TIT2"),
        artist=text("TPE1"),
        album_artist=text("TPE2"),
        album=text("TALB"),
        track=_number(text("TRCK")),
        disc=_number(text("TPOS")),
        year=_year(text("TDRC") or text("TYER") or text("TDOR")),
        genres=tuple(g for g in (_clean(name) for name in genres.genres) if g) if genres is not None else (),
        compilation=text("TCMP") == "1",
        duration_ms=duration,
        has_cover=any(key.startswith("APIC") for key in tags),
    )


def _mp4_fields(tags: Any, duration: int | None) -> TrackTags:
    def text(key: str) -> str | None:
        values = tags.get(key)
        return _clean(str(values[0])) if values else None

    def pair(key: str) -> int | None:
        values = tags.get(key)
        return int(values[0][0]) or None if values and values[0] else None

    return TrackTags(
        title=text("\xa9nam"),
        artist=text("\xa9ART"),
        album_artist=text("aART"),
        album=text("\xa9alb"),
        track=pair("trkn"),
        disc=pair("disk"),
        year=_year(text("\xa9day")),
        genres=tuple(g for g in (_clean(str(v)) for v in tags.get("\xa9gen", ())) if g),
        compilation=bool(tags.get("cpil")),
        duration_ms=duration,
        has_cover=bool(tags.get("covr")),
    )


def _from_values(values: dict[str, list[str]], duration: int | None, pictures: bool) -> TrackTags:
    """Tags by Vorbis-comment name (lower case): FLAC, Ogg, the fast path's ID3, and any other tag
    mapping with such names (APEv2, ASF)."""

    def text(*names: str) -> str | None:
        for name in names:
            for value in values.get(name, ()):
                if cleaned := _clean(value):
                    return cleaned
        return None

    return TrackTags(
        title=text("title", "wm/title"),
        artist=text("artist", "author"),
        album_artist=text("albumartist", "album artist", "album_artist", "wm/albumartist"),
        album=text("album", "wm/albumtitle"),
        track=_number(text("tracknumber", "track", "wm/tracknumber")),
        disc=_number(text("discnumber", "disc", "wm/partofset")),
        year=_year(text("date", "year", "originaldate", "wm/year")),
        genres=tuple(g for g in (_clean(v) for v in values.get("genre", ())) if g),
        compilation=text("compilation") in ("1", "true"),
        duration_ms=duration,
        has_cover=pictures or "metadata_block_picture" in values or "cover art (front)" in values,
    )


def _clean(value: str | None) -> str | None:
    """Text without control characters or the NULs some taggers leave; None when nothing is left."""
    if value is None:
        return None
    if not value.isprintable():
        value = "".join(char if char.isprintable() else " " for char in value)
    value = " ".join(value.split())
    return value[:500] or None


def _number(value: str | None) -> int | None:
    """3 from "3", "03", "3/12"; None for 0, nonsense or absurd numbers."""
    found = _FIRST_NUMBER.search(value) if value else None
    number = int(found.group()) if found and len(found.group()) <= 4 else 0
    return number or None


def _year(value: str | None) -> int | None:
    found = _YEAR.search(value) if value else None
    return int(found.group()) if found else None


def embedded_cover(path: str) -> bytes | None:
    """The front cover (or else the first picture) embedded in an audio file. Blocking."""
    try:
        audio = _open_audio(path)
    except Exception:
        return None
    if audio is None:
        return None
    pictures = _pictures(audio)
    front = [data for kind, data in pictures if kind == 3]
    chosen = front or [data for _, data in pictures]
    return chosen[0] if chosen else None


def _pictures(audio: Any) -> list[tuple[int, bytes]]:
    """(picture type, image bytes) of each picture in the file (type 3 is the front cover)."""
    found = [(picture.type, picture.data) for picture in getattr(audio, "pictures", None) or ()]
    tags = audio.tags
    if tags is None:
        return found
    from mutagen.id3 import ID3
    from mutagen.mp4 import MP4Tags

    if isinstance(tags, ID3):
        found += [(int(frame.type), frame.data) for frame in tags.getall("APIC")]
    elif isinstance(tags, MP4Tags):
        found += [(3, bytes(cover)) for cover in tags.get("covr", ())]
    else:
        import base64

        from mutagen.flac import Picture

        for value in tags.get("metadata_block_picture", ()):
            with contextlib.suppress(Exception):
                picture = Picture(base64.b64decode(value))
                found.append((picture.type, picture.data))
    return found


def tag_reader(count: int) -> Executor | None:
    """A pool of worker processes for reading ``count`` files' tags, or None when a thread will do.

    The processes are started from a fork server (the daemon's threads are never forked) and run
    at a lower priority, as the daemon's background threads do."""
    workers = min(4, os.cpu_count() or 1)
    if count < PROCESS_POOL_MIN_FILES or workers < 2:
        return None
    context = multiprocessing.get_context("forkserver")
    return ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_lower_priority)


def _lower_priority() -> None:
    from reeld.workers import BACKGROUND_NICE

    with contextlib.suppress(OSError):
        os.nice(BACKGROUND_NICE)


def chunks(paths: Sequence[str]) -> list[Sequence[str]]:
    return [paths[start : start + CHUNK_FILES] for start in range(0, len(paths), CHUNK_FILES)]


# -- items -----------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1 << 16)  # an artist's name comes back with each of their tracks
def _key(name: str) -> str:
    """A name as an id part: case, accents and spacing ignored ("Björk" and "bjork" are one artist)."""
    if not name.isascii():
        decomposed = unicodedata.normalize("NFKD", name)
        name = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(name.casefold().split())


def artist_id(name: str) -> str:
    return f"artist:{_key(name)}"


def album_id(artist: str, album: str) -> str:
    # "/" cannot be in an artist's key ambiguously: the album's part is the rest, whatever it holds.
    return f"album:{_key(artist).replace('/', '_')}/{_key(album)}"


@dataclass(slots=True)
class _Placed:
    """A track with the album and artist it belongs to."""

    file: FileStat
    tags: TrackTags
    title: str
    album: str
    album_artist: str
    track: int | None
    disc: int | None


def place(file: FileStat, tags: TrackTags) -> _Placed:
    """Where a file belongs: its tags, else its name and folders (``Artist/Album/01 - Title``)."""
    folders = file.relpath.split("/")[:-1]
    if folders and DISC_FOLDER.match(folders[-1]):
        disc_from_folder: int | None = int(DISC_FOLDER.match(folders[-1]).group(1))  # type: ignore[union-attr]
        folders = folders[:-1]
    else:
        disc_from_folder = None
    stem = file.relpath.rpartition("/")[2].rpartition(".")[0]
    numbered = _NUMBERED_NAME.match(stem)
    track = tags.track
    if track is None and numbered:
        track = int(numbered.group(2)) or None
    name_title = numbered.group(3).strip() if numbered and tags.track is None else stem
    album_artist = tags.album_artist or (VARIOUS_ARTISTS if tags.compilation else None) or tags.artist
    return _Placed(
        file=file,
        tags=tags,
        title=tags.title or name_title or stem,
        album=tags.album or (folders[-1] if folders else UNKNOWN_ALBUM),
        album_artist=album_artist or (folders[-2] if len(folders) >= 2 else UNKNOWN_ARTIST),
        track=track,
        # Disc 1 when unsaid, so a track without a disc number sorts among its album's first disc.
        disc=tags.disc or disc_from_folder or 1,
    )


def track_item(placed: _Placed) -> MediaItem:
    file, tags = placed.file, placed.tags
    return MediaItem(
        remote_id=file.relpath,
        library_id=MUSIC.remote_id,
        kind=ItemKind.TRACK,
        title=placed.title,
        parent_id=album_id(placed.album_artist, placed.album),
        index=placed.track,
        parent_index=placed.disc,
        year=tags.year,
        duration_ms=tags.duration_ms,
        added_at=file.ctime,
        updated_at=file.mtime_ns // 1_000_000_000,
        etag=file.etag,
        extra={"path": file.path, "size": file.size, "mtime": file.mtime_ns // 1_000_000_000},
        genres=list(tags.genres),
        artist=tags.artist or placed.album_artist,
    )


@dataclass(slots=True)
class _Group:
    title: str
    tracks: list[_Placed] = field(default_factory=list)


def album_and_artist_items(placed: Iterable[_Placed]) -> list[MediaItem]:
    """The artist and album items above ``placed`` tracks (artists first), from what those tracks say."""
    albums: dict[str, _Group] = {}
    artists: dict[str, _Group] = {}
    for track in placed:
        albums.setdefault(album_id(track.album_artist, track.album), _Group(track.album)).tracks.append(track)
        artists.setdefault(artist_id(track.album_artist), _Group(track.album_artist)).tracks.append(track)
    items = [_artist_item(remote_id, group) for remote_id, group in artists.items()]
    items += [_album_item(remote_id, group) for remote_id, group in albums.items()]
    return items


def _artist_item(remote_id: str, group: _Group) -> MediaItem:
    added_at, updated_at = _times(group.tracks)
    return MediaItem(
        remote_id=remote_id,
        library_id=MUSIC.remote_id,
        kind=ItemKind.ARTIST,
        title=group.title,
        sort_title=sort_title(group.title),
        added_at=added_at,
        updated_at=updated_at,
        etag=f"group:{group.title}|{added_at}|{updated_at}",
    )


def _album_item(remote_id: str, group: _Group) -> MediaItem:
    tracks = group.tracks
    added_at, updated_at = _times(tracks)
    artist = tracks[0].album_artist
    years = [track.tags.year for track in tracks if track.tags.year]
    genres: dict[str, None] = {}
    for track in tracks:
        genres.update((genre, None) for genre in track.tags.genres)
    durations = [track.tags.duration_ms for track in tracks if track.tags.duration_ms]
    duration = sum(durations) if durations else None
    year = min(years) if years else _year(group.title)
    return MediaItem(
        remote_id=remote_id,
        library_id=MUSIC.remote_id,
        kind=ItemKind.ALBUM,
        title=group.title,
        sort_title=sort_title(group.title),
        parent_id=artist_id(artist),
        year=year,
        duration_ms=duration,
        added_at=added_at,
        updated_at=updated_at,
        # The etag holds what the item shows, so an unchanged album is not rewritten every full sync.
        etag=f"group:{group.title}|{artist}|{year}|{duration}|{len(tracks)}|{added_at}|{updated_at}",
        genres=list(genres)[:10],
        artist=artist,
        extra={"tracks": len(tracks)},
    )


def _times(tracks: Sequence[_Placed]) -> tuple[int, int]:
    return min(t.file.ctime for t in tracks), max(t.file.mtime_ns for t in tracks) // 1_000_000_000


@dataclass(slots=True)
class MusicListing:
    """A music library's listing: artists and albums first (parents before children), then tracks."""

    items: list[MediaItem] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    #: Files whose tags could not be read (not audio after all, or damaged).
    unreadable: int = 0


def _gather_compilations(placed: Sequence[_Placed]) -> None:
    """Tracks of one album title in one folder, by several artists and with no album artist said,
    are one album by Various Artists (a compilation its tagger did not mark), not one per artist."""
    groups: dict[tuple[str, str], list[_Placed]] = {}
    for track in placed:
        if track.tags.album_artist is None and track.tags.album is not None:
            folder = track.file.relpath.rpartition("/")[0]
            groups.setdefault((folder, _key(track.album)), []).append(track)
    for tracks in groups.values():
        if len({_key(track.album_artist) for track in tracks}) > 1:
            for track in tracks:
                track.album_artist = VARIOUS_ARTISTS


def album_of(file: FileStat, tags: TrackTags) -> str:
    """The id of the album a file belongs to (before compilations are gathered)."""
    placed = place(file, tags)
    return album_id(placed.album_artist, placed.album)


def plan_music(
    files: Sequence[FileStat],
    tags: Mapping[str, TrackTags | None],
    unchanged: Sequence[str],
    unchanged_parents: Iterable[str],
    known: Mapping[str, Any],
    mates: Sequence[FileStat] = (),
) -> MusicListing:
    """Items for the ``files`` whose ``tags`` were read, plus the ids of unchanged tracks and of the
    albums and artists above them.

    ``mates`` are unchanged tracks of the albums those files are in or that lost a file, read too
    (``tags`` holds theirs) so that a changed album is sent whole: its length, year and track count
    count them. An
    artist the cache has and an unchanged track still holds keeps its row (an incremental listing
    sees only some of its albums); a full listing, which reads every file, sends them all."""
    listing = MusicListing(unchanged=list(unchanged))
    changed = {file.relpath for file in files}
    placed: list[_Placed] = []
    for file in [*files, *mates]:
        found = tags.get(file.relpath)
        if found is None:
            listing.unreadable += file.relpath in changed
            continue
        placed.append(place(file, found))
    _gather_compilations(placed)
    sent = [track for track in placed if track.file.relpath in changed]
    # Albums with a changed track or a mate read are sent whole; artists only with a changed track.
    changed_groups = {album_id(t.album_artist, t.album) for t in placed} | {
        artist_id(t.album_artist) for t in sent
    }
    parents = dict.fromkeys(unchanged_parents)
    for item in album_and_artist_items(placed):
        if item.remote_id not in changed_groups:
            continue  # only album mates in it: as the cache has it
        if item.kind is ItemKind.ARTIST and item.remote_id in parents and item.remote_id in known:
            continue
        parents.pop(item.remote_id, None)
        listing.items.append(item)
    listing.unchanged.extend(parents)
    listing.items.extend(track_item(track) for track in sent)
    return listing
