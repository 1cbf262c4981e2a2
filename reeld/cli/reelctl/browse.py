"""Read commands: the daemon's state, accounts, sources, libraries, items. All answer from its cache."""

import datetime
from typing import Any

from reeld.bus.constants import LIBRARY_IFACE, MANAGER_IFACE, ROOT_PATH, SOURCE_IFACE
from reeld.cli.output import Column, ago, duration, item_title, print_items, print_table, progress
from reeld.cli.reelctl.app import Context
from reeld.cli.reelctl.tree import Entry, Tree, object_id
from reeld.text import plural
from reeld.validation import MAX_LIMIT

NO_SOURCES = (
    "No sources yet. Add a folder ('reelctl add-folder PATH'), a Jellyfin server ('reelctl add-jellyfin "
    "URL --user NAME') or a Plex account ('reelctl login-plex')."
)


def _source_state(source: Entry) -> str:
    if source.get("Syncing"):
        return f"syncing {round(100 * float(source.get('Progress', 0)))}%"
    return str(source.get("Status", ""))


async def status(ctx: Context) -> int:
    manager = await ctx.client.properties(ROOT_PATH, MANAGER_IFACE)
    tree = Tree(await ctx.client.objects())
    out = ctx.out
    if out.json:
        out.dump({**manager, "accounts": tree.accounts, "sources": tree.sources})
        return 0
    network = "online" if manager.get("Online") else "offline (cached data only)"
    activity = "syncing" if manager.get("Syncing") else "idle"
    out.line(f"reeld {manager.get('Version', '?')}: {network}, {activity}")
    items = sum(int(source.get("ItemCount", 0)) for source in tree.sources)
    out.line(
        f"{plural(len(tree.accounts), 'account')}, {plural(len(tree.sources), 'source')}, "
        f"{plural(len(tree.libraries), 'library', 'libraries')}, {plural(items, 'item')} cached"
    )
    out.line()
    columns = [
        Column("SOURCE", lambda s: str(s.get("Name", "")), flex=True),
        Column("KIND", lambda s: str(s.get("Kind", ""))),
        Column("STATUS", _source_state),
        Column("ITEMS", lambda s: str(s.get("ItemCount", 0)), align_right=True),
        Column("LAST SYNC", lambda s: ago(int(s.get("LastSync", 0)))),
        Column("MESSAGE", lambda s: str(s.get("StatusMessage", "")), flex=True),
    ]
    print_table(out, columns, tree.sources, NO_SOURCES)
    for account in tree.accounts:
        if account.get("AttentionNeeded"):
            out.line(
                f"! {account.get('DisplayName')}: {account.get('StatusMessage') or 'needs you to log in again'}"
            )
    return 0


async def accounts(ctx: Context) -> int:
    tree = Tree(await ctx.client.objects())
    if ctx.out.json:
        ctx.out.dump(tree.accounts)
        return 0
    columns = [
        Column("ID", lambda a: object_id(a["path"])),
        Column("KIND", lambda a: str(a.get("Kind", ""))),
        Column("NAME", lambda a: str(a.get("DisplayName", "")), flex=True),
        Column("IDENTITY", lambda a: str(a.get("Identity", "")), flex=True),
        Column("STATE", lambda a: "needs login" if a.get("AttentionNeeded") else "ok"),
        Column("MESSAGE", lambda a: str(a.get("StatusMessage", "")), flex=True),
    ]
    print_table(ctx.out, columns, tree.accounts, NO_SOURCES)
    return 0


async def sources(ctx: Context) -> int:
    tree = Tree(await ctx.client.objects())
    if ctx.out.json:
        ctx.out.dump(tree.sources)
        return 0
    columns = [
        Column("ID", lambda s: object_id(s["path"])),
        Column("NAME", lambda s: str(s.get("Name", "")), flex=True),
        Column("KIND", lambda s: str(s.get("Kind", ""))),
        Column("STATUS", _source_state),
        Column("VIA", lambda s: str(s.get("ConnectionKind", ""))),
        Column("ITEMS", lambda s: str(s.get("ItemCount", 0)), align_right=True),
        Column("QUEUED", lambda s: str(s.get("PendingChanges", 0)), align_right=True),
        Column("LAST SYNC", lambda s: ago(int(s.get("LastSync", 0)))),
        Column("ADDRESS", lambda s: str(s.get("Address", "")), flex=True),
        Column("MESSAGE", lambda s: str(s.get("StatusMessage", "")), flex=True),
    ]
    print_table(ctx.out, columns, tree.sources, NO_SOURCES)
    return 0


async def libraries(ctx: Context) -> int:
    tree = Tree(await ctx.client.objects())
    if ctx.out.json:
        ctx.out.dump(tree.libraries)
        return 0
    columns = [
        Column("LIBRARY", tree.library_label, flex=True),
        Column("KIND", lambda lib: str(lib.get("Kind", ""))),
        Column("ITEMS", lambda lib: str(lib.get("ItemCount", 0)), align_right=True),
        Column("LAST SYNC", lambda lib: ago(int(lib.get("LastSync", 0)))),
    ]
    empty = "No libraries yet." if tree.sources else NO_SOURCES
    print_table(ctx.out, columns, tree.libraries, empty)
    return 0


async def ls(ctx: Context) -> int:
    args = ctx.args
    tree = Tree(await ctx.client.objects())
    library = tree.library(args.library)
    (items,) = await ctx.client.call(
        library["path"], LIBRARY_IFACE, "ListItems", "uus", (args.offset, args.limit, args.sort)
    )
    print_items(ctx.out, items, empty="No items.", with_show=False)
    if not ctx.out.json and items:
        first, last = args.offset + 1, args.offset + len(items)
        total = max(int(library.get("ItemCount", 0)), last)
        more = f"; more with --offset {last}" if last < total else ""
        ctx.out.line(f"{first}-{last} of {total} in {tree.library_label(library)}{more}")
    return 0


