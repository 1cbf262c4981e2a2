"""An item's page: poster, summary, facts; a show's seasons and episodes with watched marks; a file's
tracks, chapters and markers (GetPlaybackInfo); Mark watched and Play (GetStreamUrlWith)."""

from collections.abc import Callable

from gi.repository import Adw, Gio, GLib, Gtk

from .client import Item, Reeld
from .models import CARD_HEIGHT, CARD_WIDTH, Artwork
from .settings import Settings

PLAYABLE = {"movie", "episode", "track", "video", "clip"}
VIDEO_TYPE = "video/x-matroska"


def clock(ms: int) -> str:
    minutes, seconds = divmod(int(ms) // 1000, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def facts(item: Item) -> str:
    parts = [str(item["year"])] if item.get("year") else []
    if item.get("duration_ms"):
        parts.append(f"{round(item['duration_ms'] / 60000)} min")
    if item.get("content_rating"):
        parts.append(item["content_rating"])
    if item.get("rating"):
        parts.append(f"★ {item['rating']:.1f}")
    if item.get("genres"):
        parts.append(", ".join(item["genres"][:3]))
    if item.get("leaf_count"):
        parts.append(f"{item['leaf_count']} episodes, {item.get('unwatched_count', 0)} unwatched")
    return "  ·  ".join(parts)


def track_label(stream: Item) -> str:
    if stream.get("title"):  # servers' titles already say language, codec and channels
        return str(stream["title"])
    words = [stream.get("language") or f"Track {stream.get('index')}", stream.get("codec", "")]
    if stream.get("channels"):
        words.append(f"{stream['channels']} ch")
    return " · ".join(word for word in words if word)


class DetailsPage(Gtk.ScrolledWindow):
    def __init__(
        self, reeld: Reeld, artwork: Artwork, settings: Settings, on_item: Callable[[str], None]
    ) -> None:
        super().__init__(hscrollbar_policy=Gtk.PolicyType.NEVER)
        self.reeld, self.artwork, self.settings, self.on_item = reeld, artwork, settings, on_item
        self.item: Item = {}
        self.shown_ids: set[str] = set()
        self.episode_rows: dict[str, Adw.ActionRow] = {}
        self.header: Gtk.Box | None = None
        self.narrow = False
        self.status = Gtk.Label(wrap=True, xalign=0)
        self.status.add_css_class("error")

    # -- the page, built anew for each item (and when it changes) -------------------------------

    def show(self, item_id: str) -> None:
        self.reeld.manager("GetItem", "s", (item_id,), lambda reply: self._build(reply[0]))

    def items_changed(self, changed: list[str]) -> None:
        if self.item and self.shown_ids.intersection(changed):
            self.show(self.item["id"])

    def _build(self, item: Item) -> None:
        self.item, self.shown_ids, self.episode_rows = item, {item["id"]}, {}
        clamp = Adw.Clamp(maximum_size=900, margin_top=18, margin_bottom=18, margin_start=12, margin_end=12)
        self.body = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=18)
        clamp.set_child(self.body)
        self.body.append(self._header(item))
        self.status.set_label("")
        self.body.append(self.status)
        if item.get("kind") in {"show", "season"}:
            self._load_children(item["id"], item.get("kind") == "show")
        elif item.get("kind") in PLAYABLE:
            self.reeld.manager(
                "GetPlaybackInfo", "s", (item["id"],), lambda reply: self._playback(reply[0]), self._say
            )
        self.set_child(clamp)

    def set_narrow(self, narrow: bool) -> None:
        """A phone-width window (the sidebar folded away) puts the poster above the text."""
        self.narrow = narrow
        if self.header is not None:
            self.header.set_orientation(Gtk.Orientation.VERTICAL if narrow else Gtk.Orientation.HORIZONTAL)

    def _header(self, item: Item) -> Gtk.Widget:
        header = self.header = Gtk.Box(spacing=18)
        self.set_narrow(self.narrow)
        poster = Gtk.Picture(
            can_shrink=True, content_fit=Gtk.ContentFit.COVER, valign=Gtk.Align.START, halign=Gtk.Align.START
        )
        poster.set_size_request(CARD_WIDTH, CARD_HEIGHT)
        path = item.get("poster_path") or item.get("thumb_path")
        if path:
            self.artwork.load(path, poster.set_paintable)
        else:
            self.artwork.fetch(item["id"], poster.set_paintable)
        header.append(poster)
        text = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=8, hexpand=True)
        title = Gtk.Label(label=item.get("title", ""), xalign=0, wrap=True)
        title.add_css_class("title-1")
        text.append(title)
        if item.get("show_title"):
            text.append(
                Gtk.Label(
                    label=f"{item['show_title']} · S{item.get('parent_index', 0)}E{item.get('index', 0)}",
                    xalign=0,
                )
            )
        self.facts = Gtk.Label(label=facts(item), xalign=0, wrap=True)
        self.facts.add_css_class("dim-label")
        text.append(self.facts)
        text.append(Gtk.Label(label=item.get("summary", ""), xalign=0, wrap=True, selectable=True))
        buttons = Gtk.Box(spacing=8)
        if item.get("kind") in PLAYABLE:
            self.play = Gtk.Button(label="Play")
            self.play.add_css_class("suggested-action")
            self.play.connect("clicked", lambda _b: self.play_item())
            buttons.append(self.play)
        self.watched_button = Gtk.Button(label="Mark unwatched" if item.get("watched") else "Mark watched")
        self.watched_button.connect(
            "clicked", lambda _b: self.set_watched(item["id"], not item.get("watched"))
        )
        buttons.append(self.watched_button)
        self.audio = Gtk.DropDown(visible=False)
        self.subtitles = Gtk.DropDown(visible=False)
        tracks = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=8, halign=Gtk.Align.START)
        tracks.append(self.audio)
        tracks.append(self.subtitles)
        text.append(buttons)
        text.append(tracks)
        header.append(text)
        return header

    # -- a show's seasons and episodes ------------------------------------------------------------

    def _load_children(self, item_id: str, nested: bool) -> None:
        self.reeld.manager("GetChildren", "s", (item_id,), lambda reply: self._children(reply[0], nested))

    def _children(self, children: list[Item], nested: bool) -> None:
        if not nested:  # a season: its episodes
            self._episode_group(self.item.get("title", "Episodes"), children)
            return
        for season in children:
            self.shown_ids.add(season["id"])
            self.reeld.manager(
                "GetChildren",
                "s",
                (season["id"],),
                lambda reply, s=season: self._episode_group(s.get("title", ""), reply[0]),
            )

    def _episode_group(self, title: str, episodes: list[Item]) -> None:
        group = Adw.PreferencesGroup(title=title)
        for episode in episodes:
            self.shown_ids.add(episode["id"])
            row = Adw.ActionRow(title=GLib.markup_escape_text(f"{episode.get('index', '')}. {episode.get('title', '')}"),
                                subtitle=clock(episode.get("duration_ms", 0)) if episode.get("duration_ms") else "",
                                activatable=True)  # fmt: skip
            mark = Gtk.ToggleButton(icon_name="object-select-symbolic", active=bool(episode.get("watched")),
                                    valign=Gtk.Align.CENTER, tooltip_text="Watched")  # fmt: skip
            mark.add_css_class("flat")
            mark.connect("toggled", lambda button, e=episode: self.set_watched(e["id"], button.get_active()))
            row.add_suffix(mark)
            row.watched_mark = mark
            row.connect("activated", lambda _r, e=episode: self.on_item(e["id"]))
            self.episode_rows[episode["id"]] = row
            group.add(row)
        self.body.append(group)

    # -- tracks, chapters, markers; playing ------------------------------------------------------

    def _playback(self, info: Item) -> None:
        streams = info.get("streams", [])
        self.audio_tracks = [s for s in streams if s.get("type") == "audio"]
        self.subtitle_tracks = [s for s in streams if s.get("type") == "subtitle"]
        self._choices(self.audio, [track_label(s) for s in self.audio_tracks], "")
        self._choices(self.subtitles, [track_label(s) for s in self.subtitle_tracks], "No subtitles")
        group = Adw.PreferencesGroup(title="Chapters and markers")
        for marker in info.get("markers", []):
            group.add(Adw.ActionRow(title=marker.get("type", "").capitalize(),
                                    subtitle=f"{clock(marker.get('start_ms', 0))} to {clock(marker.get('end_ms', 0))}"))  # fmt: skip
        for chapter in info.get("chapters", []):
            title = GLib.markup_escape_text(chapter.get("title") or "Chapter")
            group.add(Adw.ActionRow(title=title, subtitle=clock(chapter.get("start_ms", 0))))
        if info.get("markers") or info.get("chapters"):
            self.body.append(group)

    def _choices(self, dropdown: Gtk.DropDown, labels: list[str], none_label: str) -> None:
        choices = ([none_label] if none_label else []) + labels
        dropdown.set_model(Gtk.StringList.new(choices))
        dropdown.set_visible(len(choices) > 1)

    def options(self) -> dict[str, GLib.Variant]:
        chosen: dict[str, GLib.Variant] = {}
        if self.audio.get_visible():
            chosen["audio_index"] = GLib.Variant("u", self.audio_tracks[self.audio.get_selected()]["index"])
        if self.subtitles.get_visible() and self.subtitles.get_selected() > 0:
            track = self.subtitle_tracks[self.subtitles.get_selected() - 1]
            chosen["subtitle_index"] = GLib.Variant("u", track["index"])
        return chosen

    def play_item(self) -> None:
        self.reeld.manager(
            "GetStreamUrlWith",
            "sa{sv}",
            (self.item["id"], self.options()),
            lambda r: self._launch(r[0]),
            self._say,
        )

    def _launch(self, url: str) -> None:
        command = self.settings.player
        try:
            if command:
                app = Gio.AppInfo.create_from_commandline(command, None, Gio.AppInfoCreateFlags.SUPPORTS_URIS)
            else:
                app = Gio.AppInfo.get_default_for_type(VIDEO_TYPE, False)
            if app is None:
                Gio.AppInfo.launch_default_for_uri(url, None)
            else:
                app.launch_uris([url], None)
        except GLib.Error as error:
            self._say("", f"Could not start a video player: {error.message}. Set one in Preferences.")

    def set_watched(self, item_id: str, watched: bool) -> None:
        self.reeld.manager("SetWatched", "sb", (item_id, watched), on_error=self._say)

    def _say(self, _name: str, message: str) -> None:
        self.status.set_label(message)
