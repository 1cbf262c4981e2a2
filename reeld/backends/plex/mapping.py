"""Plex payloads (sections, ``Metadata`` entries) as reeld's media models."""

import zlib
from datetime import date
from typing import Any

from reeld.backends.plex.dto import MetadataDto, Text
from reeld.models.media import ItemKind, Library, LibraryKind, MediaItem, WatchState

#: The ``identifier`` of library items in requests (scrobble, timeline) and notifications.
LIBRARY_IDENTIFIER = "com.plexapp.plugins.library"

LIBRARY_KINDS: dict[str, LibraryKind] = {
    "movie": LibraryKind.MOVIES,
    "show": LibraryKind.SHOWS,
    "artist": LibraryKind.MUSIC,
    "photo": LibraryKind.PHOTOS,
}

ITEM_KINDS: dict[str, ItemKind] = {
    "movie": ItemKind.MOVIE,
    "show": ItemKind.SHOW,
    "season": ItemKind.SEASON,
    "episode": ItemKind.EPISODE,
    "artist": ItemKind.ARTIST,
    "album": ItemKind.ALBUM,
    "track": ItemKind.TRACK,
    "clip": ItemKind.VIDEO,
}

#: Plex's metadata type numbers a listing asks for, per kind of library, parents before children.
#: Music lists its artists, albums and tracks; other kinds are listed with no items.
LIST_TYPES: dict[LibraryKind, tuple[int, ...]] = {
    LibraryKind.MOVIES: (1,),
    LibraryKind.SHOWS: (2, 3, 4),
    LibraryKind.MUSIC: (8, 9, 10),
}
#: The playable types of a library, whose watch state is swept.
LEAF_TYPES: dict[LibraryKind, tuple[int, ...]] = {
    LibraryKind.MOVIES: (1,),
    LibraryKind.SHOWS: (4,),
    LibraryKind.MUSIC: (10,),
}


def library_from_section(section: dict[str, Any]) -> Library:
    kind = LIBRARY_KINDS.get(str(section.get("type")), LibraryKind.OTHER)
    return Library(remote_id=str(section["key"]), title=str(section.get("title") or "Library"), kind=kind)


def watch_state_from(entry: MetadataDto) -> WatchState:
    """The watch state in an entry: leaves by ``viewCount``, shows and seasons by their leaf counts."""
    view_count = entry.view_count or 0
    leaves = entry.leaf_count
    if leaves is not None:
        watched = leaves > 0 and (entry.viewed_leaf_count or 0) >= leaves
    else:
        watched = view_count > 0
    return WatchState(
        remote_id=str(entry.rating_key),
        watched=watched,
        position_ms=entry.view_offset or 0,
        view_count=view_count,
        last_viewed_at=entry.last_viewed_at,
    )


def item_from_metadata(entry: MetadataDto, library_id: str, base_url: str) -> MediaItem | None:
    """One item, or ``None`` for a type reeld does not keep. (Runs for every item of a sync: kept lean.)"""
    kind = ITEM_KINDS.get(entry.type or "")
    rating_key = entry.rating_key
    if kind is None or not rating_key:
        return None
    extra: dict[str, object] = {}
    ids = [guid.id for guid in entry.guids if guid.id]
    if ids:
        extra["guids"] = ids
    part = next((p.key for media in entry.media for p in media.parts if p.key), None)
    if part is not None:
        extra["part_key"] = part
    rating = entry.audience_rating if entry.audience_rating is not None else entry.rating
    thumb = entry.thumb
    updated = entry.updated_at
    is_episode = kind is ItemKind.EPISODE
    parent = entry.parent_rating_key if kind in _CHILD_KINDS else None
    return MediaItem(
        remote_id=str(rating_key),
        library_id=library_id,
        kind=kind,
        title=text(entry.title) or "",
        sort_title=text(entry.title_sort),
        parent_id=str(parent) if parent else None,
        year=entry.year,
        summary=text(entry.summary) or None,
        duration_ms=int(entry.duration) if entry.duration is not None else None,
        index=entry.index if kind is not ItemKind.MOVIE else None,
        # An episode's season, a track's disc.
        parent_index=entry.parent_index if is_episode or kind is ItemKind.TRACK else None,
        show_title=text(entry.grandparent_title) if is_episode else None,
        added_at=entry.added_at,
        updated_at=updated,
        rating=rating,
        # No token here: the cache and the bus never hold one. Clients ask for a URL to play.
        thumb=f"{base_url}{thumb}" if thumb else None,
        etag=_etag(entry, rating, part),
        extra=extra,
        watch=watch_state_from(entry),
        genres=[name for genre in entry.genres if (name := text(genre.tag))],
        content_rating=text(entry.content_rating) or None,
        studio=text(entry.studio) or None,
        # A track's originalTitle is its own artist, where it differs from the album's.
        original_title=None if kind is ItemKind.TRACK else text(entry.original_title) or None,
        air_date=iso_date(entry.originally_available_at),
        provider_ids=provider_ids(ids),
        artist=_artist(entry, kind),
        artwork=_artwork(entry, kind),
    )


