"""The main window: sidebar of sources and libraries beside home, a library, search or an item."""

from gi.repository import Adw, GLib, Gtk

from .accounts import AddAccountDialog
from .client import LIBRARY, MANAGER, Reeld
from .details import DetailsPage
from .models import Artwork, ItemObject
from .pages import HomePage, LibraryPage, SearchPage
from .settings import Settings
from .sidebar import Sidebar

#: ItemsChanged comes at most every 250 ms a library; the home rows are asked again after a quiet spell.
HOME_REFRESH_MS = 300


class Window(Adw.ApplicationWindow):
    def __init__(self, app: Adw.Application, reeld: Reeld) -> None:
        super().__init__(application=app, title="reeld", default_width=1100, default_height=720)
        self.reeld, self.settings = reeld, Settings()
        self.artwork = Artwork(reeld)
        self.history: list[str] = []
        self._home_timer = 0
        self.sidebar = Sidebar(reeld, self.show_home, self.show_library)
        self.home = HomePage(reeld, self.artwork, self.open_item)
        self.library = LibraryPage(reeld, self.artwork, self.open_item)
        self.search = SearchPage(reeld, self.artwork, self.open_item)
        self.details = DetailsPage(
            reeld, self.artwork, self.settings, lambda item_id: self.open_item(item_id)
        )
        self.missing = Adw.StatusPage(icon_name="network-server-symbolic", title="Connecting to reeld…")
        self.retry = Gtk.Button(label="Start reeld", halign=Gtk.Align.CENTER, visible=False)
        self.retry.add_css_class("pill")
        self.retry.connect("clicked", lambda _b: self.start_daemon())
        self.missing.set_child(self.retry)
        self.stack = Gtk.Stack(vexpand=True)
        for name, page in (("missing", self.missing), ("home", self.home), ("library", self.library),
                           ("search", self.search), ("details", self.details)):  # fmt: skip
            self.stack.add_named(page, name)
        self.leaflet = Adw.Leaflet(can_navigate_back=True)
        self.leaflet.append(self._sidebar_pane())
        self.leaflet.append(Gtk.Separator(orientation=Gtk.Orientation.VERTICAL))
        self.leaflet.append(self._content_pane())
        self.leaflet.connect("notify::folded", lambda *_: self._folded())
        self.set_content(self.leaflet)

    def _sidebar_pane(self) -> Gtk.Widget:
        header = Adw.HeaderBar(show_end_title_buttons=False, title_widget=Adw.WindowTitle(title="reeld"))
        add = Gtk.Button(icon_name="list-add-symbolic", tooltip_text="Add Account")
        add.connect("clicked", lambda _b: self.add_account())
        header.pack_start(add)
        prefs = Gtk.Button(icon_name="emblem-system-symbolic", tooltip_text="Preferences")
        prefs.connect("clicked", lambda _b: self.preferences())
        header.pack_end(prefs)
        pane = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, width_request=260)
        pane.append(header)
        pane.append(
            Gtk.ScrolledWindow(child=self.sidebar, vexpand=True, hscrollbar_policy=Gtk.PolicyType.NEVER)
        )
        return pane

    def _content_pane(self) -> Gtk.Widget:
        self.title = Adw.WindowTitle(title="Home")
        header = Adw.HeaderBar(title_widget=self.title)
        self.back = Gtk.Button(icon_name="go-previous-symbolic", tooltip_text="Back", visible=False)
        self.back.connect("clicked", lambda _b: self.go_back())
        header.pack_start(self.back)
        self.search_toggle = Gtk.ToggleButton(icon_name="system-search-symbolic", tooltip_text="Search")
        header.pack_end(self.search_toggle)
        self.search_entry = Gtk.SearchEntry(placeholder_text="Search every library", hexpand=True)
        self.search_entry.connect("search-changed", lambda entry: self._search(entry.get_text()))
        search_bar = Gtk.SearchBar(
            child=Adw.Clamp(child=self.search_entry, maximum_size=500), key_capture_widget=self
        )
        search_bar.connect_entry(self.search_entry)
        self.search_toggle.bind_property(
            "active", search_bar, "search-mode-enabled", 3
        )  # 3: bidirectional, sync
        pane = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, hexpand=True, width_request=360)
        for child in (header, search_bar, self.stack):
            pane.append(child)
        return pane

    # -- the daemon coming and going ----------------------------------------------------------------

    def attach(self) -> None:
        """The object manager is ready: follow objects, properties and item changes from now on."""
        objects = self.reeld.objects
        assert objects is not None
        objects.connect("object-added", lambda *_: self.sidebar.queue_rebuild())
        objects.connect("object-removed", lambda *_: self.sidebar.queue_rebuild())
        objects.connect("notify::name-owner", lambda *_: self._presence())
        self.reeld.subscribe(LIBRARY, "ItemsChanged", self._items_changed)
        self.reeld.subscribe(MANAGER, "SyncFinished", lambda *_: self._refresh_home_soon())
        self._presence()

    def _presence(self) -> None:
        if self.reeld.running:
            self.sidebar.rebuild()
            if self.stack.get_visible_child_name() == "missing":
                self.show_home()
            else:
                self.home.refresh()
        else:  # not started yet, or gone (stopped, crashed): started again by bus activation
            self.missing.set_title("reeld is not running")
            self._show("missing", "reeld")
            self.start_daemon()

    def start_daemon(self) -> None:
        self.retry.set_visible(False)
        self.missing.set_description("Starting it…")
        self.reeld.activate(self._not_started)

    def _not_started(self, _name: str, message: str) -> None:
        self.missing.set_description(f"It could not be started: {message}")
        self.retry.set_visible(True)

    def _items_changed(self, library: str, args: tuple[list[str], list[str], bool]) -> None:
        changed, removed, reload = args
        self.library.items_changed(library, changed, removed, reload)
        self.details.items_changed(changed)
        self._refresh_home_soon()

    def _refresh_home_soon(self) -> None:
        if not self._home_timer:
            self._home_timer = GLib.timeout_add(HOME_REFRESH_MS, self._refresh_home)

    def _refresh_home(self) -> bool:
        self._home_timer = 0
        if self.stack.get_visible_child_name() == "home":
            self.home.refresh()  # else when it is shown next (show_home asks again)
        return GLib.SOURCE_REMOVE

    # -- navigation ---------------------------------------------------------------------------------

    def _show(self, page: str, title: str, remember: bool = False) -> None:
        current = self.stack.get_visible_child_name()
        if remember and current and current != page:
            self.history.append(current)
        elif not remember:
            self.history.clear()
        self.stack.set_visible_child_name(page)
        self.title.set_title(title)
        self.leaflet.navigate(Adw.NavigationDirection.FORWARD)
        self._update_back()

    def _folded(self) -> None:
        self.details.set_narrow(self.leaflet.get_folded())
        self._update_back()

    def _update_back(self) -> None:
        self.back.set_visible(bool(self.history) or self.leaflet.get_folded())

    def go_back(self) -> None:
        if self.history:
            page = self.history.pop()
            if page == "home":
                self.home.refresh()
            self.stack.set_visible_child_name(page)
            self.title.set_title({"home": "Home", "search": "Search"}.get(page, self.library_title))
        else:
            self.leaflet.navigate(Adw.NavigationDirection.BACK)
        self._update_back()

    def show_home(self) -> None:
        self.sidebar.select_row(self.sidebar.get_row_at_index(0))
        self.home.refresh()
        self._show("home", "Home")

    def show_library(self, path: str) -> None:
        self.library_title = str(self.reeld.property_of(path, LIBRARY, "Title") or "")
        self.library.show(path)
        self._show("library", self.library_title)

    def open_item(self, item: ItemObject | str) -> None:
        item_id = item if isinstance(item, str) else item.item_id
        if item_id:
            self.details.show(item_id)
            self._show("details", "", remember=True)

    def _search(self, text: str) -> None:
        self.search.search(text)
        if text.strip() and self.stack.get_visible_child_name() != "search":
            self._show("search", "Search", remember=True)

    # -- dialogs ------------------------------------------------------------------------------------

    def add_account(self) -> AddAccountDialog:
        dialog = AddAccountDialog(self.reeld, self)
        dialog.present()
        return dialog

    def preferences(self) -> None:
        window = Adw.PreferencesWindow(transient_for=self, modal=True)
        page, group = Adw.PreferencesPage(), Adw.PreferencesGroup(title="Playback")
        row = Adw.EntryRow(title="Video player command (empty: the default player)", show_apply_button=True)
        row.set_text(self.settings.player)
        row.connect("apply", lambda entry: setattr(self.settings, "player", entry.get_text()))
        group.add(row)
        page.add(group)
        window.add(page)
        window.present()
