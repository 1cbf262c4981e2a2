"""The parts of a Plex Media Server's JSON answers reeld reads, as typed structs (msgspec).

A listing page decodes straight into these, skipping the many fields reeld does not read (media
streams, tags, art) instead of building them into dicts: about half the time decoding into dicts
takes, on the page worker and under the GIL. Types are checked on the way in: a field of the wrong
type is left out, not the answer (``reeld.backends.typed``).
"""

import msgspec

from reeld.backends.typed import typed_decoder

#: Text that Plex sends as a number when it looks like one (a film titled 1917, a show titled 24).
Text = str | int | float | None


class TagDto(msgspec.Struct, gc=False):
    """A ``Guid`` entry: ``{"id": "imdb://tt0111161"}``."""

    id: str | None = None


class GenreDto(msgspec.Struct, gc=False):
    """A ``Genre`` entry: ``{"tag": "Drama"}``."""

    tag: Text = None


class ImageDto(msgspec.Struct, gc=False):
    """An ``Image`` entry: ``{"type": "clearLogo", "url": "/library/metadata/1/clearLogo/2"}``."""

    type: str | None = None
    url: str | None = None


class PartDto(msgspec.Struct, gc=False):
    key: str | None = None


class MediaDto(msgspec.Struct, gc=False):
    parts: list[PartDto] = msgspec.field(default_factory=list, name="Part")


class MetadataDto(msgspec.Struct, rename="camel", gc=False):
    """One entry of a ``MediaContainer``'s ``Metadata``: a movie, show, season, episode…"""

    type: str | None = None
    rating_key: str | int | None = None
    parent_rating_key: str | int | None = None
    library_section_id: str | int | None = msgspec.field(default=None, name="librarySectionID")
    title: Text = None
    title_sort: Text = None
    year: int | None = None
    summary: Text = None
    duration: int | float | None = None
    index: int | None = None
    parent_index: int | None = None
    grandparent_title: Text = None
    added_at: int | None = None
    updated_at: int | None = None
    audience_rating: float | None = None
    rating: float | None = None
    thumb: str | None = None
    view_count: int | None = None
    view_offset: int | None = None
    last_viewed_at: int | None = None
    leaf_count: int | None = None
    viewed_leaf_count: int | None = None
    guids: list[TagDto] = msgspec.field(default_factory=list, name="Guid")
    media: list[MediaDto] = msgspec.field(default_factory=list, name="Media")
    # The keys of API 1.1.
    genres: list[GenreDto] = msgspec.field(default_factory=list, name="Genre")
    content_rating: Text = None
    studio: Text = None
    original_title: Text = None
    originally_available_at: str | None = None
    parent_title: Text = None
    art: str | None = None
    images: list[ImageDto] = msgspec.field(default_factory=list, name="Image")


class ListingDto(msgspec.Struct, rename="camel"):
    """A ``MediaContainer`` of items: a page of a section's listing, or items by rating key."""

    metadata: list[MetadataDto] = msgspec.field(default_factory=list, name="Metadata")
    total_size: int | None = None
    size: int | None = None
    library_section_id: str | int | None = msgspec.field(default=None, name="librarySectionID")


class ListingAnswer(msgspec.Struct):
    container: ListingDto = msgspec.field(name="MediaContainer")


_decode_answer = typed_decoder(ListingAnswer)


def decode_listing(body: bytes) -> ListingDto:
    """A listing's body as its ``MediaContainer``; raises ``msgspec.DecodeError`` when it is not one."""
    return _decode_answer(body).container
