"""Media data as the cache stores it and the bus shows it, whatever the backend."""

import re
import unicodedata
from dataclasses import dataclass, field
from enum import StrEnum

_DIGITS = re.compile(r"\d+")
#: Numbers in titles are compared as numbers up to this many digits ("Album 2" before "Album 10").
SORT_NUMBER_WIDTH = 10


def sort_key(title: str) -> str:
    """How a title sorts: case and accents ignored ("Ça Ira" among the Cs), numbers by value."""
    if not title.isascii():
        decomposed = unicodedata.normalize("NFKD", title)
        title = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _DIGITS.sub(lambda digits: digits.group().rjust(SORT_NUMBER_WIDTH, "0"), title.casefold())


class LibraryKind(StrEnum):
    MOVIES = "movies"
    SHOWS = "shows"
    MUSIC = "music"
    PHOTOS = "photos"
    MIXED = "mixed"
    OTHER = "other"


class ItemKind(StrEnum):
    MOVIE = "movie"
    SHOW = "show"
    SEASON = "season"
    EPISODE = "episode"
    ARTIST = "artist"  # a music library's artist: albums are its children (not listed at the top level)
    ALBUM = "album"
    TRACK = "track"
    VIDEO = "video"
    OTHER = "other"


# Kinds listed at a library's top level; seasons and episodes are reached through their parents.
TOP_LEVEL_KINDS: frozenset[ItemKind] = frozenset(
    {ItemKind.MOVIE, ItemKind.SHOW, ItemKind.ALBUM, ItemKind.VIDEO, ItemKind.OTHER}
)


# Kinds a person plays: their watch state is their own, not derived from children.
PLAYABLE_KINDS: frozenset[ItemKind] = frozenset(
    {ItemKind.MOVIE, ItemKind.EPISODE, ItemKind.TRACK, ItemKind.VIDEO}
)


@dataclass(frozen=True, slots=True)
class Library:
    """A library (Plex section, Jellyfin view, local category) of one source."""

    remote_id: str
    title: str
    kind: LibraryKind


@dataclass(frozen=True, slots=True)
class WatchState:
    """A person's progress on one item. ``None`` fields are unknown and left as cached."""

    remote_id: str
    watched: bool = False
    position_ms: int = 0
    view_count: int = 0
    last_viewed_at: int | None = None


# Not frozen: a sync builds 100k of these, and a frozen dataclass's __init__ costs three times more.
@dataclass(slots=True)
class MediaItem:
    """One movie, show, season, episode or other item, normalised from any backend.

    ``etag`` is whatever tells the backend that an item changed (a local file's size and
    mtime, a server's update time); a sync skips items whose etag it already has.
    Times are Unix seconds.
    """

    remote_id: str
    library_id: str
    kind: ItemKind
    title: str
    sort_title: str | None = None
    parent_id: str | None = None
    year: int | None = None
    summary: str | None = None
    duration_ms: int | None = None
    index: int | None = None
    parent_index: int | None = None
    show_title: str | None = None
    added_at: int | None = None
    updated_at: int | None = None
    rating: float | None = None
    thumb: str | None = None
    etag: str | None = None
    extra: dict[str, object] = field(default_factory=dict)
    watch: WatchState | None = None
    # The item keys of API 1.1; empty or None when the server or file does not say.
    genres: list[str] = field(default_factory=list)
    content_rating: str | None = None
    studio: str | None = None
    original_title: str | None = None
    air_date: str | None = None  # ISO 8601 date
    provider_ids: dict[str, str] = field(default_factory=dict)  # {"imdb": "tt…", "tmdb": "…"}
    artist: str | None = None
    index_end: int | None = None
    #: The server's image tag or path per kind ("poster", "backdrop", "logo", "thumb").
    artwork: dict[str, str] = field(default_factory=dict)
