"""What the views show: items as GObjects and a library as a Gio.ListModel filled page by page."""

from collections.abc import Callable
from typing import Any

from gi.repository import Gdk, GdkPixbuf, Gio, GLib, GObject

from .client import Item, Reeld

PAGE = 200
POSTER_WIDTH = 320
CARD_WIDTH, CARD_HEIGHT = 150, 225


class ItemObject(GObject.Object):
    """One item; an empty one is a placeholder until its page arrives. Views bind to ``notify``."""

    __gtype_name__ = "ReeldItem"

    title = GObject.Property(type=str, default="")
    subtitle = GObject.Property(type=str, default="")
    watched = GObject.Property(type=bool, default=False)
    poster = GObject.Property(type=Gdk.Texture)

    def __init__(self) -> None:
        super().__init__()
        self.data: Item = {}
        self._poster_path = ""

    @property
    def item_id(self) -> str:
        return str(self.data.get("id", ""))

    def update(self, data: Item, artwork: "Artwork") -> None:
        self.data = data
        self.title = data.get("title", "")
        self.subtitle = subtitle_of(data)
        self.watched = bool(data.get("watched", False))
        path = data.get("poster_path") or data.get("thumb_path") or ""
        if path and path != self._poster_path:
            self._poster_path = path
            artwork.load(path, self._set_poster)
        elif not path and self.item_id:
            artwork.fetch(self.item_id, self._set_poster)

    def _set_poster(self, texture: Gdk.Texture) -> None:
        self.poster = texture


def subtitle_of(data: Item) -> str:
    if data.get("kind") == "episode":
        return f"S{data.get('parent_index', 0):02d}E{data.get('index', 0):02d} · {data.get('show_title', '')}"
    if "unwatched_count" in data and data.get("unwatched_count"):
        return f"{data.get('year', '')}  ·  {data['unwatched_count']} unwatched".strip(" ·")
    return str(data.get("year", ""))


class Artwork:
    """Posters as textures: decoded off the UI thread (GdkPixbuf's async loader), one load per file;
    a missing one asked of the daemon once with ``GetArtwork``."""

    def __init__(self, reeld: Reeld) -> None:
        self.reeld = reeld
        self._textures: dict[str, Gdk.Texture] = {}
        self._waiting: dict[str, list[Callable[[Gdk.Texture], None]]] = {}
        self._asked: set[str] = set()
        self.loaded = 0

    def load(self, path: str, done: Callable[[Gdk.Texture], None]) -> None:
        if path in self._textures:
            done(self._textures[path])
            return
        waiting = self._waiting.setdefault(path, [])
        waiting.append(done)
        if len(waiting) > 1:
            return
        Gio.File.new_for_path(path).read_async(GLib.PRIORITY_DEFAULT, None, self._on_open, path)

    def _on_open(self, file: Gio.File, result: Gio.AsyncResult, path: str) -> None:
        try:
            stream = file.read_finish(result)
        except GLib.Error:
            self._waiting.pop(path, None)
            return
        GdkPixbuf.Pixbuf.new_from_stream_at_scale_async(
            stream, CARD_WIDTH * 2, CARD_HEIGHT * 2, True, None, self._on_decoded, path
        )

    def _on_decoded(self, _source: object, result: Gio.AsyncResult, path: str) -> None:
        try:
            pixbuf = GdkPixbuf.Pixbuf.new_from_stream_finish(result)
        except GLib.Error:
            self._waiting.pop(path, None)
            return
        texture = Gdk.Texture.new_for_pixbuf(pixbuf)
        self._textures[path] = texture
        self.loaded += 1
        for done in self._waiting.pop(path, []):
            done(texture)

    def fetch(self, item_id: str, done: Callable[[Gdk.Texture], None]) -> None:
        """An item that has no poster on disk yet: the daemon fetches it (or says there is none)."""
        if item_id in self._asked:
            return
        self._asked.add(item_id)
        self.reeld.manager(
            "GetArtwork",
            "ssu",
            (item_id, "poster", POSTER_WIDTH),
            lambda reply: self.load(reply[0], done),
            lambda _name, _message: None,  # no poster: the placeholder stays
        )


class LibraryModel(GObject.Object, Gio.ListModel):
    """A library's matches as a list model: ``n_items`` is ``Query``'s total, rows are placeholders
    until their page comes back (asked for when a view first wants a row of it)."""

    __gtype_name__ = "ReeldLibraryModel"

    def __init__(self, reeld: Reeld, artwork: Artwork, library: str) -> None:
        super().__init__()
        self.reeld, self.artwork, self.library = reeld, artwork, library
        self.filters: dict[str, GLib.Variant] = {}
        self.sort = "title"
        self._rows: list[ItemObject] = []
        self._pages_asked: set[int] = set()
        self._generation = 0
        self.pages_loaded = 0
        self.positions: dict[str, int] = {}  # item id -> row, for the rows fetched

    def do_get_item_type(self) -> GObject.GType:
        return ItemObject.__gtype__

    def do_get_n_items(self) -> int:
        return len(self._rows)

    def do_get_item(self, position: int) -> ItemObject | None:
        if position >= len(self._rows):
            return None
        self._want_page(position // PAGE)
        return self._rows[position]

    def reload(self, filters: dict[str, Any] | None = None, sort: str | None = None) -> None:
        """Ask again from the first page (a new filter or sort, or a change too big to patch)."""
        if filters is not None:
            self.filters = filters
        if sort is not None:
            self.sort = sort
        self._generation += 1
        self._pages_asked = {0}
        self._fetch(0, self._generation, first=True)

    def _want_page(self, page: int) -> None:
        if page not in self._pages_asked:
            self._pages_asked.add(page)
            self._fetch(page, self._generation)

    def _fetch(self, page: int, generation: int, first: bool = False) -> None:
        def on_page(items: list[Item], total: int) -> None:
            if generation != self._generation:
                return  # an answer to a query replaced since
            if first:
                self._reset(total)
            self.pages_loaded += 1
            for offset, data in enumerate(items, start=page * PAGE):
                if offset < len(self._rows):
                    row = self._rows[offset]
                    row.update(data, self.artwork)
                    self.positions[row.item_id] = offset

        self.reeld.query(self.library, self.filters, page * PAGE, PAGE, self.sort, on_page)

    def _reset(self, total: int) -> None:
        removed = len(self._rows)
        self._rows = [ItemObject() for _ in range(total)]
        self.positions = {}
        self.items_changed(0, removed, total)

    def refresh_items(self, ids: list[str]) -> None:
        """Items of this library changed: the pages showing them are asked again and updated in
        place (one Query a page, however many of its items changed)."""
        for page in sorted({self.positions[item_id] // PAGE for item_id in ids if item_id in self.positions}):
            self._fetch(page, self._generation)

    def check_total(self) -> None:
        """Ids not shown changed: items added, or rows not fetched yet. A new total means a reload."""

        def on_page(_items: list[Item], total: int) -> None:
            if total != len(self._rows):
                self.reload()

        self.reeld.query(self.library, self.filters, 0, 1, self.sort, on_page)
