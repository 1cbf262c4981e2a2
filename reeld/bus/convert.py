"""Cached items as the ``a{sv}`` dictionaries of API v1. Unknown values are left out."""

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from dbus_fast import Variant

from reeld.bus.constants import library_path, source_path
from reeld.bus.wire import (
    DOUBLE,
    NUL_PAD,
    PAD,
    U32,
    U64,
    ItemBytes,
    WireItems,
    entry_prefix,
    join_items,
    padded_entry,
    string_map_entry,
)
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


# -- the same items as wire bytes -------------------------------------------------------------------
# ``item_entries`` marshals what ``item_to_dbus`` builds, entry for entry and in its order, straight
# from the row. Building some 19 Variants an item and marshalling them took 21 us (4.3 ms a page of
# 200, under 20 busy clients the readers' largest cost); most entries are a fixed prefix and a
# packed value, and the entries that items share (their source and library, a kind, a list of
# genres) are made once. ``tests/bus/test_wire.py`` holds the two to the same bytes.

_ID_PREFIX, _PARENT_PREFIX = entry_prefix("id", "s"), entry_prefix("parent_id", "s")
_RATING_PREFIX, _UNWATCHED_PREFIX = entry_prefix("rating", "d"), entry_prefix("unwatched_count", "u")
_PROVIDER_IDS_PREFIX = entry_prefix("provider_ids", "a{ss}")
#: (column, prefix, the prefix's length plus a string's length and its NUL)
_STRING_ENTRIES = tuple(
    (position, prefix, len(prefix) + 5) for key, position in _TEXTS for prefix in [entry_prefix(key, "s")]
)
#: (column, prefix, packer, zeros after the value): a ``u`` ends 4 bytes off a multiple of 8 or on one.
_NUMBER_ENTRIES = tuple(
    (position, prefix, packer, -(len(prefix) + packer.size) % 8)
    for key, position, signature in _COUNTS
    for prefix, packer in [(entry_prefix(key, signature), U64 if signature == "t" else U32)]
)
_UNWATCHED_PAD = -(len(_UNWATCHED_PREFIX) + 4) % 8
_WATCHED_ENTRIES = padded_entry({"watched": _TRUE}), padded_entry({"watched": _FALSE})


@functools.lru_cache(maxsize=1024)
def _place_entries(source_id: str, library_id: str) -> tuple[bytes, int]:
    return padded_entry(
        {"source": _source_variant(source_id), "library": _library_variant(source_id, library_id)}
    )


@functools.lru_cache(maxsize=256)
def _kind_entry(kind: str) -> tuple[bytes, int]:
    return padded_entry({"kind": _shared("s", kind)})


@functools.lru_cache(maxsize=1024)
def _genres_entry(stored: str) -> tuple[bytes, int]:
    return padded_entry({"genres": _genres_variant(stored)})


@functools.lru_cache(maxsize=64)
def _artwork_prefix(kind: str) -> bytes:
    return entry_prefix(f"{kind}_path", "s")


def _string_entry(parts: list[bytes], prefix: bytes, value: str) -> int:
    """Add a string entry to ``parts``, padded to a multiple of 8; how many zeros that took."""
    data = value.encode()
    pad = -(len(prefix) + 5 + len(data)) % 8
    parts += (prefix, U32.pack(len(data)), data, NUL_PAD[pad])
    return pad


def item_entries(row: Any, artwork: dict[str, str]) -> bytes:
    """``entries_of(item_to_dbus(row, artwork))``, made without the Variants."""
    source_id = row[SOURCE]
    parts: list[bytes] = []
    _string_entry(parts, _ID_PREFIX, f"{source_id}:{row[REMOTE]}")
    watched, pad = _WATCHED_ENTRIES[not row[WATCHED]]
    parts += (_place_entries(source_id, row[LIBRARY])[0], watched)
    if (parent := row[PARENT]) is not None:
        pad = _string_entry(parts, _PARENT_PREFIX, f"{source_id}:{parent}")
    if kind := row[KIND]:
        entry, pad = _kind_entry(kind)
        parts.append(entry)
    for position, prefix, base in _STRING_ENTRIES:
        if value := row[position]:
            data = value.encode()
            pad = -(base + len(data)) % 8
            parts += (prefix, U32.pack(len(data)), data, NUL_PAD[pad])
    for position, prefix, packer, pad_after in _NUMBER_ENTRIES:
        if (value := row[position]) is not None:
            parts += (prefix, packer.pack(value if value > 0 else 0), PAD[pad_after])
            pad = pad_after
    if (rating := row[RATING]) is not None:
        parts += (_RATING_PREFIX, DOUBLE.pack(float(rating) if rating > 0 else 0.0))
        pad = 0
    if genres := row[GENRES]:
        entry, pad = _genres_entry(genres)
        parts.append(entry)
    if provider_ids := row[PROVIDER_IDS]:
        entry, pad = string_map_entry(_PROVIDER_IDS_PREFIX, _text_map(provider_ids))
        parts.append(entry)
    if (leaves := row[LEAVES]) is not None:
        parts += (
            _UNWATCHED_PREFIX,
            U32.pack(max(leaves - (row[WATCHED_LEAVES] or 0), 0)),
            PAD[_UNWATCHED_PAD],
        )
        pad = _UNWATCHED_PAD
    for kind, path in artwork.items():
        pad = _string_entry(parts, _artwork_prefix(kind), path)
    joined = b"".join(parts)
    return joined[: len(joined) - pad] if pad else joined


def items_to_wire(rows: Any) -> WireItems:
    """Rows as a marshalled ``aa{sv}`` list: each item's kept bytes while nothing it is made of
    (its row, watch state and counts included, and its artwork paths) changed."""
    artwork = [_artwork_paths(row[SOURCE], row[REMOTE], row[THUMB], row[ARTWORK]) for row in rows]
    keys = [(row[ID], hash((*row, *paths.items()))) for row, paths in zip(rows, artwork, strict=True)]
    entries = ITEM_BYTES.get(keys)
    made = []
    for position, entry in enumerate(entries):
        if entry is None:
            entry = entries[position] = item_entries(rows[position], artwork[position])
            made.append((*keys[position], entry))
    if made:
        ITEM_BYTES.put(made)
    return WireItems(join_items(entries), len(entries))  # type: ignore[arg-type]  # all filled
