"""Cached items as the ``a{sv}`` dictionaries of API v1. Unknown values are left out."""

import functools
from typing import Any

from dbus_fast import Variant

from reeld.bus.constants import library_path, source_path
from reeld.cache.browse import BROWSE_COLUMNS

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
)
_POSITION = {name: index for index, name in enumerate(BROWSE_COLUMNS)}
_PLAIN = tuple((key, _POSITION[column], signature) for key, column, signature in _COLUMNS)
SOURCE, REMOTE, LIBRARY, PARENT, WATCHED = (
    _POSITION[name] for name in ("source_id", "remote_id", "library_id", "parent_id", "watched")
)


# Variants of values many items share (object paths, kinds, flags) are made once: a page of 200
# items would otherwise build a thousand identical ones.
_TRUE, _FALSE = Variant("b", True), Variant("b", False)


@functools.lru_cache(maxsize=1024)
def _shared(signature: str, value: str) -> Variant:
    return Variant(signature, value, False)


def item_to_dbus(row: Any) -> dict[str, Variant]:
    """One ``a{sv}`` item from a ``browse`` row (an item joined with its watch state)."""
    source_id = row[SOURCE]
    out = {
        "id": Variant("s", f"{source_id}:{row[REMOTE]}", False),
        "source": _shared("o", source_path(source_id)),
        "library": _shared("o", library_path(source_id, row[LIBRARY])),
        "watched": _TRUE if row[WATCHED] else _FALSE,
    }
    if row[PARENT] is not None:
        out["parent_id"] = Variant("s", f"{source_id}:{row[PARENT]}", False)
    for key, position, signature in _PLAIN:
        value = row[position]
        if value is None or value == "":
            continue
        if key == "kind":
            out[key] = _shared("s", value)
            continue
        if signature == "u" or signature == "t":
            value = value if value > 0 else 0  # a bad server value must not break the reply
        elif signature == "d":
            value = float(value)
        out[key] = Variant(signature, value, False)
    return out


def items_to_dbus(rows: Any) -> list[dict[str, Variant]]:
    return [item_to_dbus(row) for row in rows]