async def show(ctx: Context) -> int:
    item = await ctx.client.manager("GetItem", "s", ctx.args.item)
    children: list[dict[str, Any]] = []
    if item.get("kind") in ("show", "season"):
        children = await ctx.client.manager("GetChildren", "s", ctx.args.item)
    out = ctx.out
    if out.json:
        out.dump({"item": item, "children": children})
        return 0
    tree = Tree(await ctx.client.objects())
    for label, value in _details(item, tree):
        out.line(f"{label + ':':<10} {value}")
    if item.get("kind") in ("show", "season"):
        out.line()
        out.line("Seasons:" if item.get("kind") == "show" else "Episodes:")
        print_items(out, children, empty="(none cached)", with_show=False)
    return 0


def _details(item: dict[str, Any], tree: Tree) -> list[tuple[str, str]]:
    title = item_title(item)
    if item.get("year"):
        title += f" ({item['year']})"
    rows = [("Title", title), ("Kind", str(item.get("kind", ""))), ("ID", str(item.get("id", "")))]
    if item.get("library"):
        rows.append(("Library", tree.label(item["library"])))
    if item.get("duration_ms"):
        rows.append(("Duration", duration(item["duration_ms"])))
    watched = "yes" if item.get("watched") else "no"
    if progress(item):
        watched += f", stopped at {duration(item['position_ms'])} ({progress(item)})"
    rows.append(("Watched", watched))
    if item.get("rating") is not None:
        rows.append(("Rating", f"{float(item['rating']):.1f}"))
    if item.get("added_at"):
        added = datetime.datetime.fromtimestamp(int(item["added_at"])).strftime("%Y-%m-%d %H:%M")
        rows.append(("Added", added))
    if item.get("summary"):
        rows.append(("Summary", str(item["summary"])))
    return rows


async def search(ctx: Context) -> int:
    limit = ctx.args.limit
    items = await ctx.client.manager("Search", "su", ctx.args.text, limit)
    print_items(ctx.out, items, empty=f"Nothing matches {ctx.args.text!r}.")
    if len(items) == limit and not ctx.out.json and limit < MAX_LIMIT:
        ctx.out.line(f"The best {limit} matches; there may be more: --limit {min(MAX_LIMIT, limit * 4)}")
    return 0


async def continue_watching(ctx: Context) -> int:
    items = await ctx.client.manager("ContinueWatching", "u", ctx.args.limit)
    print_items(ctx.out, items, empty="Nothing to continue.")
    return 0


async def recently_added(ctx: Context) -> int:
    items = await ctx.client.manager("RecentlyAdded", "u", ctx.args.limit)
    print_items(ctx.out, items, empty="Nothing added yet.")
    return 0


async def url(ctx: Context) -> int:
    stream_url = await ctx.client.manager("GetStreamUrl", "s", ctx.args.item)
    if ctx.out.json:
        ctx.out.dump({"id": ctx.args.item, "url": stream_url})
    else:
        ctx.out.line(stream_url)
    return 0


async def set_watched(ctx: Context) -> int:
    watched: bool = ctx.args.watched
    await ctx.client.manager("SetWatched", "sb", ctx.args.item, watched)
    item = await ctx.client.manager("GetItem", "s", ctx.args.item)
    if ctx.out.json:
        ctx.out.dump(item)
        return 0
    ctx.out.line(f"Marked {item_title(item)!r} as {'watched' if watched else 'unwatched'}.")
    await _say_if_server_away(ctx, item)
    return 0


async def report_progress(ctx: Context) -> int:
    position: int = ctx.args.position
    await ctx.client.manager("ReportProgress", "sts", ctx.args.item, position, ctx.args.state)
    item = await ctx.client.manager("GetItem", "s", ctx.args.item)
    length = int(item.get("duration_ms") or 0)
    if length and position > length:
        # The daemon keeps a position within the item (a player may overshoot the end): say so.
        ctx.out.note(
            f"{duration(position)} is past the end of {item_title(item)!r} ({duration(length)} long)."
        )
    if ctx.out.json:
        ctx.out.dump(item)
        return 0
    at = "the end, " + duration(length) if length and position >= length else duration(position)
    of = f" of {duration(length)}" if length and position < length else ""
    watched = "; it counts as watched" if item.get("watched") else ""
    ctx.out.line(f"Saved {item_title(item)!r} at {at}{of}{watched}.")
    await _say_if_server_away(ctx, item)
    return 0


async def _say_if_server_away(ctx: Context, item: dict[str, Any]) -> None:
    """A change to an item whose server is away is kept and sent, in order, once it answers again."""
    source = await ctx.client.properties(str(item["source"]), SOURCE_IFACE)
    status = str(source.get("Status", ""))
    if source.get("Kind") == "local" or status == "connected":
        return
    name = source.get("Name") or "Its server"
    why = str(source.get("StatusMessage") or "").rstrip(".")
    if status == "needs-auth":
        ctx.out.line(f"{name} needs you to log in again ({why}): it gets the change after that.")
    elif status == "error":
        ctx.out.line(f"{name} has a problem ({why}): it gets the change once that is fixed.")
    elif status == "connecting":
        ctx.out.line(f"{name} is connecting: it gets the change once connected.")
    else:
        ctx.out.line(f"{name} is offline: it gets the change when it is back.")
