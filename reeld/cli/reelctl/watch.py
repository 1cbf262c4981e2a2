"""``reelctl watch``: reeld's signals as they happen, one line each, until Ctrl-C."""

import asyncio
import json
import time
from typing import Any

from reeld.bus.constants import ACCOUNT_IFACE, IFACE_PREFIX, LIBRARY_IFACE, SOURCE_IFACE
from reeld.cli.reelctl.app import Context, Interrupted, interruptible
from reeld.cli.reelctl.client import Signal
from reeld.cli.reelctl.errors import EXIT_INTERRUPTED, DaemonNotRunning
from reeld.cli.reelctl.tree import Tree

KINDS = {ACCOUNT_IFACE: "account", SOURCE_IFACE: "source", LIBRARY_IFACE: "library"}


async def watch(ctx: Context) -> int:
    queue = await ctx.client.subscribe()
    try:
        tree = Tree(await ctx.client.objects())
    except DaemonNotRunning:
        tree = Tree({})  # it may start later; its arrival is shown
        if not ctx.out.json:
            ctx.out.line("The reeld daemon is not running; waiting for it.")
    if not ctx.out.json:
        ctx.out.line("Watching reeld's signals; press Ctrl-C to stop.")
    try:
        await interruptible(_print_signals(ctx, queue, tree))
    except Interrupted:
        return EXIT_INTERRUPTED  # the usual way to stop watching, and still what --help says Ctrl-C gives
    return 0


async def _print_signals(ctx: Context, queue: "asyncio.Queue[Signal]", tree: Tree) -> None:
    while True:
        signal = await queue.get()
        if ctx.out.json:
            ctx.out.line(_json_line(signal))
        else:
            ctx.out.line(f"{time.strftime('%H:%M:%S')}  {describe(signal, tree)}")
        _remember(signal, tree)


def _json_line(signal: Signal) -> str:
    event = {
        "time": round(time.time(), 3),
        "path": signal.path,
        "interface": signal.interface,
        "signal": signal.member,
        "args": signal.args,
    }
    return json.dumps(event, ensure_ascii=False)


def describe(signal: Signal, tree: Tree) -> str:
    """One line a person can read for a signal."""
    args = signal.args
    match signal.member:
        case "NameOwnerChanged":
            return "reeld started" if args[2] else "reeld stopped"
        case "InterfacesAdded":
            path, interfaces = args
            return f"+ {_added(path, interfaces)}"
        case "InterfacesRemoved":
            path, interfaces = args
            kind = next((KINDS[name] for name in interfaces if name in KINDS), "object")
            return f"- {kind} {tree.label(path)} ({path})"
        case "PropertiesChanged":
            interface, changed, _invalidated = args
            kind = KINDS.get(interface, interface.removeprefix(IFACE_PREFIX + "."))
            name = "reeld" if kind == "Manager" else f"{kind} {tree.label(signal.path)}"
            values = " ".join(f"{key}={_value(value, key)}" for key, value in sorted(changed.items()))
            return f"~ {name}: {values}"
        case "SyncFinished":
            source, success, message = args
            outcome = "finished" if success else "FAILED"
            return f"sync of {tree.label(source)} {outcome}: {message}"
        case "LoginFinished":
            login_id, account, error = args
            return f"login {login_id} failed: {error}" if error else f"login {login_id} added {account}"
        case "ItemsChanged":
            changed, removed, reload = args
            return f"* library {tree.label(signal.path)}: {_items_words(changed, removed, reload)}"
    return f"{signal.member} {signal.path} {args}"


#: How many item ids a line names before it counts the rest.
SHOWN_IDS = 5


def _items_words(changed: list[str], removed: list[str], reload: bool) -> str:
    """``changed a, b; removed c``, or that there were too many to name."""
    if reload:
        return "many items changed (list it again)"
    parts = [f"{verb} {_ids(ids)}" for verb, ids in (("changed", changed), ("removed", removed)) if ids]
    return "; ".join(parts) or "nothing"


def _ids(ids: list[str]) -> str:
    shown = ", ".join(ids[:SHOWN_IDS])
    return shown if len(ids) <= SHOWN_IDS else f"{shown} and {len(ids) - SHOWN_IDS} more"


def _added(path: str, interfaces: dict[str, dict[str, Any]]) -> str:
    for interface, key in ((SOURCE_IFACE, "Name"), (ACCOUNT_IFACE, "DisplayName"), (LIBRARY_IFACE, "Title")):
        if interface in interfaces:
            return f"{KINDS[interface]} {interfaces[interface].get(key, '')} ({path})"
    return path


#: Properties that hold a time (Unix seconds, 0 for never).
TIME_PROPERTIES = frozenset({"LastSync", "LastFullSync", "NextRetry"})


def _value(value: Any, key: str = "") -> str:
    if key in TIME_PROPERTIES and isinstance(value, int) and not isinstance(value, bool):
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(value)) if value else "never"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.2f}"
    text = str(value)
    return repr(text) if " " in text or not text else text


def _remember(signal: Signal, tree: Tree) -> None:
    """Keep the names used in lines up to date."""
    objects = tree.objects
    if signal.member == "InterfacesAdded":
        path, interfaces = signal.args
        objects.setdefault(path, {}).update(interfaces)
    elif signal.member == "InterfacesRemoved":
        objects.pop(signal.args[0], None)
    elif signal.member == "PropertiesChanged" and signal.path in objects:
        interface, changed, _invalidated = signal.args
        objects[signal.path].setdefault(interface, {}).update(changed)
