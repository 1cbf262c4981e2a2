"""What the views show: items as GObjects and a library as a Gio.ListModel filled page by page."""

import collections
from collections.abc import Callable
from typing import Any

from gi.repository import Gdk, GdkPixbuf, Gio, GLib, GObject

from .client import Item, Reeld, log_error

#: Rows a Query asks for: a page of 50 costs the UI thread 2-12 ms, of 100 up to 18 ms: over a frame
#: (16 ms), bench/bench_gtk.py.
PAGE = 50
#: Pages a view asked for last: the ones in view, asked again when many items change.
RECENT_PAGES = 8
#: Decoded posters kept (135 kB each at card size): a few screens' worth, the least recent out first.
RECENT_TEXTURES = 300
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
        self._artwork: Artwork | None = None
        self.bound = 0  # cards showing it: only an item in view asks the daemon for its poster

    @property
    def item_id(self) -> str:
        return str(self.data.get("id", ""))

    def update(self, data: Item, artwork: "Artwork") -> None:
        self.data, self._artwork = data, artwork
        # A property set notifies its views even when unchanged: a page asked again after a change
        # to one item would redraw them all.
        for name, value in (("title", data.get("title", "")), ("subtitle", subtitle_of(data)),
                            ("watched", bool(data.get("watched", False)))):  # fmt: skip
            if getattr(self, name) != value:
                setattr(self, name, value)
        path = data.get("poster_path") or data.get("thumb_path") or ""
        if path != self._poster_path:
            self._poster_path = path
            self.poster = None
        self.want_poster()

    def want_poster(self) -> None:
        """Only an item in view decodes its poster, or asks the daemon for one it has not got."""
        if not self.bound or self.poster is not None or self._artwork is None or not self.item_id:
            return
        if self._poster_path:
            self._artwork.load(self._poster_path, self._set_poster)
        else:
            self._artwork.fetch(self.item_id, self._set_poster)

    def unbound(self) -> None:
        self.bound -= 1
        if not self.bound:
            self.poster = None  # out of view: the texture stays only in Artwork's recent ones

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
        self._textures: collections.OrderedDict[str, Gdk.Texture] = collections.OrderedDict()
        self._waiting: dict[str, list[Callable[[Gdk.Texture], None]]] = {}
        self._asked: set[str] = set()
        self.loaded = 0

    def load(self, path: str, done: Callable[[Gdk.Texture], None]) -> None:
        if path in self._textures:
            self._textures.move_to_end(path)
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
            stream, CARD_WIDTH, CARD_HEIGHT, True, None, self._on_decoded, path
        )

    def _on_decoded(self, _source: object, result: Gio.AsyncResult, path: str) -> None:
        try:
            pixbuf = GdkPixbuf.Pixbuf.new_from_stream_finish(result)
        except GLib.Error:
            self._waiting.pop(path, None)
            return
        texture = Gdk.Texture.new_for_pixbuf(pixbuf)
        self._textures[path] = texture
        if len(self._textures) > RECENT_TEXTURES:
            self._textures.popitem(last=False)
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
            lane="artwork",
        )


class LibraryModel(GObject.Object, Gio.ListModel):
    """A library's matches as a list model: ``n_items`` is ``Query``'s total; a row is made when a
    view first wants it, a placeholder until its page comes back (one Query of PAGE rows)."""

    __gtype_name__ = "ReeldLibraryModel"

    def __init__(self, reeld: Reeld, artwork: Artwork, library: str) -> None:
        super().__init__()
        self.reeld, self.artwork, self.library = reeld, artwork, library
        self.filters: dict[str, GLib.Variant] = {}
        self.sort = "title"
        self._rows: list[ItemObject | None] = []
        self._pages_asked: set[int] = set()
        self._recent: collections.deque[int] = collections.deque(maxlen=RECENT_PAGES)
        self._generation = 0
        self.pages_loaded = 0
        self.pending = 0  # pages asked and not answered yet
        self._in_flight: set[int] = set()
        self._again: set[int] = set()  # pages to ask again once their answer under way is in
        self.positions: dict[str, int] = {}  # item id -> row, for the rows fetched

    def do_get_item_type(self) -> GObject.GType:
        return ItemObject.__gtype__

    def do_get_n_items(self) -> int:
        return len(self._rows)

    def do_get_item(self, position: int) -> ItemObject | None:
        if position >= len(self._rows):
            return None
        page = position // PAGE
        if not self._recent or self._recent[-1] != page:
            self._recent.append(page)
        if page not in self._pages_asked:
            self._pages_asked.add(page)
            self._fetch(page)
        return self._row(position)

    def _row(self, position: int) -> ItemObject:
        row = self._rows[position]
        if row is None:
            row = self._rows[position] = ItemObject()
        return row

    def reload(self, filters: dict[str, Any] | None = None, sort: str | None = None) -> None:
        """Ask again from the first page: a new filter or sort, or a new number of matches."""
        if filters is not None:
            self.filters = filters
        if sort is not None:
            self.sort = sort
        self._generation += 1
        self._pages_asked = {0}
        self._fetch(0, first=True)

    def refresh(self) -> None:
        """Many items changed: the pages in view are asked again in place (a reload only when the
        number of matches moved); the others when they come into view again."""
        pages = sorted(set(self._recent)) or [0]
        self._pages_asked = set(pages)
        self._fetch(pages[0], check_total=True)
        for page in pages[1:]:
            self._fetch(page)

    def _fetch(self, page: int, first: bool = False, check_total: bool = False) -> None:
        if page in self._in_flight and not first:
            self._again.add(page)  # one answer at a time a page: a burst of changes costs one more
            return
        self._in_flight.add(page)
        generation = self._generation

        def answered() -> None:
            self.pending -= 1
            self._in_flight.discard(page)
            if page in self._again:
                self._again.discard(page)
                self._fetch(page)

        def on_page(items: list[Item], total: int) -> None:
            answered()
            if generation != self._generation:
                return  # an answer to a query replaced since
            if check_total and total != len(self._rows):
                self.reload()
                return
            if first:
                self._reset(total)
            self.pages_loaded += 1
            for offset, data in enumerate(items, start=page * PAGE):
                if offset < len(self._rows):
                    self._row(offset).update(data, self.artwork)
                    self.positions[data.get("id", "")] = offset

        def on_error(name: str, message: str) -> None:
            answered()
            self._pages_asked.discard(page)  # asked again when next in view
            log_error(name, message)

        self.pending += 1
        self.reeld.query(self.library, self.filters, page * PAGE, PAGE, self.sort, on_page, on_error)

    def _reset(self, total: int) -> None:
        removed = len(self._rows)
        self._rows = [None] * total
        self._recent.clear()
        self.positions = {}
        self.items_changed(0, removed, total)

    def refresh_items(self, ids: list[str]) -> None:
        """Items of this library changed: the pages showing them are asked again and updated in
        place (one Query a page, however many of its items changed)."""
        for page in sorted({self.positions[item_id] // PAGE for item_id in ids if item_id in self.positions}):
            self._fetch(page)

    def check_total(self) -> None:
        """Ids not shown changed: items added, or rows not fetched yet. A new total means a reload."""

        def on_page(_items: list[Item], total: int) -> None:
            if total != len(self._rows):
                self.reload()

        self.reeld.query(self.library, self.filters, 0, 1, self.sort, on_page)
