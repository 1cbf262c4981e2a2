"""Jellyfin payloads (BaseItemDto, UserItemDataDto, views) as reeld's media models."""

from datetime import UTC, datetime
from typing import Any, TypedDict, cast

from reeld.models.media import ItemKind, Library, LibraryKind, MediaItem, WatchState

TICKS_PER_MS = 10_000

ITEM_KINDS: dict[str, ItemKind] = {
    "Movie": ItemKind.MOVIE,
    "Series": ItemKind.SHOW,
    "Season": ItemKind.SEASON,
    "Episode": ItemKind.EPISODE,
    "MusicAlbum": ItemKind.ALBUM,
    "Audio": ItemKind.TRACK,
    "Video": ItemKind.VIDEO,
    "MusicVideo": ItemKind.VIDEO,
}

LIBRARY_KINDS: dict[str, LibraryKind] = {
    "movies": LibraryKind.MOVIES,
    "tvshows": LibraryKind.SHOWS,
    "music": LibraryKind.MUSIC,
    "photos": LibraryKind.PHOTOS,
    "homevideos": LibraryKind.MIXED,
    "mixed": LibraryKind.MIXED,
    "boxsets": LibraryKind.OTHER,
    "musicvideos": LibraryKind.OTHER,
    "playlists": LibraryKind.OTHER,
    "livetv": LibraryKind.OTHER,
}

# The item types a listing asks for, per kind of library. Other kinds are listed with no items.
INCLUDE_TYPES: dict[LibraryKind, str] = {
    LibraryKind.MOVIES: "Movie",
    LibraryKind.SHOWS: "Series,Season,Episode",
    LibraryKind.MUSIC: "MusicAlbum",
    LibraryKind.MIXED: "Movie,Series,Season,Episode,Video",
}

# Fields a listing asks for beyond the defaults (the server leaves these out unless asked).
FIELDS = "Overview,ProviderIds,DateCreated,Etag,SortName,ParentId"


class UserData(TypedDict, total=False):
    ItemId: str
    Played: bool
    PlaybackPositionTicks: int
    PlayCount: int
    LastPlayedDate: str


def parse_date(value: str | None) -> int | None:
    """Jellyfin dates (``2024-01-02T03:04:05.0000000Z``, 7 fraction digits) as Unix seconds."""
    if not value:
        return None
    text = value.rstrip("Z")
    text = text.split(".")[0]
    try:
        return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())
    except ValueError:
        return None


def format_date(unix_seconds: float) -> str:
    return datetime.fromtimestamp(unix_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def library_from_view(view: dict[str, Any]) -> Library:
    kind = LIBRARY_KINDS.get(str(view.get("CollectionType") or "mixed").lower(), LibraryKind.OTHER)
    return Library(remote_id=str(view["Id"]), title=str(view.get("Name") or "Library"), kind=kind)


def watch_state(item_id: str, data: UserData) -> WatchState:
    return WatchState(
        remote_id=item_id,
        watched=bool(data.get("Played", False)),
        position_ms=int(data.get("PlaybackPositionTicks") or 0) // TICKS_PER_MS,
        view_count=int(data.get("PlayCount") or 0),
        last_viewed_at=parse_date(data.get("LastPlayedDate")),
    )


def watch_state_of(dto: dict[str, Any]) -> WatchState:
    """The watch state of an item DTO (all defaults when it carries no user data)."""
    return watch_state(str(dto["Id"]), cast(UserData, dto.get("UserData") or {}))


def _parent(dto: dict[str, Any], kind: ItemKind) -> str | None:
    if kind is ItemKind.SEASON:
        return dto.get("SeriesId") or dto.get("ParentId")
    if kind is ItemKind.EPISODE:
        return dto.get("SeasonId") or dto.get("SeriesId")
    if kind is ItemKind.TRACK:
        return dto.get("AlbumId") or dto.get("ParentId")
    return None


def item_from_dto(dto: dict[str, Any], library_id: str, base_url: str) -> MediaItem | None:
    """One item, or ``None`` for a type reeld does not keep (folders, extras)."""
    kind = ITEM_KINDS.get(str(dto.get("Type")))
    item_id = dto.get("Id")
    if kind is None or not item_id:
        return None
    ticks = dto.get("RunTimeTicks")
    image_tag = (dto.get("ImageTags") or {}).get("Primary")
    rating = dto.get("CommunityRating")
    extra: dict[str, object] = {}
    if dto.get("ProviderIds"):
        extra["provider_ids"] = dto["ProviderIds"]
    user_data = dto.get("UserData")
    return MediaItem(
        remote_id=str(item_id),
        library_id=library_id,
        kind=kind,
        title=str(dto.get("Name") or ""),
        sort_title=dto.get("SortName"),
        parent_id=_parent(dto, kind),
        year=dto.get("ProductionYear"),
        summary=dto.get("Overview"),
        duration_ms=int(ticks) // TICKS_PER_MS if ticks else None,
        index=dto.get("IndexNumber"),
        parent_index=dto.get("ParentIndexNumber") if kind is ItemKind.EPISODE else None,
        show_title=dto.get("SeriesName"),
        added_at=parse_date(dto.get("DateCreated")),
        rating=float(rating) if rating is not None else None,
        thumb=f"{base_url}/Items/{item_id}/Images/Primary?tag={image_tag}" if image_tag else None,
        etag=dto.get("Etag"),
        extra=extra,
        watch=watch_state(str(item_id), cast(UserData, user_data)) if isinstance(user_data, dict) else None,
    )
