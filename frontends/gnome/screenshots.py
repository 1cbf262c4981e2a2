#!/usr/bin/python3
"""Screenshots of reeld-gtk for the README: light, dark, and a narrow window, from `reeld demo`.

    make screenshots            (starts `reeld demo`, an Xvfb display, and this script)
    /usr/bin/python3 frontends/gnome/screenshots.py [--narrow] OUT_DIR   (with REELD_BUS_ADDRESS, a DISPLAY)

Each shot is the window as the X server (Xvfb) shows it, saved by ImageMagick's import.
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))

import gi

gi.require_version("Gtk", "4.0")
gi.require_version("Adw", "1")
gi.require_version("GdkX11", "4.0")
from gi.repository import Adw, Gdk, GdkX11, GLib, Gtk  # noqa: E402
from reeld_gtk.app import Application  # noqa: E402
from reeld_gtk.cards import PosterCard  # noqa: E402
from reeld_gtk.window import Window  # noqa: E402

SETTLE_MS = 1000
NARROW = "--narrow" in sys.argv
TIMEOUT_S = 60


def save_png(window: Gtk.Window, path: str) -> None:
    """The window as the X server shows it (ImageMagick's import; PyGObject 3.42 cannot hand a
    Gsk render node to Python, so Gtk's own snapshot is out of reach)."""
    xid = GdkX11.X11Surface.get_xid(window.get_surface())
    subprocess.run(["import", "-window", hex(xid), path], check=True, timeout=30)


def wait_until(condition: object, then: object, timeout_s: float = TIMEOUT_S) -> None:
    """Check ``condition`` every 100 ms (a script waiting for the app, not the app polling)."""
    deadline = GLib.get_monotonic_time() + int(timeout_s * 1e6)

    def check() -> bool:
        if condition():
            then()
            return GLib.SOURCE_REMOVE
        if GLib.get_monotonic_time() > deadline:
            print("screenshots: the window never showed what was expected", file=sys.stderr)
            os._exit(1)
        return GLib.SOURCE_CONTINUE

    GLib.timeout_add(100, check)


def first_show(window: object) -> object:
    """A show from the home rows (a details page with seasons), else any item there."""
    stores = window.home.stores.values()
    items = [store.get_item(i) for store in stores for i in range(store.get_n_items())]
    return next((item for item in items if item.data.get("kind") == "show"), items[0])


def shoot(app: Application, out_dir: str) -> None:
    window = app.window
    assert window is not None
    styles = Adw.StyleManager.get_default()
    steps: list[tuple[str, object]] = []

    def library_row() -> object:
        rows = list(window.sidebar.library_rows.values())
        return next((r for r in rows if r.title.get_label() == "Movies"), rows[0] if rows else None)

    def open_library() -> None:
        row = library_row()
        window.sidebar.select_row(row)
        window.show_library(row.path)

    def showing(page: str) -> object:
        return lambda: window.stack.get_visible_child_name() == page

    def posters_on(page: str) -> object:
        return lambda: showing(page)() and textured_cards(window.stack.get_visible_child()) >= 4

    # (file to save once the condition holds, what to do next)
    if NARROW:
        steps = [
            (
                None,
                lambda: window.home.stores["NextUp"].get_n_items(),
                lambda: window.open_item(first_show(window)),
            ),
            ("details-narrow.png", showing("details"), app.quit),
        ]
    else:
        steps = [
            (None, lambda: window.sidebar.library_rows and library_row().count.get_label() != "0", open_library),
            ("library-light.png", posters_on("library"), lambda: styles.set_color_scheme(Adw.ColorScheme.FORCE_DARK)),
            ("library-dark.png", showing("library"), lambda: (styles.set_color_scheme(Adw.ColorScheme.FORCE_LIGHT),
                                                              window.show_home())),
            ("home-light.png", posters_on("home"), app.quit),
        ]  # fmt: skip

    def run(index: int = 0) -> None:
        name, ready, action = steps[index]

        def shoot_and_go_on() -> bool:
            if name:
                save_png(window, os.path.join(out_dir, name))
                print(f"screenshots: {name}", flush=True)
            action()
            if index + 1 < len(steps):
                run(index + 1)
            return GLib.SOURCE_REMOVE

        # Settled: posters decoded, a style change or a page's cross-fade over.
        wait_until(ready, lambda: GLib.timeout_add(SETTLE_MS, shoot_and_go_on))

    run()


def textured_cards(widget: Gtk.Widget) -> int:
    found = int(isinstance(widget, PosterCard) and isinstance(widget.picture.get_paintable(), Gdk.Texture))
    child = widget.get_first_child()
    while child is not None:
        found += textured_cards(child)
        child = child.get_next_sibling()
    return found


def narrow_windows() -> None:
    """Windows open at phone width (with no window manager, a shown window keeps its size)."""
    init = Window.__init__

    def narrow_init(self: Window, *args: object) -> None:
        init(self, *args)
        self.set_default_size(400, 760)

    Window.__init__ = narrow_init  # type: ignore[method-assign]


def main() -> int:
    args = [arg for arg in sys.argv[1:] if arg != "--narrow"]
    if NARROW:
        narrow_windows()
    out_dir = args[0] if args else "docs/screenshots"
    os.makedirs(out_dir, exist_ok=True)
    app = Application()
    app.connect("activate", lambda _app: GLib.idle_add(shoot, app, out_dir))
    return app.run([sys.argv[0]])


if __name__ == "__main__":
    sys.exit(main())
