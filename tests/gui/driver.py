"""Runs reeld-gtk and answers questions about its own widget tree: JSON commands on stdin, one JSON
answer a line on stdout (``{"ok": true, ...}`` or ``{"ok": false, "error": ...}``).

Run with the system python (Debian's python3-gi), on the bus in DBUS_SESSION_BUS_ADDRESS, with a
DISPLAY (Xvfb). Waits check the widgets every 50 ms: that is the test looking, not the app polling;
the app's own D-Bus calls are counted (``calls``) so a test can show it makes none while idle.
"""

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "frontends", "gnome"))

from gi.repository import Gdk, GLib, Gtk
from reeld_gtk import client
from reeld_gtk.app import Application
from reeld_gtk.cards import PosterCard
from reeld_gtk.sidebar import SourceRow

calls: list[str] = []
_call_on = client.Reeld.call_on
_query = client.Reeld.query
#: How long the UI thread spent handling each page that Query answered (ms): turning the reply into
#: Python values, then updating the rows.
page_handling_ms: list[float] = []
_unpack = client.unpack
last_unpack_ms = [0.0]


def timed_unpack(reply: Any) -> Any:
    started = time.perf_counter()
    try:
        return _unpack(reply)
    finally:
        last_unpack_ms[0] = (time.perf_counter() - started) * 1000


client.unpack = timed_unpack


def timed_query(
    self: client.Reeld,
    library: str,
    filters: Any,
    offset: int,
    limit: int,
    sort: str,
    on_page: Any,
    on_error: Any = client.log_error,
) -> None:
    def handle(items: list[Any], total: int) -> None:
        started = time.perf_counter()
        on_page(items, total)
        page_handling_ms.append((time.perf_counter() - started) * 1000 + last_unpack_ms[0])

    _query(self, library, filters, offset, limit, sort, handle, on_error)


client.Reeld.query = timed_query  # type: ignore[method-assign]


def counted_call_on(self: client.Reeld, *args: Any, **kwargs: Any) -> None:
    calls.append(args[3])
    _call_on(self, *args, **kwargs)


client.Reeld.call_on = counted_call_on  # type: ignore[method-assign]


def answer(**fields: Any) -> None:
    print(json.dumps(fields, default=str), flush=True)


def walk(widget: Gtk.Widget) -> Iterator[Gtk.Widget]:
    yield widget
    child = widget.get_first_child()
    while child is not None:
        yield from walk(child)
        child = child.get_next_sibling()


def card_state(card: PosterCard) -> dict[str, Any]:
    item = card.item
    return {
        "title": card.title.get_label(),
        "id": item.item_id if item else "",
        "watched": card.watched_mark.get_visible(),
        "textured": isinstance(card.picture.get_paintable(), Gdk.Texture),
    }


