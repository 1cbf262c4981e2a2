"""The parts of Jellyfin's answers reeld reads, as typed structs (msgspec).

A listing page decodes straight into these: the fields reeld does not read are skipped instead of
built into dicts, which makes decoding a page three times faster than into dicts and keeps the
page worker's time, and the GIL, for the rest of a sync. A field of another type than the API says
is left out, not the answer (``reeld.backends.typed``).
"""

import msgspec

from reeld.backends.typed import typed_decoder


class UserDataDto(msgspec.Struct, rename="pascal", gc=False):
    """``UserItemDataDto``: an item's watch state for the user."""

    played: bool = False
    playback_position_ticks: int | None = None
    play_count: int | None = None
    last_played_date: str | None = None
    item_id: str | None = None  # in a websocket's UserDataChanged


class NameDto(msgspec.Struct, rename="pascal", gc=False):
    """``NameGuidPair``: a studio, an artist or a genre with its id."""

    name: str | None = None
    id: str | None = None


class ItemDto(msgspec.Struct, rename="pascal", gc=False):
    """``BaseItemDto``, the fields a listing asks for (``mapping.FIELDS``) and the defaults reeld uses."""

    id: str | None = None
    type: str | None = None
    name: str | None = None
    sort_name: str | None = None
    collection_type: str | None = None  # of a library (a user view)
    series_id: str | None = None
    season_id: str | None = None
    album_id: str | None = None
    parent_id: str | None = None
    production_year: int | None = None
    overview: str | None = None
    run_time_ticks: int | None = None
    index_number: int | None = None
    parent_index_number: int | None = None
    series_name: str | None = None
    date_created: str | None = None
    community_rating: float | None = None
    image_tags: dict[str, str | None] | None = None
    etag: str | None = None
    provider_ids: dict[str, str | None] | None = None
    user_data: UserDataDto | None = None
    # The keys of API 1.1 (genres, studios and the original title only when Fields asks for them).
    genres: list[str] | None = None
    official_rating: str | None = None
    studios: list[NameDto] | None = None
    original_title: str | None = None
    premiere_date: str | None = None
    album_artist: str | None = None
    album_artists: list[NameDto] | None = None  # a music album's, with their ids: the artist items
    artists: list[str] | None = None
    index_number_end: int | None = None
    backdrop_image_tags: list[str] | None = None


class ItemsResult(msgspec.Struct, rename="pascal"):
    """``BaseItemDtoQueryResult``: a page of a listing (``/Items``, ``/UserViews``)."""

    items: list[ItemDto]  # an answer without is no listing
    total_record_count: int = 0


#: Decodes a listing's body; raises ``msgspec.DecodeError`` when it is not one.
decode_items = typed_decoder(ItemsResult)
