"""Metadata items as a real server renders them, in XML and JSON, cached per item and variant.

A page of 1000 items is the join of 1000 cached strings. The cache lives on the item and is
cleared by `Catalog.touch` whenever the item (or a count under it) changes.
"""

from collections.abc import Iterator
from typing import Any

from reeld.fakes.plex import streams
from reeld.fakes.plex.catalog import ARTIST, EPISODE, MOVIE, SHOW, TRACK, Item, Part
from reeld.fakes.plex.render import JSON, json_text, xml_attrs

#: Rendering variants (bit flags): external ``Guid`` list, ``librarySection*`` attributes, details.
GUIDS = 1
SECTION = 2
DETAILS = 4 | GUIDS | SECTION
#: A part's ``Stream`` elements (an item's own metadata), ``Chapter`` and ``Marker`` elements (asked for).
STREAMS, CHAPTERS, MARKERS = 8, 16, 32

XML_TAGS = {MOVIE: "Video", EPISODE: "Video", TRACK: "Track"}
#: Video media by ``part.id % 4``: (videoResolution, width, height, bitrate kbps, codec).
_VIDEO = (
    ("sd", 720, 480, 2_000, "mpeg4"),
    ("720", 1280, 720, 4_500, "h264"),
    ("1080", 1920, 1080, 9_000, "h264"),
    ("4k", 3840, 2160, 24_000, "hevc"),
)
_PEOPLE = ("Ada Brennan", "Tomas Okafor", "Mei Lindqvist", "Rafael Duarte", "Ines Moreau", "Kofi Hale")


def xml_tag(item: Item) -> str:
    return XML_TAGS.get(item.type, "Directory")


def fragment(item: Item, fmt: str, flags: int) -> str:
    """The item as one element (XML) or object (JSON), from the item's cache when possible."""
    cache = item.cache
    if cache is None:
        cache = item.cache = {}
    text = cache.get((fmt, flags))
    if text is None:
        text = cache[(fmt, flags)] = _render(item, fmt, flags)
    return text


def _render(item: Item, fmt: str, flags: int) -> str:
    attrs = attributes(item, flags)
    children = _children(item, flags)
    if fmt == JSON:
        body: dict[str, Any] = {name: value for name, value in attrs.items() if value is not None}
        for key, elements in children:
            body[key] = elements
        return json_text(body)
    tag = xml_tag(item)
    inner = "".join([_xml_element(key, element) for key, elements in children for element in elements])
    if not inner:
        return f"<{tag}{xml_attrs(attrs)}/>"
    return f"<{tag}{xml_attrs(attrs)}>{inner}</{tag}>"


def _xml_element(tag: str, element: dict[str, Any]) -> str:
    """An element with its nested ones (a media's parts, a part's streams) as child elements."""
    attrs = {name: value for name, value in element.items() if name not in _NESTED}
    inner = "".join(_xml_element(name, child) for name in _NESTED for child in element.get(name) or ())
    if not inner:
        return f"<{tag}{xml_attrs(attrs)}/>"
    return f"<{tag}{xml_attrs(attrs)}>{inner}</{tag}>"


_NESTED = ("Part", "Stream")


def thumb(item: Item) -> str:
    return f"/library/metadata/{item.rating_key}/thumb/{item.updated_at}"


def art(item: Item) -> str:
    """The background: an episode's or a season's is its show's."""
    owner = item.grandparent or item.parent or item
    return f"/library/metadata/{owner.rating_key}/art/{item.updated_at}"


def clear_logo(item: Item) -> str | None:
    """Shows have a logo, and every third movie."""
    if item.type == SHOW or (item.type == MOVIE and item.rating_key % 3 == 0):
        return f"/library/metadata/{item.rating_key}/clearLogo/{item.updated_at}"
    return None


def _images(item: Item) -> list[dict[str, Any]]:
    """The ``Image`` entries of a movie or show, as PMS 1.40+ lists them."""
    images = [
        {"alt": item.title, "type": "coverPoster", "url": thumb(item)},
        {"alt": item.title, "type": "background", "url": art(item)},
    ]
    if logo := clear_logo(item):
        images.append({"alt": item.title, "type": "clearLogo", "url": logo})
    return images


def children_key(item: Item) -> str:
    return f"/library/metadata/{item.rating_key}/children"


