"""Plex media queries on a listing: filters (``updatedAt>>=…``), sorts (``addedAt:desc``), paging.

The subset of the language in description.md ("Media Queries") that clients use for syncing and
browsing: AND of fields, ``,`` for OR within a field, the typed operators, relative dates
(``-30d``), field scoping (``show.title``, ``episode.addedAt`` on shows), ``sort`` with ``:desc``
and ``:nullsLast``, ``limit``, and ``X-Plex-Container-Start``/``-Size`` as headers or parameters.
"""

import calendar
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from reeld.fakes.plex.catalog import ALBUM, CHILD_TYPE, EPISODE, SEASON, TRACK, Item

DATE, NUMBER, TEXT, BOOL, TAG = "date", "number", "text", "bool", "tag"


def _released(item: Item) -> int | None:
    if not item.released:
        return None
    year, month, day = (int(part) for part in item.released[:10].split("-"))
    return calendar.timegm((year, month, day, 0, 0, 0))


def _unwatched(item: Item) -> bool:
    if item.is_leaf:
        return item.view_count == 0
    return item.watched_leaf_count() < item.leaf_count()


#: Filterable fields: name → (kind, value of an item).
FIELDS: dict[str, tuple[str, Callable[[Item], Any]]] = {
    "addedAt": (DATE, lambda item: item.added_at),
    "updatedAt": (DATE, lambda item: item.updated_at),
    "lastViewedAt": (DATE, Item.latest_view),
    "originallyAvailableAt": (DATE, _released),
    "year": (NUMBER, lambda item: item.year),
    "index": (NUMBER, lambda item: item.index),
    "duration": (NUMBER, lambda item: item.duration),
    "rating": (NUMBER, lambda item: item.rating),
    "audienceRating": (NUMBER, lambda item: item.audience_rating),
    "viewCount": (NUMBER, Item.total_view_count),
    "viewOffset": (NUMBER, lambda item: item.view_offset),
    "title": (TEXT, lambda item: item.title),
    "titleSort": (TEXT, lambda item: item.title_sort),
    "studio": (TEXT, lambda item: item.studio),
    "contentRating": (TEXT, lambda item: item.content_rating),
    "guid": (TEXT, lambda item: item.guid),
    "unwatched": (BOOL, _unwatched),
    "inProgress": (BOOL, lambda item: item.view_offset > 0),
    "genre": (TAG, lambda item: item.genres),
}

#: Sortable fields: name → value of an item (text already case-folded).
SORTS: dict[str, Callable[[Item], Any]] = {
    "titleSort": lambda item: item.sort_key,
    "title": lambda item: item.title.casefold(),
    "addedAt": lambda item: item.added_at,
    "updatedAt": lambda item: item.updated_at,
    "lastViewedAt": Item.latest_view,
    "originallyAvailableAt": lambda item: item.released,
    "year": lambda item: item.year,
    "rating": lambda item: item.rating,
    "audienceRating": lambda item: item.audience_rating,
    "duration": lambda item: item.duration,
    "viewCount": Item.total_view_count,
    "index": lambda item: item.index,
    "ratingKey": lambda item: item.rating_key,
    "id": lambda item: item.rating_key,
    "random": lambda item: (item.rating_key * 2654435761) % 4294967296,
}

_KEY = re.compile(r"(?:([a-z]+)\.)?([A-Za-z]+)(>>|<<|>|<|!)?")
_RELATIVE = re.compile(r"([+-])(\d+)(mon|[smhdwy])?")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "mon": 2592000, "y": 31536000, None: 1}


class QueryError(ValueError):
    """A query the server rejects with 400."""


@dataclass(frozen=True)
class Condition:
    scope: str | None
    field: str
    op: str
    values: tuple[str, ...]

    @property
    def kind(self) -> str:
        return FIELDS[self.field][0]


@dataclass(frozen=True)
class SortField:
    scope: str | None
    field: str
    descending: bool
    nulls_last: bool


