"""Jellyfin payloads (BaseItemDto, UserItemDataDto, views) as reeld's media models."""

from datetime import UTC, date, datetime

from reeld.backends.jellyfin.dto import ItemDto, UserDataDto
from reeld.models.media import ItemKind, Library, LibraryKind, MediaItem, WatchState

TICKS_PER_MS = 10_000

ITEM_KINDS: dict[str, ItemKind] = {
    "Movie": ItemKind.MOVIE,
    "Series": ItemKind.SHOW,
    "Season": ItemKind.SEASON,
    "Episode": ItemKind.EPISODE,
    "MusicArtist": ItemKind.ARTIST,
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
# A music library's artists are not under it: /Artists/AlbumArtists lists them.
INCLUDE_TYPES: dict[LibraryKind, str] = {
    LibraryKind.MOVIES: "Movie",
    LibraryKind.SHOWS: "Series,Season,Episode",
    LibraryKind.MUSIC: "MusicAlbum,Audio",
    LibraryKind.MIXED: "Movie,Series,Season,Episode,Video",
}

# Fields a listing asks for beyond the defaults (the server leaves these out unless asked).
FIELDS = "Overview,ProviderIds,DateCreated,Etag,SortName,ParentId,Genres,Studios,OriginalTitle"
#: The images whose tags a listing asks for (one of each), so the artwork cache knows what changed.
IMAGE_TYPES = "Primary,Backdrop,Logo,Thumb"
#: Artwork kinds of API 1.1 by Jellyfin image type; backdrops are a list of their own (BackdropImageTags).
ARTWORK_TYPES = {"poster": "Primary", "logo": "Logo", "thumb": "Thumb"}


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


def iso_date(value: str | None) -> str | None:
    """The day of a Jellyfin date (``2010-07-16T00:00:00.0000000Z`` -> ``2010-07-16``)."""
    if not value or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10]).isoformat()
    except ValueError:
        return None


def format_date(unix_seconds: float) -> str:
    return datetime.fromtimestamp(unix_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def library_from_view(view: ItemDto) -> Library:
    kind = LIBRARY_KINDS.get((view.collection_type or "mixed").lower(), LibraryKind.OTHER)
    return Library(remote_id=str(view.id), title=view.name or "Library", kind=kind)


def watch_state(item_id: str, data: UserDataDto) -> WatchState:
    return WatchState(
        remote_id=item_id,
        watched=data.played,
        position_ms=(data.playback_position_ticks or 0) // TICKS_PER_MS,
        view_count=data.play_count or 0,
        last_viewed_at=parse_date(data.last_played_date),
    )


_NO_USER_DATA = UserDataDto()


def watch_state_of(dto: ItemDto) -> WatchState:
    """The watch state of an item (all defaults when it carries no user data)."""
    return watch_state(str(dto.id), dto.user_data or _NO_USER_DATA)


def _parent(dto: ItemDto, kind: ItemKind) -> str | None:
    if kind is ItemKind.SEASON:
        return dto.series_id or dto.parent_id
    if kind is ItemKind.EPISODE:
        return dto.season_id or dto.series_id
    if kind is ItemKind.TRACK:
        return dto.album_id or dto.parent_id
    if kind is ItemKind.ALBUM and dto.album_artists:
        return dto.album_artists[0].id  # the artist item, as /Artists/AlbumArtists lists it
    return None


def item_from_dto(dto: ItemDto, library_id: str, base_url: str) -> MediaItem | None:
    """One item, or ``None`` for a type reeld does not keep (folders, extras)."""
    kind = ITEM_KINDS.get(dto.type or "")
    item_id = dto.id
    if kind is None or not item_id:
        return None
    ticks = dto.run_time_ticks
    image_tag = dto.image_tags.get("Primary") if dto.image_tags else None
    return MediaItem(
        remote_id=item_id,
        library_id=library_id,
        kind=kind,
        title=dto.name or "",
        sort_title=dto.sort_name,
        parent_id=_parent(dto, kind),
        year=dto.production_year,
        summary=dto.overview,
        duration_ms=ticks // TICKS_PER_MS if ticks else None,
        index=dto.index_number,
        # An episode's season, a track's disc.
        parent_index=dto.parent_index_number if kind in (ItemKind.EPISODE, ItemKind.TRACK) else None,
        show_title=dto.series_name,
        added_at=parse_date(dto.date_created),
        rating=dto.community_rating,
        thumb=f"{base_url}/Items/{item_id}/Images/Primary?tag={image_tag}" if image_tag else None,
        etag=dto.etag,
        watch=watch_state(item_id, dto.user_data) if dto.user_data is not None else None,
        genres=[genre for genre in dto.genres if genre] if dto.genres else [],
        content_rating=dto.official_rating or None,
        studio=next((studio.name for studio in dto.studios or () if studio.name), None),
        original_title=dto.original_title or None,
        air_date=iso_date(dto.premiere_date),
        provider_ids=provider_ids(dto.provider_ids),
        artist=_artist(dto, kind),
        index_end=dto.index_number_end if kind is ItemKind.EPISODE else None,
        artwork=_artwork(dto, kind),
    )


def provider_ids(ids: dict[str, str | None] | None) -> dict[str, str]:
    """Jellyfin's ``{"Imdb": "tt…", "Tmdb": "…"}`` with the lower-case names of API 1.1."""
    return {name.lower(): value for name, value in (ids or {}).items() if value} if ids else {}


def _artist(dto: ItemDto, kind: ItemKind) -> str | None:
    if kind is ItemKind.TRACK and dto.artists:
        return ", ".join(artist for artist in dto.artists if artist) or dto.album_artist
    if kind in (ItemKind.ALBUM, ItemKind.TRACK):
        return dto.album_artist or None
    return None


def _artwork(dto: ItemDto, item_kind: ItemKind) -> dict[str, str]:
    """The tag of each image the item has, by artwork kind.

    An episode's Primary image is a frame of it: its ``thumb``, as a Plex episode's and a local
    ``NAME-thumb.jpg`` are, never a poster. Its tag is stored as ``Primary/<tag>`` so the image is
    asked for by its own type (Jellyfin tags are hex digests: no slash of their own)."""
    tags = dto.image_tags or {}
    artwork = {kind: tag for kind, image_type in ARTWORK_TYPES.items() if (tag := tags.get(image_type))}
    if item_kind is ItemKind.EPISODE and "poster" in artwork:
        artwork["thumb"] = f"{ARTWORK_TYPES['poster']}/{artwork.pop('poster')}"
    if dto.backdrop_image_tags and dto.backdrop_image_tags[0]:
        artwork["backdrop"] = dto.backdrop_image_tags[0]
    return artwork