def attributes(item: Item, flags: int) -> dict[str, object]:
    """Attributes in the order a real server writes them; ``None`` means left out."""
    parent, grandparent = item.parent, item.grandparent
    attrs: dict[str, object] = {
        "ratingKey": str(item.rating_key),
        "key": item.key if item.is_leaf else children_key(item),
        "parentRatingKey": str(parent.rating_key) if parent else None,
        "grandparentRatingKey": str(grandparent.rating_key) if grandparent else None,
        "guid": item.guid,
        "parentGuid": parent.guid if parent else None,
        "grandparentGuid": grandparent.guid if grandparent else None,
        "type": item.type,
        "title": item.title,
        "grandparentKey": grandparent.key if grandparent else None,
        "parentKey": parent.key if parent else None,
    }
    if flags & SECTION:
        attrs["librarySectionTitle"] = item.section.title
        attrs["librarySectionID"] = item.section.id
        attrs["librarySectionKey"] = f"/library/sections/{item.section.id}"
    attrs.update(
        {
            "grandparentTitle": grandparent.title if grandparent else None,
            "parentTitle": parent.title if parent else None,
            "studio": item.studio,
            "contentRating": item.content_rating,
            "summary": item.summary if item.summary or item.type in (MOVIE, SHOW, EPISODE) else None,
            "index": item.index,
            "parentIndex": parent.index if parent and item.type in (EPISODE, TRACK) else None,
            "rating": item.rating,
            "audienceRating": item.audience_rating,
            "year": item.year,
            "titleSort": item.title_sort if item.title_sort != item.title else None,
            "originalTitle": item.original_title,
            "thumb": thumb(item),
            "art": art(item),
            "parentThumb": thumb(parent) if parent else None,
            "grandparentThumb": thumb(grandparent) if grandparent else None,
            "duration": item.duration,
            "originallyAvailableAt": item.released,
        }
    )
    attrs.update(_watch_attributes(item))
    attrs["addedAt"] = item.added_at
    attrs["updatedAt"] = item.updated_at
    return attrs


def _watch_attributes(item: Item) -> dict[str, object]:
    if item.is_leaf:
        return {
            "viewOffset": item.view_offset or None,
            "viewCount": item.view_count or None,
            "lastViewedAt": item.last_viewed_at,
        }
    count = watched = views = 0
    latest: int | None = None
    for leaf in _leaves(item):
        count += 1
        if leaf.view_count:
            watched += 1
            views += leaf.view_count
        if leaf.last_viewed_at is not None and (latest is None or leaf.last_viewed_at > latest):
            latest = leaf.last_viewed_at
    attrs: dict[str, object] = {}
    if item.type in (SHOW, ARTIST):
        attrs["childCount"] = len(item.children)
    attrs.update(
        {"leafCount": count, "viewedLeafCount": watched, "viewCount": views or None, "lastViewedAt": latest}
    )
    return attrs


def _leaves(item: Item) -> Iterator[Item]:
    """The leaves under an item, unordered (cheaper than `Item.leaves` when only counting)."""
    for child in item.children.values():
        if child.is_leaf:
            yield child
        else:
            yield from _leaves(child)


def _children(item: Item, flags: int) -> list[tuple[str, list[dict[str, Any]]]]:
    children: list[tuple[str, list[dict[str, Any]]]] = []
    if item.part is not None:
        children.append(("Media", [_media(item, item.part, flags)]))
        if flags & CHAPTERS:
            children.append(("Chapter", streams.chapters(item, item.part)))
        if flags & MARKERS:
            children.append(("Marker", streams.markers(item, item.part)))
    if item.type in (MOVIE, SHOW):
        children.append(("Image", _images(item)))
    if item.genres:
        children.append(("Genre", [{"tag": genre} for genre in item.genres]))
    if flags & DETAILS == DETAILS and item.type == MOVIE:
        first = item.rating_key % len(_PEOPLE)
        children.append(("Director", [{"tag": _PEOPLE[first]}]))
        cast = [_PEOPLE[(first + step) % len(_PEOPLE)] for step in (1, 2, 3)]
        children.append(("Role", [{"tag": name, "role": f"Role {n}"} for n, name in enumerate(cast, 1)]))
    if flags & GUIDS and item.external_ids:
        children.append(("Guid", [{"id": guid} for guid in item.external_ids]))
    return children


def media_of(item: Item) -> dict[str, Any]:
    """A leaf item's ``Media`` element (its part inside), without streams."""
    assert item.part is not None
    return _media_attributes(item, item.part)


def _media(item: Item, part: Part, flags: int = 0) -> dict[str, Any]:
    media = _media_attributes(item, part)
    if flags & STREAMS:
        media["Part"][0]["Stream"] = streams.streams(item, part, media)
    return media


def _media_attributes(item: Item, part: Part) -> dict[str, Any]:
    part_attrs: dict[str, object] = {
        "id": part.id,
        "key": f"/library/parts/{part.id}/{part.changed_at}/file.{part.container}",
        "duration": item.duration,
        "file": part.file,
        "size": part.size,
        "container": part.container,
    }
    if item.type == TRACK:
        return {
            "id": part.media_id,
            "duration": item.duration,
            "bitrate": 1_000,
            "audioChannels": 2,
            "audioCodec": "flac",
            "container": part.container,
            "Part": [part_attrs],
        }
    resolution, width, height, bitrate, codec = _VIDEO[part.id % len(_VIDEO)]
    part_attrs["videoProfile"] = "main"
    return {
        "id": part.media_id,
        "duration": item.duration,
        "bitrate": bitrate,
        "width": width,
        "height": height,
        "aspectRatio": round(width / height, 2),
        "audioChannels": 6 if part.id % 2 else 2,
        "audioCodec": "eac3" if part.id % 2 else "aac",
        "videoCodec": codec,
        "videoResolution": resolution,
        "container": part.container,
        "videoFrameRate": "24p",
        "videoProfile": "main",
        "Part": [part_attrs],
    }
