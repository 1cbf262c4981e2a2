"""Browsing the way a UI does (API 1.1): ``reelctl query`` (a library filtered and sorted, with the
number of matches) and ``reelctl next-up``."""

import datetime
from typing import Any

from dbus_fast import Variant

from reeld.bus.constants import LIBRARY_IFACE
from reeld.cli.output import print_items
from reeld.cli.reelctl.app import Context
from reeld.cli.reelctl.errors import InvalidArgument
from reeld.cli.reelctl.tree import Tree
from reeld.models.browsing import FILTER_TYPES

_TRUE, _FALSE = ("true", "yes", "1", "on"), ("false", "no", "0", "off")


def parse_filter(pairs: list[str]) -> dict[str, Variant]:
    """``["watched=false", "year_min=1990"]`` as Query's ``a{sv}``, each value of its key's type.

    A key reelctl does not know goes to the daemon as text: the daemon names what it does not take."""
    found: dict[str, Variant] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidArgument(f"a filter is KEY=VALUE (e.g. watched=false), not {pair!r}")
        found[key] = _typed(key, text.strip())
    return found


def _typed(key: str, text: str) -> Variant:
    signature = FILTER_TYPES.get(key, "s")
    if signature == "b":
        if text.lower() not in _TRUE + _FALSE:
            raise InvalidArgument(f"filter {key} is true or false, not {text!r}")
        return Variant("b", text.lower() in _TRUE)
    if signature == "u":
        if not text.isdigit() or int(text) >= 2**32:
            raise InvalidArgument(f"filter {key} is a whole number, not {text!r}")
        return Variant("u", int(text))
    if signature == "t":
        return Variant("t", _time(key, text))
    return Variant("s", text)


def _time(key: str, text: str) -> int:
    """Unix seconds, or a date (``2024-05-01``, midnight local time)."""
    if text.isdigit():
        return int(text)
    try:
        return int(datetime.datetime.fromisoformat(text).timestamp())
    except ValueError:
        raise InvalidArgument(f"filter {key} is a date (2024-05-01) or Unix seconds, not {text!r}") from None


async def query(ctx: Context) -> int:
    args = ctx.args
    tree = Tree(await ctx.client.objects())
    library = tree.library(args.library)
    flt = parse_filter(args.filter or [])
    items, total = await ctx.client.call(
        library["path"], LIBRARY_IFACE, "Query", "a{sv}uus", (flt, args.offset, args.limit, args.sort)
    )
    if ctx.out.json:
        ctx.out.dump({"total": total, "items": items})
        return 0
    print_items(ctx.out, items, empty="Nothing matches.", with_show=False)
    if items:
        first, last = args.offset + 1, args.offset + len(items)
        more = f"; more with --offset {last}" if last < total else ""
        ctx.out.line(f"{first}-{last} of {total} matching in {tree.library_label(library)}{more}")
    elif total:
        ctx.out.line(f"{total} match; --offset {args.offset} is past the last.")
    return 0


async def next_up(ctx: Context) -> int:
    items: list[dict[str, Any]] = await ctx.client.manager("NextUp", "u", ctx.args.limit)
    print_items(ctx.out, items, empty="Nothing to go on with: no show has an episode watched and one left.")
    return 0