class Driver:
    def __init__(self, app: Application) -> None:
        self.app = app

    @property
    def window(self) -> Any:
        return self.app.window  # built by the app's own activate, which runs after this driver's

    # -- what a command can ask -------------------------------------------------------------------

    def cards(self, where: Gtk.Widget) -> list[dict[str, Any]]:
        return [card_state(w) for w in walk(where) if isinstance(w, PosterCard) and w.item is not None]

    def source_rows(self) -> list[SourceRow]:
        return list(self.window.sidebar.source_rows.values())

    def do_ready(self, _cmd: dict[str, Any]) -> Callable[[], dict[str, Any] | None]:
        return lambda: {"running": True} if self.window.reeld.running else None

    def do_restarted(self, _cmd: dict[str, Any]) -> Callable[[], dict[str, Any] | None]:
        """Once the daemon went away and is back, the window showing pages again."""
        seen_gone = [False]

        def done() -> dict[str, Any] | None:
            if not self.window.reeld.running:
                seen_gone[0] = True
                return None
            back = seen_gone[0] and self.window.stack.get_visible_child_name() != "missing"
            return {"running": True} if back else None

        return done

    def do_add_jellyfin(self, cmd: dict[str, Any]) -> Callable[[], dict[str, Any] | None]:
        dialog = self.window.add_account()
        dialog.url.set_text(cmd["url"])
        dialog.user.set_text(cmd["user"])
        dialog.password.set_text(cmd["password"])
        dialog.login.emit("clicked")

        def done() -> dict[str, Any] | None:
            if dialog.message.has_css_class("error"):
                return {"error": dialog.message.get_label()}
            names = [row.name.get_label() for row in self.source_rows()]
            return {"sources": names} if not dialog.get_visible() and names else None

        return done

    def do_quick_connect(self, cmd: dict[str, Any]) -> Callable[[], dict[str, Any] | None]:
        """Start Quick Connect in the dialog; answers with the code it shows."""
        self.dialog = self.window.add_account()
        self.dialog.url.set_text(cmd["url"])
        self.dialog.quick.emit("clicked")
        return lambda: {"code": self.dialog.code.get_label()} if self.dialog.code.get_label() else None

    def do_dialog_closed(self, _cmd: dict[str, Any]) -> Callable[[], dict[str, Any] | None]:
        def done() -> dict[str, Any] | None:
            names = [row.name.get_label() for row in self.source_rows()]
            return {"sources": names} if not self.dialog.get_visible() and names else None

        return done

    def do_open_library(self, cmd: dict[str, Any]) -> Callable[[], dict[str, Any] | None]:
        def done() -> dict[str, Any] | None:
            for row in self.window.sidebar.library_rows.values():
                if row.title.get_label() == cmd["title"] and row.count.get_label() not in {"", "0"}:
                    row.activate()
                    return {"count": int(row.count.get_label())}
            return None

        return done

    def do_grid(self, cmd: dict[str, Any]) -> Callable[[], dict[str, Any] | None]:
        def done() -> dict[str, Any] | None:
            if self.window.stack.get_visible_child_name() != "library":
                return None
            cards = self.cards(self.window.library.grid)
            loaded = [c for c in cards if c["id"] and c["textured"]]
            if len(loaded) < cmd["min"]:
                return None
            return {"cards": cards, "total": self.window.library.model.get_n_items()}

        return done

    def do_card(self, cmd: dict[str, Any]) -> Callable[[], dict[str, Any] | None]:
        def done() -> dict[str, Any] | None:
            for card in self.cards(self.window.library.grid):
                if card["id"] == cmd["id"] and card["watched"] == cmd["watched"]:
                    return card
            return None

        return done

    def do_calls(self, _cmd: dict[str, Any]) -> Callable[[], dict[str, Any] | None]:
        return lambda: {"calls": list(calls)}

    def do_open_item(self, cmd: dict[str, Any]) -> Callable[[], dict[str, Any] | None]:
        self.window.open_item(cmd["id"])

        def done() -> dict[str, Any] | None:
            details = self.window.details
            if (
                details.item.get("id") == cmd["id"]
                and self.window.stack.get_visible_child_name() == "details"
            ):
                return {"title": details.item.get("title"), "button": details.watched_button.get_label()}
            return None

        return done

    def do_click_watched(self, _cmd: dict[str, Any]) -> Callable[[], dict[str, Any] | None]:
        self.window.details.watched_button.emit("clicked")
        return lambda: {"clicked": True}

    def do_first_poster(self, _cmd: dict[str, Any]) -> Callable[[], dict[str, Any] | None]:
        """When a poster first shows anywhere in the window (``now`` on the system's monotonic clock)."""

        def done() -> dict[str, Any] | None:
            textured = [c for c in self.cards(self.window) if c["textured"]]
            return (
                {"now": time.monotonic(), "page": self.window.stack.get_visible_child_name()}
                if textured
                else None
            )

        return done

    def do_scroll(self, cmd: dict[str, Any]) -> Callable[[], dict[str, Any] | None]:
        """Scroll the library grid from top to bottom in ``steps`` jumps, one a frame (16 ms), while
        a 1 ms timeout measures how late the main loop runs it; done when every page asked came."""
        adjustment = self.window.library.scroller.get_vadjustment()
        model = self.window.library.model
        gaps: list[float] = []
        state = {"step": 0, "last": time.perf_counter(), "probing": True}
        page_handling_ms.clear()

        def probe() -> bool:
            now = time.perf_counter()
            gaps.append((now - state["last"]) * 1000)
            state["last"] = now
            return state["probing"]

        def step() -> bool:
            state["step"] += 1
            fraction = state["step"] / cmd["steps"]
            adjustment.set_value(fraction * (adjustment.get_upper() - adjustment.get_page_size()))
            return state["step"] < cmd["steps"]

        GLib.timeout_add(1, probe)
        GLib.timeout_add(16, step)
        if os.environ.get("REELD_GTK_PROFILE"):
            import cProfile

            self.profile = cProfile.Profile()
            self.profile.enable()

        def done() -> dict[str, Any] | None:
            if state["step"] < cmd["steps"] or model.pending:
                return None
            state["probing"] = False
            if getattr(self, "profile", None):
                import pstats

                self.profile.disable()
                pstats.Stats(self.profile, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
                self.profile = None
            ordered = sorted(gaps)
            return {
                "pages": model.pages_loaded,
                "total": model.get_n_items(),
                "gap_max_ms": ordered[-1],
                "gap_p99_ms": ordered[int(len(ordered) * 0.99)],
                "gap_p50_ms": ordered[len(ordered) // 2],
                "page_ms": sorted(page_handling_ms),
            }

        return done

    def do_back(self, _cmd: dict[str, Any]) -> Callable[[], dict[str, Any] | None]:
        self.window.go_back()
        return lambda: {"page": self.window.stack.get_visible_child_name()}

    def do_source(self, cmd: dict[str, Any]) -> Callable[[], dict[str, Any] | None]:
        def done() -> dict[str, Any] | None:
            for row in self.source_rows():
                if row.icon.get_tooltip_text() == cmd["status"]:
                    shown = row.message.get_visible()
                    return {"name": row.name.get_label(), "message": row.message.get_label() if shown else ""}
            return None

        return done

    def do_click_source(self, _cmd: dict[str, Any]) -> Callable[[], dict[str, Any] | None]:
        for row in self.source_rows():
            row.action.emit("clicked")
        return lambda: {"clicked": len(self.source_rows())}

    # -- the command loop ---------------------------------------------------------------------------

    def run(self, line: str) -> None:
        cmd = json.loads(line)
        started = time.monotonic()
        deadline = started + float(cmd.get("timeout", 20))
        try:
            check = getattr(self, f"do_{cmd['cmd']}")(cmd)
        except Exception as error:  # a bad command is the test's bug: say it, go on
            answer(ok=False, error=f"{cmd['cmd']}: {error!r}")
            return

        def poll() -> bool:
            try:
                result = check()
            except Exception as error:
                answer(ok=False, error=f"{cmd['cmd']}: {error!r}")
                return GLib.SOURCE_REMOVE
            if result is not None:
                answer(ok=True, elapsed=time.monotonic() - started, **result)
                return GLib.SOURCE_REMOVE
            if time.monotonic() > deadline:
                answer(ok=False, error=f"{cmd['cmd']}: not within {cmd.get('timeout', 20)} s")
                return GLib.SOURCE_REMOVE
            return GLib.SOURCE_CONTINUE

        if poll():
            GLib.timeout_add(int(cmd.get("every", 50)), poll)


def main() -> int:
    app = Application()

    def on_activate(_app: Application) -> None:
        driver = Driver(app)
        pending = b""

        def on_stdin(fd: int, _condition: GLib.IOCondition) -> bool:
            nonlocal pending
            chunk = os.read(fd, 65536)
            if not chunk:
                app.quit()
                return False
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if line.strip():
                    driver.run(line.decode())
            return True

        GLib.io_add_watch(
            sys.stdin.fileno(), GLib.PRIORITY_DEFAULT, GLib.IOCondition.IN | GLib.IOCondition.HUP, on_stdin
        )
        answer(ok=True, started=True)

    app.connect("activate", on_activate)
    return app.run([sys.argv[0]])


if __name__ == "__main__":
    sys.exit(main())
