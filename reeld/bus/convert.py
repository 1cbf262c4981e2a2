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
_UNSIGNED = frozenset({"u", "t"})


def _variant(signature: str, value: Any) -> Variant:
    if signature in _UNSIGNED:
        value = max(0, int(value))
    elif signature == "d":
        value = float(value)
    # Values come from our own schema and are already the right Python type.
    return Variant(signature, value, verify=False)


def item_to_dbus(row: Any) -> dict[str, Variant]:
    """One ``a{sv}`` item from a ``browse`` row (an item joined with its watch state)."""
    source_id = row.source_id
    out = {
        "id": Variant("s", f"{source_id}:{row.remote_id}", verify=False),
        "source": Variant("o", source_path(source_id), verify=False),
        "library": Variant("o", library_path(source_id, row.library_id), verify=False),
        "watched": Variant("b", bool(row.watched), verify=False),
    }
    if row.parent_id is not None:
        out["parent_id"] = Variant("s", f"{source_id}:{row.parent_id}", verify=False)
    for key, column, signature in _COLUMNS:
        value = getattr(row, column)
        if value is not None and value != "":
            out[key] = _variant(signature, value)
    return out


def items_to_dbus(rows: Any) -> list[dict[str, Variant]]:
    return [item_to_dbus(row) for row in rows]