def iso_date(value: str | None) -> str | None:
    """The day of ``originallyAvailableAt`` (``YYYY-MM-DD``, sometimes with a time after it)."""
    if not value or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10]).isoformat()
    except ValueError:
        return None


def provider_ids(guids: list[str]) -> dict[str, str]:
    """``["imdb://tt0111161", "tmdb://278"]`` as ``{"imdb": "tt0111161", "tmdb": "278"}``."""
    found: dict[str, str] = {}
    for guid in guids:
        provider, sep, value = guid.partition("://")
        if sep and provider and value:
            found.setdefault(provider.lower(), value)
    return found


def _artist(entry: MetadataDto, kind: ItemKind) -> str | None:
    if kind is ItemKind.ALBUM:
        return text(entry.parent_title) or None
    if kind is ItemKind.TRACK:
        return text(entry.original_title) or text(entry.grandparent_title) or None
    return None


#: Artwork kinds of API 1.1 by Plex ``Image`` type.
_IMAGE_KINDS = {"coverPoster": "poster", "background": "backdrop", "clearLogo": "logo", "snapshot": "thumb"}


def _artwork(entry: MetadataDto, kind: ItemKind) -> dict[str, str]:
    """The server path of each image the item has, by artwork kind (paths change with the image).

    An episode's ``thumb`` is a frame of it (its ``thumb``), not a poster; ``art`` alone may be the
    show's background, which the show has already."""
    artwork: dict[str, str] = {}
    if entry.thumb:
        artwork["thumb" if kind is ItemKind.EPISODE else "poster"] = entry.thumb
    if entry.art and kind is not ItemKind.EPISODE:
        artwork["backdrop"] = entry.art
    for image in entry.images:
        artwork_kind = _IMAGE_KINDS.get(image.type or "")
        if artwork_kind and image.url and artwork_kind not in artwork:
            artwork[artwork_kind] = image.url
    return artwork


# An album's parent is its artist (an item of its own, not listed at the top level).
_CHILD_KINDS = frozenset({ItemKind.SEASON, ItemKind.EPISODE, ItemKind.ALBUM, ItemKind.TRACK})


def _etag(entry: MetadataDto, rating: float | None, part: str | None) -> str:
    """What changes when the item does. ``updatedAt`` alone is in whole seconds: two edits within
    one second kept the first one in the cache for good, even through full syncs."""
    fields = (
        entry.updated_at,
        entry.title,
        entry.title_sort,
        entry.summary,
        entry.year,
        entry.index,
        entry.parent_index,
        entry.parent_rating_key,
        entry.grandparent_title,
        entry.duration,
        entry.added_at,
        entry.thumb,
        rating,
        part,
        *(guid.id for guid in entry.guids),
        entry.content_rating,
        entry.studio,
        entry.original_title,
        entry.originally_available_at,
        entry.parent_title,
        entry.art,
        *(genre.tag for genre in entry.genres),
        *(image.url for image in entry.images),
    )
    return format(zlib.crc32("\x1f".join(map(str, fields)).encode()), "08x")


def text(value: Text) -> str | None:
    """A text field as text, also when Plex sent it as a number (``1917``, not ``1917.0``)."""
    if value is None or isinstance(value, str):
        return value
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
