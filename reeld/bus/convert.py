"""Cached items as the ``a{sv}`` dictionaries of API v1. Unknown values are left out."""

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


def item_to_dbus(row: Any) -> dict[str, Variant]:
    """One ``a{sv}`` item from a ``browse`` row (an item joined with its watch state)."""
    source_id = row[SOURCE]
    out = {
        "id": Variant("s", f"{source_id}:{row[REMOTE]}", False),
        "source": Variant("o", source_path(source_id), False),
        "library": Variant("o", library_path(source_id, row[LIBRARY]), False),
        "watched": Variant("b", bool(row[WATCHED]), False),
    }
    if row[PARENT] is not None:
        out["parent_id"] = Variant("s", f"{source_id}:{row[PARENT]}", False)
    for key, position, signature in _PLAIN:
        value = row[position]
        if value is None or value == "":
            continue
        if signature == "u" or signature == "t":
            value = value if value > 0 else 0  # a bad server value must not break the reply
        elif signature == "d":
            value = float(value)
        out[key] = Variant(signature, value, False)
    return out


def items_to_dbus(rows: Any) -> list[dict[str, Variant]]:
    return [item_to_dbus(row) for row in rows]
