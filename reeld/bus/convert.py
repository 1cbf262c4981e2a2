"""Cached items as the ``a{sv}`` dictionaries of API v1. Unknown values are left out."""

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from dbus_fast import Variant

from reeld.bus.constants import library_path, source_path
from reeld.bus.wire import ItemBytes, WireItems, entries_of, join_items
from reeld.cache.browse import BROWSE_COLUMNS

T = TypeVar("T", list[Any], dict[str, Any])
#: ``(source_id, remote_id, thumb, artwork) -> {kind: path}``: the images of an item kept on disk.
ArtworkPaths = Callable[[str, str, str | None, str | None], dict[str, str]]

# (key, column, D-Bus type) for plain columns; unknown (NULL) values are omitted.
_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("kind", "kind", "s"),
    ("title", "title", "s"),
    ("year", "year", "u"),
    ("summary", "summary", "s"),
    ("duration_ms", "duration_ms", "t"),
    ("index", "idx", "u"),
    ("parent_index", "parent_idx", "u"),
    ("show_title", "show_title", "s"),
    ("added_at", "added_at", "t"),
    ("updated_at", "updated_at", "t"),
    ("rating", "rating", "d"),
    ("thumb", "thumb", "s"),
    ("view_count", "view_count", "u"),
    ("last_viewed_at", "last_viewed_at", "t"),
    ("position_ms", "position_ms", "t"),
    # API 1.1
    ("content_rating", "content_rating", "s"),
    ("studio", "studio", "s"),
    ("original_title", "original_title", "s"),
    ("sort_title", "sort_name", "s"),
    ("air_date", "air_date", "s"),
    ("artist", "artist", "s"),
    ("index_end", "index_end", "u"),
    ("child_count", "child_count", "u"),
    ("leaf_count", "leaf_count", "u"),
)
_POSITION = {name: index for index, name in enumerate(BROWSE_COLUMNS)}
SOURCE, REMOTE, LIBRARY, PARENT, WATCHED, KIND, RATING = (
    _POSITION[name]
    for name in ("source_id", "remote_id", "library_id", "parent_id", "watched", "kind", "rating")
)
GENRES, PROVIDER_IDS, LEAVES, WATCHED_LEAVES = (
    _POSITION[name] for name in ("genres", "provider_ids", "leaf_count", "watched_leaf_count")
)
THUMB, ARTWORK, ID = _POSITION["thumb"], _POSITION["artwork"], _POSITION["id"]
# The plain columns grouped by how a value is checked, so a row is one pass per group without a
# test of each column's type (ListItems converts 200 rows a page).
_TEXTS = tuple(
    (key, _POSITION[column]) for key, column, signature in _COLUMNS if signature == "s" and key != "kind"
)
_COUNTS = tuple(
    (key, _POSITION[column], signature) for key, column, signature in _COLUMNS if signature in ("u", "t")
)


# Variants of values many items share (object paths, kinds, flags) are made once: a page of 200
# items would otherwise build a thousand identical ones.
_TRUE, _FALSE = Variant("b", True), Variant("b", False)


@functools.lru_cache(maxsize=1024)
def _shared(signature: str, value: str) -> Variant:
    return Variant(signature, value, False)


@functools.lru_cache(maxsize=256)
def _source_variant(source_id: str) -> Variant:
    return Variant("o", source_path(source_id), False)


@functools.lru_cache(maxsize=1024)
def _library_variant(source_id: str, library_id: str) -> Variant:
    return Variant("o", library_path(source_id, library_id), False)