def parse_conditions(params: Iterable[tuple[str, str]]) -> tuple[Condition, ...]:
    """The filters among the query parameters; parameters that are not fields are not filters."""
    conditions = []
    for raw_key, raw_value in params:
        match = _KEY.fullmatch(raw_key)
        if not match or match.group(2) not in FIELDS:
            continue
        scope, field, suffix = match.groups()
        value = raw_value
        if suffix in (">>", "<<"):
            op = suffix
        elif suffix == ">":
            op = ">="
        elif suffix == "<":
            op = "<="
        elif suffix == "!":
            op, value = ("!==", value[1:]) if value.startswith("=") else ("!=", value)
        else:
            op, value = ("==", value[1:]) if value.startswith("=") else ("=", value)
        conditions.append(Condition(scope, field, op, tuple(value.split(","))))
    return tuple(conditions)


def parse_sort(text: str | None) -> tuple[SortField, ...]:
    if not text:
        return ()
    fields = []
    for part in text.split(","):
        name, *features = part.strip().split(":")
        scope, _, field = name.rpartition(".")
        if field not in SORTS or any(f not in ("asc", "desc", "nullsLast", "") for f in features):
            raise QueryError(f"unknown sort {part!r}")
        fields.append(SortField(scope or None, field, "desc" in features, "nullsLast" in features))
    return tuple(fields)


def _number(text: str, kind: str, now: int) -> float:
    if kind == DATE:
        match = _RELATIVE.fullmatch(text)
        if match:
            sign, amount, unit = match.groups()
            delta = int(amount) * _UNITS[unit]
            return now + delta if sign == "+" else now - delta
    try:
        return float(text)
    except ValueError:
        raise QueryError(f"not a number: {text!r}") from None


def _test(condition: Condition, value: Any, now: int) -> bool:
    kind, op, values = condition.kind, condition.op, condition.values
    if kind in (DATE, NUMBER):
        if value is None:
            return op == "!="
        numbers = [_number(text, kind, now) for text in values]
        if op == "=":
            return value in numbers
        if op == "!=":
            return value not in numbers
        bound = numbers[0]
        return {">>": value > bound, "<<": value < bound, ">=": value >= bound, "<=": value <= bound}.get(
            op, False
        )
    if kind == BOOL:
        wanted = values[0] not in ("0", "false", "")
        return (bool(value) == wanted) == (op == "=")
    texts = [text.casefold() for text in values]
    if kind == TAG:
        names = {name.casefold() for name in value}
        hit = any(text in names for text in texts)
        return hit if op in ("=", "==") else not hit
    actual = (value or "").casefold()
    if op == "=":
        return any(text in actual for text in texts)
    if op == "!=":
        return not any(text in actual for text in texts)
    if op == "==":
        return actual in texts
    if op == "!==":
        return actual not in texts
    if op == "<=":
        return any(actual.startswith(text) for text in texts)
    return any(actual.endswith(text) for text in texts)


def _descendants(item: Item, type_name: str) -> Iterable[Item]:
    for child in item.children.values():
        if child.type == type_name:
            yield child
        else:
            yield from _descendants(child, type_name)


def matches(item: Item, condition: Condition, now: int) -> bool:
    """Whether an item passes a condition; a scope names an ancestor or a descendant type."""
    getter = FIELDS[condition.field][1]
    scope = condition.scope
    if scope is None or scope == item.type:
        return _test(condition, getter(item), now)
    ancestor = item.ancestor(scope)
    if ancestor is not None:
        return _test(condition, getter(ancestor), now)
    if _is_below(item.type, scope):
        return any(_test(condition, getter(node), now) for node in _descendants(item, scope))
    return False


def _is_below(parent_type: str, type_name: str) -> bool:
    child = CHILD_TYPE.get(parent_type)
    while child is not None:
        if child == type_name:
            return True
        child = CHILD_TYPE.get(child)
    return False


