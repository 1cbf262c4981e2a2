"""Poster cards: one factory for the library grid, the home rows and the search results."""

from gi.repository import Gtk

from .models import CARD_HEIGHT, CARD_WIDTH, ItemObject


class PosterCard(Gtk.Box):
    """A poster (a placeholder icon until its texture loads), a watched mark, a title, a subtitle."""

    __gtype_name__ = "ReeldPosterCard"

    def __init__(self) -> None:
        super().__init__(orientation=Gtk.Orientation.VERTICAL, spacing=4, width_request=CARD_WIDTH)
        self.item: ItemObject | None = None
        self._handlers: list[int] = []
        overlay = Gtk.Overlay()
        self.placeholder = Gtk.Image(icon_name="video-x-generic-symbolic", pixel_size=48)
        self.placeholder.add_css_class("dim-label")
        self.picture = Gtk.Picture(can_shrink=True, content_fit=Gtk.ContentFit.COVER)
        self.picture.set_size_request(CARD_WIDTH, CARD_HEIGHT)
        frame = Gtk.Frame(
            child=Gtk.Overlay(child=self.placeholder), width_request=CARD_WIDTH, height_request=CARD_HEIGHT
        )
        frame.get_child().add_overlay(self.picture)
        frame.add_css_class("card")
        overlay.set_child(frame)
        self.watched_mark = Gtk.Image(
            icon_name="object-select-symbolic", halign=Gtk.Align.END, valign=Gtk.Align.START
        )
        self.watched_mark.set_margin_top(6)
        self.watched_mark.set_margin_end(6)
        self.watched_mark.add_css_class("accent")
        self.watched_mark.set_tooltip_text("Watched")
        overlay.add_overlay(self.watched_mark)
        self.append(overlay)
        self.title = Gtk.Label(xalign=0, ellipsize=3, max_width_chars=18)  # 3: Pango END
        self.title.add_css_class("heading")
        self.subtitle = Gtk.Label(xalign=0, ellipsize=3, max_width_chars=18)
        self.subtitle.add_css_class("caption")
        self.subtitle.add_css_class("dim-label")
        self.append(self.title)
        self.append(self.subtitle)

    def bind(self, item: ItemObject) -> None:
        self.item = item
        item.bound += 1
        self._handlers = [item.connect("notify", lambda *_: self._show())]
        self._show()
        item.want_poster()

    def unbind(self) -> None:
        if self.item is not None:
            for handler in self._handlers:
                self.item.disconnect(handler)
            self.item.unbound()
        self.item, self._handlers = None, []

    def _show(self) -> None:
        item = self.item
        if item is None:
            return
        self.title.set_label(item.title or "…")
        self.subtitle.set_label(item.subtitle)
        self.picture.set_paintable(item.poster)
        self.placeholder.set_visible(item.poster is None)
        self.watched_mark.set_visible(item.watched)


def card_factory() -> Gtk.SignalListItemFactory:
    factory = Gtk.SignalListItemFactory()
    factory.connect("setup", lambda _f, cell: cell.set_child(PosterCard()))
    factory.connect("bind", lambda _f, cell: cell.get_child().bind(cell.get_item()))
    factory.connect("unbind", lambda _f, cell: cell.get_child().unbind())
    return factory


def poster_grid(model: object, on_activate: object) -> Gtk.GridView:
    grid = Gtk.GridView(
        model=Gtk.NoSelection(model=model), factory=card_factory(), single_click_activate=True
    )
    grid.set_min_columns(1)
    grid.set_max_columns(12)
    grid.connect("activate", lambda view, position: on_activate(view.get_model().get_item(position)))
    return grid


def poster_row(model: object, on_activate: object) -> Gtk.ListView:
    row = Gtk.ListView(
        model=Gtk.NoSelection(model=model),
        factory=card_factory(),
        orientation=Gtk.Orientation.HORIZONTAL,
        single_click_activate=True,
        height_request=CARD_HEIGHT + 70,
    )
    row.add_css_class("navigation-sidebar")
    row.connect("activate", lambda view, position: on_activate(view.get_model().get_item(position)))
    return row