def item_to_dbus(row: Any, artwork: dict[str, str] | None = None) -> dict[str, Variant]:
    """One ``a{sv}`` item from a ``browse`` row (an item joined with its watch state); ``artwork``:
    its artwork paths, if known already."""
    source_id = row[SOURCE]
    out = {
        "id": Variant("s", f"{source_id}:{row[REMOTE]}", False),
        "source": _source_variant(source_id),
        "library": _library_variant(source_id, row[LIBRARY]),
        "watched": _TRUE if row[WATCHED] else _FALSE,
    }
    if row[PARENT] is not None:
        out["parent_id"] = Variant("s", f"{source_id}:{row[PARENT]}", False)
    if row[KIND]:
        out["kind"] = _shared("s", row[KIND])
    for key, position in _TEXTS:
        if value := row[position]:
            out[key] = Variant("s", value, False)
    for key, position, signature in _COUNTS:
        if (value := row[position]) is not None:
            # a bad server value (a negative count or time) must not break the reply
            out[key] = Variant(signature, value if value > 0 else 0, False)
    if (rating := row[RATING]) is not None:
        out["rating"] = Variant("d", float(rating) if rating > 0 else 0.0, False)
    if genres := row[GENRES]:
        out["genres"] = _genres_variant(genres)
    if provider_ids := row[PROVIDER_IDS]:
        out["provider_ids"] = Variant("a{ss}", _text_map(provider_ids), False)
    if (leaves := row[LEAVES]) is not None:
        out["unwatched_count"] = Variant("u", max(leaves - (row[WATCHED_LEAVES] or 0), 0), False)
    if artwork is None:
        artwork = _artwork_paths(source_id, row[REMOTE], row[THUMB], row[ARTWORK])
    for kind, path in artwork.items():
        out[f"{kind}_path"] = Variant("s", path, False)
    return out


def _no_artwork(source_id: str, remote_id: str, thumb: str | None, artwork: str | None) -> dict[str, str]:
    return {}


_artwork_paths: ArtworkPaths = _no_artwork


def use_artwork(paths: ArtworkPaths) -> None:
    """Give items the ``*_path`` keys of the images ``paths`` says are kept (the bus service's
    daemon's artwork cache; a process runs one daemon)."""
    global _artwork_paths
    _artwork_paths = paths


@functools.lru_cache(maxsize=1024)
def _genres_variant(stored: str) -> Variant:
    """A stored JSON array of genres as ``as`` (few distinct lists: made once each)."""
    return Variant("as", [str(genre) for genre in _json(stored, list)], False)


def _text_map(stored: str) -> dict[str, str]:
    return {str(key): str(value) for key, value in _json(stored, dict).items()}


def _json(stored: str, kind: type[T]) -> T:
    """A stored JSON value of the type expected, or an empty one (a hand-edited cache is no reason to fail)."""
    try:
        value = orjson.loads(stored)
    except orjson.JSONDecodeError:
        return kind()
    return value if isinstance(value, kind) else kind()


def items_to_dbus(rows: Any) -> list[dict[str, Variant]]:
    return [item_to_dbus(row) for row in rows]


#: The items marshalled lately (``reeld.bus.wire``): about 1 kB each, so some 3,500 items, the pages
#: a frontend scrolls back and forth through. Sized for the idle RSS target (80 MB): after a run of
#: pages, ``bench_core.py`` measured 71.3 MB kept nothing, 77.3 MB with 4 MiB, 79.6 with 6, 91.8 with 16.
ITEM_BYTES = ItemBytes(max_bytes=4 * 1024 * 1024)


def items_to_wire(rows: Any) -> WireItems:
    """Rows as a marshalled ``aa{sv}`` list: each item's kept bytes while nothing it is made of
    (its row, watch state and counts included, and its artwork paths) changed."""
    artwork = [_artwork_paths(row[SOURCE], row[REMOTE], row[THUMB], row[ARTWORK]) for row in rows]
    keys = [(row[ID], hash((*row, *paths.items()))) for row, paths in zip(rows, artwork, strict=True)]
    entries = ITEM_BYTES.get(keys)
    made = []
    for position, entry in enumerate(entries):
        if entry is None:
            entry = entries[position] = entries_of(item_to_dbus(rows[position], artwork[position]))
            made.append((*keys[position], entry))
    if made:
        ITEM_BYTES.put(made)
    return WireItems(join_items(entries), len(entries))  # type: ignore[arg-type]  # all filled
