"""The home page (Continue Watching, Next Up, Recently Added), a library's grid, and search."""

from collections.abc import Callable

from gi.repository import Gio, GLib, Gtk

from .cards import poster_grid, poster_row
from .client import Item, Reeld
from .models import Artwork, ItemObject, LibraryModel

ROW_LIMIT = 24
SORTS = [("Title", "title"), ("Recently added", "-added"), ("Year", "-year"), ("Rating", "-rating"),
         ("Last watched", "last_viewed")]  # fmt: skip
FILTERS = [("All", None), ("Unwatched", False), ("Watched", True)]

OnItem = Callable[[ItemObject], None]


def store_of(items: list[Item], artwork: Artwork, store: Gio.ListStore | None = None) -> Gio.ListStore:
    store = Gio.ListStore(item_type=ItemObject) if store is None else store  # an empty one is falsy
    objects = []
    for data in items:
        obj = ItemObject()
        obj.update(data, artwork)
        objects.append(obj)
    store.splice(0, store.get_n_items(), objects)
    return store


class HomePage(Gtk.ScrolledWindow):
    ROWS = (
        ("Continue Watching", "ContinueWatching"),
        ("Next Up", "NextUp"),
        ("Recently Added", "RecentlyAdded"),
    )

    def __init__(self, reeld: Reeld, artwork: Artwork, on_item: OnItem) -> None:
        super().__init__(hscrollbar_policy=Gtk.PolicyType.NEVER)
        self.reeld, self.artwork = reeld, artwork
        box = Gtk.Box(
            orientation=Gtk.Orientation.VERTICAL, spacing=6, margin_top=12, margin_start=12, margin_end=12
        )
        self.stores: dict[str, Gio.ListStore] = {}
        self.sections: dict[str, Gtk.Widget] = {}
        for title, method in self.ROWS:
            label = Gtk.Label(label=title, xalign=0)
            label.add_css_class("title-3")
            store = Gio.ListStore(item_type=ItemObject)
            section = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=6)
            section.append(label)
            section.append(
                Gtk.ScrolledWindow(child=poster_row(store, on_item), vscrollbar_policy=Gtk.PolicyType.NEVER)
            )
            box.append(section)
            self.stores[method], self.sections[method] = store, section
        self.empty = Gtk.Label(label="Nothing here yet: add an account with the + button.", margin_top=48)
        self.empty.add_css_class("dim-label")
        box.append(self.empty)
        self.set_child(box)

    def refresh(self) -> None:
        for method, store in self.stores.items():
            self.reeld.manager(
                method,
                "u",
                (ROW_LIMIT,),
                lambda reply, m=method, s=store: self._fill(m, s, reply[0]),
                # NextUp is API 1.1: a 1.0 daemon has none, and the row is left out.
                lambda _name, _message, m=method, s=store: self._fill(m, s, []),
            )

    def _fill(self, method: str, store: Gio.ListStore, items: list[Item]) -> None:
        store_of(items, self.artwork, store)
        self.sections[method].set_visible(bool(items))
        self.empty.set_visible(not any(s.get_n_items() for s in self.stores.values()))


class LibraryPage(Gtk.Box):
    """A library's poster grid with sort and a watched filter; the model pages in as it scrolls."""

    def __init__(self, reeld: Reeld, artwork: Artwork, on_item: OnItem) -> None:
        super().__init__(orientation=Gtk.Orientation.VERTICAL)
        self.reeld, self.artwork, self.on_item = reeld, artwork, on_item
        self.model: LibraryModel | None = None
        bar = Gtk.Box(spacing=6, margin_top=6, margin_bottom=6, margin_start=12, margin_end=12)
        self.count = Gtk.Label(xalign=0, hexpand=True)
        self.count.add_css_class("dim-label")
        self.sort = Gtk.DropDown.new_from_strings([label for label, _ in SORTS])
        self.filter = Gtk.DropDown.new_from_strings([label for label, _ in FILTERS])
        self.sort.connect("notify::selected", lambda *_: self._requery())
        self.filter.connect("notify::selected", lambda *_: self._requery())
        for widget in (self.count, self.filter, self.sort):
            bar.append(widget)
        self.append(bar)
        self.scroller = Gtk.ScrolledWindow(vexpand=True, hscrollbar_policy=Gtk.PolicyType.NEVER)
        self.append(self.scroller)

    def show(self, library: str) -> None:
        self.model = LibraryModel(self.reeld, self.artwork, library)
        self.model.connect("items-changed", lambda model, *_: self._count(model))
        self.grid = poster_grid(self.model, self.on_item)
        self.scroller.set_child(self.grid)
        self._requery()

    def _requery(self) -> None:
        if self.model is None:
            return
        watched = FILTERS[self.filter.get_selected()][1]
        filters = {} if watched is None else {"watched": GLib.Variant("b", watched)}
        self.model.reload(filters, SORTS[self.sort.get_selected()][1])

    def _count(self, model: LibraryModel) -> None:
        self.count.set_label(f"{model.get_n_items()} items")

    def items_changed(self, library: str, changed: list[str], removed: list[str], reload: bool) -> None:
        model = self.model
        if model is None or model.library != library:
            return
        shown = [item_id for item_id in changed if item_id in model.positions]
        if reload or removed or (shown and model.filters):
            model.refresh()
            return
        model.refresh_items(shown)
        if len(shown) < len(changed):
            model.check_total()


class SearchPage(Gtk.ScrolledWindow):
    def __init__(self, reeld: Reeld, artwork: Artwork, on_item: OnItem) -> None:
        super().__init__(hscrollbar_policy=Gtk.PolicyType.NEVER)
        self.reeld, self.artwork = reeld, artwork
        self.store = Gio.ListStore(item_type=ItemObject)
        self.set_child(poster_grid(self.store, on_item))
        self._asked = ""

    def search(self, text: str) -> None:
        self._asked = text
        if not text.strip():
            self.store.remove_all()
            return
        self.reeld.manager("Search", "su", (text, 200), lambda reply: self._answer(text, reply[0]))

    def _answer(self, text: str, items: list[Item]) -> None:
        if text == self._asked:  # an older answer after a newer question is dropped
            store_of(items, self.artwork, self.store)