def _default_key(item: Item) -> tuple[Any, ...]:
    parent, grandparent = item.parent, item.grandparent
    if item.type in (SEASON, ALBUM) and parent is not None:
        return (parent.sort_key, item.index or 0, item.sort_key)
    if item.type in (EPISODE, TRACK) and parent is not None and grandparent is not None:
        return (grandparent.sort_key, parent.index or 0, item.index or 0)
    return (item.sort_key,)


def _sort_value(item: Item, field: SortField) -> Any:
    node = item.ancestor(field.scope) if field.scope and field.scope != item.type else item
    return SORTS[field.field](node) if node is not None else None


def order(items: list[Item], sorts: tuple[SortField, ...]) -> list[Item]:
    """``items`` in a listing's order (a new list)."""
    result = items[:]
    if not sorts:
        result.sort(key=_default_key)
        return result
    for field in reversed(sorts):
        result.sort(key=_sort_key(field), reverse=field.descending)
    return result


def select(ordered: list[Item], conditions: tuple[Condition, ...], now: int) -> list[Item]:
    """The items that pass every condition, order kept. Conditions are compiled once per listing:
    a server answers a filtered count over 100k items in milliseconds, and so should the fake."""
    if not conditions:
        return ordered
    tests = [_compiled(condition, now) for condition in conditions]
    if len(tests) == 1:
        return [item for item in ordered if tests[0](item)]
    return [item for item in ordered if all(test(item) for test in tests)]


def _compiled(condition: Condition, now: int) -> Callable[[Item], bool]:
    """A fast test for the common case (a date, number or flag of the item itself)."""
    getter = FIELDS[condition.field][1]
    kind, op = condition.kind, condition.op
    if condition.scope is None and kind in (DATE, NUMBER) and op in (">>", "<<", ">=", "<="):
        bound = _number(condition.values[0], kind, now)
        compare = {
            ">>": lambda v: v > bound,
            "<<": lambda v: v < bound,
            ">=": lambda v: v >= bound,
            "<=": lambda v: v <= bound,
        }[op]
        return lambda item: (value := getter(item)) is not None and compare(value)
    if condition.scope is None and kind == BOOL:
        wanted = (condition.values[0] not in ("0", "false", "")) == (op == "=")
        return lambda item: bool(getter(item)) == wanted
    return lambda item: matches(item, condition, now)


def _sort_key(field: SortField) -> Callable[[Item], tuple[bool, Any]]:
    """Nulls first ascending (last descending), as SQLite orders them, unless ``nullsLast``."""

    def key(item: Item) -> tuple[bool, Any]:
        value = _sort_value(item, field)
        return (value is None, value) if field.nulls_last else (value is not None, value)

    return key


@dataclass(frozen=True)
class Window:
    """The page a client asked for: ``size`` None means everything from ``start``."""

    start: int = 0
    size: int | None = None
    limit: int | None = None

    @property
    def paged(self) -> bool:
        return self.size is not None or self.start > 0

    def total(self, count: int) -> int:
        return min(count, self.limit) if self.limit is not None else count

    def slice(self, items: list[Item]) -> list[Item]:
        end = self.total(len(items))
        stop = end if self.size is None else min(end, self.start + self.size)
        return items[self.start : stop]


def window(query: Mapping[str, str], headers: Mapping[str, str]) -> Window:
    """Paging from the ``X-Plex-Container-*`` headers or the same-named query parameters."""

    def read(name: str) -> int | None:
        text = headers.get(name) or query.get(name)
        if text is None or text == "":
            return None
        try:
            return max(0, int(text))
        except ValueError:
            raise QueryError(f"bad {name}: {text!r}") from None

    limit = query.get("limit")
    return Window(
        start=read("X-Plex-Container-Start") or 0,
        size=read("X-Plex-Container-Size"),
        limit=int(limit) if limit and limit.isdigit() else None,
    )
