"""The sidebar: Home, then each source with its status, and its libraries beneath it."""

from collections.abc import Callable

from gi.repository import Gio, GLib, Gtk

from .client import LIBRARY, SOURCE, Reeld

STATUS_ICONS = {
    "connected": "emblem-ok-symbolic",
    "connecting": "content-loading-symbolic",
    "offline": "network-offline-symbolic",
    "needs-auth": "dialog-password-symbolic",
    "error": "dialog-error-symbolic",
}


def prop(proxy: Gio.DBusProxy, name: str, default: object = "") -> object:
    value = proxy.get_cached_property(name)
    return value.unpack() if value is not None else default


class SourceRow(Gtk.ListBoxRow):
    """A source's name and status, its message when it is not simply connected, and its sync's
    progress; kept current from the proxy's PropertiesChanged."""

    def __init__(self, proxy: Gio.DBusProxy, on_action: Callable[[Gio.DBusProxy], None]) -> None:
        super().__init__(activatable=False, selectable=False)
        self.proxy = proxy
        box = Gtk.Box(
            orientation=Gtk.Orientation.VERTICAL, spacing=2, margin_top=12, margin_start=6, margin_end=6
        )
        top = Gtk.Box(spacing=6)
        self.icon = Gtk.Image()
        self.name = Gtk.Label(xalign=0, hexpand=True, ellipsize=3)
        self.name.add_css_class("heading")
        self.action = Gtk.Button(icon_name="view-refresh-symbolic", valign=Gtk.Align.CENTER)
        self.action.add_css_class("flat")
        self.action.connect("clicked", lambda _b: on_action(proxy))
        top.append(self.icon)
        top.append(self.name)
        top.append(self.action)
        self.message = Gtk.Label(xalign=0, wrap=True, max_width_chars=28)
        self.message.add_css_class("caption")
        self.progress = Gtk.ProgressBar()
        box.append(top)
        box.append(self.message)
        box.append(self.progress)
        self.set_child(box)
        proxy.connect("g-properties-changed", lambda *_: self.refresh())
        self.refresh()

    def refresh(self) -> None:
        status = str(prop(self.proxy, "Status"))
        message = str(prop(self.proxy, "StatusMessage"))
        syncing = bool(prop(self.proxy, "Syncing", False))
        pending = int(prop(self.proxy, "PendingChanges", 0))  # type: ignore[call-overload]
        self.name.set_label(str(prop(self.proxy, "Name")))
        self.icon.set_from_icon_name(STATUS_ICONS.get(status, "dialog-question-symbolic"))
        self.icon.set_tooltip_text(status)
        if pending:
            message = f"{message}\n{pending} change(s) waiting to be sent".strip()
        if status == "needs-auth":
            message = message or "Log in again: remove this account and add it anew."
        self.message.set_label(message if status != "connected" or pending else "")
        self.message.set_visible(bool(self.message.get_label()))
        self.message.set_css_classes(["caption"] + (["error"] if status in {"error", "needs-auth"} else []))
        self.progress.set_visible(syncing)
        self.progress.set_fraction(float(prop(self.proxy, "Progress", 0.0)))  # type: ignore[arg-type]
        self.action.set_tooltip_text("Sync now" if status == "connected" else "Reconnect")


class LibraryRow(Gtk.ListBoxRow):
    def __init__(self, proxy: Gio.DBusProxy) -> None:
        super().__init__()
        self.proxy = proxy
        self.path = proxy.get_object_path()
        box = Gtk.Box(spacing=8, margin_start=18)
        kind = str(prop(proxy, "Kind"))
        icon = {"movies": "video-x-generic-symbolic", "shows": "video-display-symbolic"}.get(
            kind, "folder-symbolic"
        )
        box.append(Gtk.Image(icon_name=icon))
        self.title = Gtk.Label(xalign=0, hexpand=True, ellipsize=3)
        self.count = Gtk.Label()
        self.count.add_css_class("dim-label")
        box.append(self.title)
        box.append(self.count)
        self.set_child(box)
        proxy.connect("g-properties-changed", lambda *_: self.refresh())
        self.refresh()

    def refresh(self) -> None:
        self.title.set_label(str(prop(self.proxy, "Title")))
        self.count.set_label(str(prop(self.proxy, "ItemCount", 0)))


class Sidebar(Gtk.ListBox):
    """Rebuilt when objects come and go (InterfacesAdded/Removed), rows update themselves."""

    def __init__(self, reeld: Reeld, on_home: Callable[[], None], on_library: Callable[[str], None]) -> None:
        super().__init__(selection_mode=Gtk.SelectionMode.SINGLE)
        self.add_css_class("navigation-sidebar")
        self.reeld = reeld
        self.source_rows: dict[str, SourceRow] = {}
        self.library_rows: dict[str, LibraryRow] = {}
        self.connect("row-activated", self._on_row)
        self._on_home, self._on_library = on_home, on_library
        self._queued = 0

    def queue_rebuild(self) -> None:
        """Once for a burst of objects (a new account brings a source and its libraries at once)."""
        if not self._queued:
            self._queued = GLib.idle_add(self.rebuild)

    def rebuild(self) -> bool:
        self._queued = 0
        selected = self.get_selected_row()
        keep = selected.path if isinstance(selected, LibraryRow) else None
        while (row := self.get_row_at_index(0)) is not None:
            self.remove(row)
        home = Gtk.ListBoxRow(child=Gtk.Label(label="Home", xalign=0, margin_start=6))
        home.path = ""
        self.append(home)
        self.source_rows, self.library_rows = {}, {}
        libraries = self.reeld.proxies(LIBRARY)
        for source in self.reeld.proxies(SOURCE):
            row = SourceRow(source, self._source_action)
            self.source_rows[source.get_object_path()] = row
            self.append(row)
            for library in libraries:
                if library.get_object_path().startswith(source.get_object_path() + "/"):
                    self.library_rows[library.get_object_path()] = LibraryRow(library)
                    self.append(self.library_rows[library.get_object_path()])
        self.select_row(self.library_rows.get(keep or "") or home)
        return GLib.SOURCE_REMOVE

    def _source_action(self, proxy: Gio.DBusProxy) -> None:
        if prop(proxy, "Status") == "connected":
            self.reeld.call(proxy.get_object_path(), SOURCE, "Sync", "b", (False,))
        else:
            self.reeld.call(proxy.get_object_path(), SOURCE, "Reconnect")

    def _on_row(self, _box: Gtk.ListBox, row: Gtk.ListBoxRow) -> None:
        if isinstance(row, LibraryRow):
            self._on_library(row.path)
        else:
            self._on_home()
