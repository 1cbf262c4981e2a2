"""Cached items as the ``a{sv}`` dictionaries of API v1. Unknown values are left out."""

from typing import Any

from dbus_fast import Variant

from reeld.bus.constants import library_path, source_path

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
# How each D-Bus type is made from a column value: the schema already gives the right Python
# types; unsigned values are clamped so a bad server value cannot break the reply.
_CONVERT: dict[str, Any] = {
    "s": str,
    "u": lambda v: max(0, int(v)),
    "t": lambda v: max(0, int(v)),
    "d": float,
}


def item_to_dbus(row: Any) -> dict[str, Variant]:
    """One ``a{sv}`` item from a ``browse`` row (an item joined with its watch state)."""
    values = row._mapping
    source_id = values["source_id"]
    out = {
        "id": Variant("s", f"{source_id}:{values['remote_id']}", False),
        "source": Variant("o", source_path(source_id), False),
        "library": Variant("o", library_path(source_id, values["library_id"]), False),
        "watched": Variant("b", bool(values["watched"]), False),
    }
    if values["parent_id"] is not None:
        out["parent_id"] = Variant("s", f"{source_id}:{values['parent_id']}", False)
    for key, column, signature in _COLUMNS:
        value = values[column]
        if value is not None and value != "":
            out[key] = Variant(signature, value if signature == "s" else _CONVERT[signature](value), False)
    return out


def items_to_dbus(rows: Any) -> list[dict[str, Variant]]:
    return [item_to_dbus(row) for row in rows]
