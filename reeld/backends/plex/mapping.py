"""Plex payloads (sections, ``Metadata`` entries) as reeld's media models."""

from typing import Any

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
    "album": ItemKind.ALBUM,
    "track": ItemKind.TRACK,
    "clip": ItemKind.VIDEO,
}

#: Plex's metadata type numbers a listing asks for, per kind of library, parents before children.
#: Music lists its albums; other kinds are listed with no items.
LIST_TYPES: dict[LibraryKind, tuple[int, ...]] = {
    LibraryKind.MOVIES: (1,),
    LibraryKind.SHOWS: (2, 3, 4),
    LibraryKind.MUSIC: (9,),
}
#: The playable types of a library, whose watch state is swept.
LEAF_TYPES: dict[LibraryKind, tuple[int, ...]] = {
    LibraryKind.MOVIES: (1,),
    LibraryKind.SHOWS: (4,),
}


def library_from_section(section: dict[str, Any]) -> Library:
    kind = LIBRARY_KINDS.get(str(section.get("type")), LibraryKind.OTHER)
    return Library(remote_id=str(section["key"]), title=str(section.get("title") or "Library"), kind=kind)


def watch_state_from(entry: dict[str, Any]) -> WatchState:
    """The watch state in an entry: leaves by ``viewCount``, shows and seasons by their leaf counts."""
    view_count = int_or_none(entry.get("viewCount")) or 0
    leaves = entry.get("leafCount")
    if leaves is not None:
        leaves = int_or_none(leaves) or 0
        watched = leaves > 0 and (int_or_none(entry.get("viewedLeafCount")) or 0) >= leaves
    else:
        watched = view_count > 0
    return WatchState(
        remote_id=str(entry["ratingKey"]),
        watched=watched,
        position_ms=int_or_none(entry.get("viewOffset")) or 0,
        view_count=view_count,
        last_viewed_at=int_or_none(entry.get("lastViewedAt")),
    )


def item_from_metadata(entry: dict[str, Any], library_id: str, base_url: str) -> MediaItem | None:
    """One item, or ``None`` for a type reeld does not keep. (Runs for every item of a sync: kept lean.)"""
    get = entry.get
    kind = ITEM_KINDS.get(get("type"))  # type: ignore[arg-type]
    rating_key = get("ratingKey")
    if kind is None or not rating_key:
        return None
    extra: dict[str, object] = {}
    guids = get("Guid")
    if guids:
        ids = [g["id"] for g in guids if isinstance(g, dict) and g.get("id")]
        if ids:
            extra["guids"] = ids
    media = get("Media")
    if media:
        part = _first_part(media)
        if part is not None:
            extra["part_key"] = part
    rating = get("audienceRating", get("rating"))
    thumb = get("thumb")
    updated = int_or_none(get("updatedAt"))
    is_episode = kind is ItemKind.EPISODE
    parent = get("parentRatingKey") if kind in _CHILD_KINDS else None
    return MediaItem(
        remote_id=str(rating_key),
        library_id=library_id,
        kind=kind,
        title=str(get("title") or ""),
        sort_title=get("titleSort"),
        parent_id=str(parent) if parent else None,
        year=int_or_none(get("year")),
        summary=get("summary") or None,
        duration_ms=int_or_none(get("duration")),
        index=int_or_none(get("index")) if kind is not ItemKind.MOVIE else None,
        parent_index=int_or_none(get("parentIndex")) if is_episode else None,
        show_title=get("grandparentTitle") if is_episode else None,
        added_at=int_or_none(get("addedAt")),
        updated_at=updated,
        rating=float(rating) if rating is not None else None,
        # No token here: the cache and the bus never hold one. Clients ask for a URL to play.
        thumb=f"{base_url}{thumb}" if thumb else None,
        etag=str(updated) if updated is not None else None,
        extra=extra,
        watch=watch_state_from(entry),
    )


_CHILD_KINDS = frozenset({ItemKind.SEASON, ItemKind.EPISODE, ItemKind.TRACK})


def _first_part(media: list[dict[str, Any]]) -> str | None:
    for entry in media:
        for part in entry.get("Part") or ():
            if part.get("key"):
                return str(part["key"])
    return None


def int_or_none(value: Any) -> int | None:
    """A Plex number (JSON int, or a string in XML-ish answers) as an int; None when it is not one."""
    if value.__class__ is int:  # what JSON gives, nearly always: no conversion, no exception handling
        return value
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
