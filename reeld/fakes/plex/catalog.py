"""The data a fake Plex Media Server serves: sections, metadata items, media parts, and their indexes.

One `Catalog` per server. Items are mutable (watch state changes in place); every change that a
listing can see bumps `Catalog.version`, which keys the query cache, and clears the item's cached
renderings. Watch-state changes leave ``updatedAt`` alone, as on a real server.
"""

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

MOVIE, SHOW, SEASON, EPISODE = "movie", "show", "season", "episode"
ARTIST, ALBUM, TRACK = "artist", "album", "track"

#: Plex's numeric metadata types. The community spec's `MediaType` enum says artist 5, album 6,
#: track 7; real servers (and plexapi's SEARCHTYPES) use 8, 9 and 10.
TYPE_NUMBERS = {MOVIE: 1, SHOW: 2, SEASON: 3, EPISODE: 4, ARTIST: 8, ALBUM: 9, TRACK: 10}
TYPE_NAMES = {number: name for name, number in TYPE_NUMBERS.items()}
#: The child type of each parent type.
CHILD_TYPE = {SHOW: SEASON, SEASON: EPISODE, ARTIST: ALBUM, ALBUM: TRACK}
#: Types that carry media (a file), per section type, top level first.
SECTION_TYPES = {MOVIE: (MOVIE,), SHOW: (SHOW, SEASON, EPISODE), ARTIST: (ARTIST, ALBUM, TRACK)}
LEAF_TYPES = frozenset({MOVIE, EPISODE, TRACK})
#: A play past this share of the duration counts as watched, as on real servers.
WATCHED_SHARE = 0.9


@dataclass(slots=True)
class Section:
    """A library section (``/library/sections``)."""

    id: int
    type: str
    title: str
    uuid: str
    agent: str
    scanner: str
    language: str
    location: str
    created_at: int
    updated_at: int
    scanned_at: int
    refreshing: bool = False


@dataclass(slots=True, eq=False)
class Part:
    """One media file of a leaf item; its bytes are served at ``/library/parts/{id}/{changed_at}/file.*``."""

    id: int
    media_id: int
    file: str
    size: int
    container: str
    changed_at: int


@dataclass(slots=True, eq=False)
class Item:
    """A metadata item: movie, show, season, episode, artist, album or track."""

    rating_key: int
    type: str
    section: Section
    title: str
    title_sort: str
    index: int | None
    parent: "Item | None"
    year: int | None
    summary: str
    added_at: int
    updated_at: int
    released: str | None
    duration: int | None
    rating: float | None
    audience_rating: float | None
    content_rating: str | None
    studio: str | None
    guid: str
    external_ids: tuple[str, ...]
    genres: tuple[str, ...]
    part: Part | None
    view_count: int = 0
    last_viewed_at: int | None = None
    view_offset: int = 0
    original_title: str | None = None  # a movie's foreign title; a track's own artist
    sort_key: str = ""
    children: dict[int, "Item"] = field(default_factory=dict)
    cache: dict[tuple[str, int], str] | None = None

    @property
    def key(self) -> str:
        return f"/library/metadata/{self.rating_key}"

    @property
    def is_leaf(self) -> bool:
        return self.type in LEAF_TYPES

    @property
    def grandparent(self) -> "Item | None":
        return self.parent.parent if self.parent is not None else None

    def ancestor(self, type_name: str) -> "Item | None":
        """This item or the ancestor of the given type (``show`` of an episode, …)."""
        node: Item | None = self
        while node is not None and node.type != type_name:
            node = node.parent
        return node

    def leaves(self) -> Iterator["Item"]:
        """The items with media under this one (itself when it is a leaf), in index order."""
        if self.is_leaf:
            yield self
            return
        for child in sorted(self.children.values(), key=_index_order):
            yield from child.leaves()

    def watched_leaf_count(self) -> int:
        return sum(1 for leaf in self.leaves() if leaf.view_count > 0)

    def leaf_count(self) -> int:
        return sum(1 for _ in self.leaves())

    def total_view_count(self) -> int:
        return self.view_count if self.is_leaf else sum(leaf.view_count for leaf in self.leaves())

    def latest_view(self) -> int | None:
        if self.is_leaf:
            return self.last_viewed_at
        views = [leaf.last_viewed_at for leaf in self.leaves() if leaf.last_viewed_at is not None]
        return max(views) if views else None


def _index_order(item: Item) -> tuple[int, int]:
    return (item.index if item.index is not None else 0, item.rating_key)


def sort_title(title: str) -> str:
    """The title without a leading article, as Plex's ``titleSort``."""
    for article in ("The ", "A ", "An "):
        if title.startswith(article) and len(title) > len(article):
            return title[len(article) :]
    return title


class Catalog:
    """Sections and items of one server, with the indexes the endpoints need."""

    def __init__(self, clock: Callable[[], int] | None = None) -> None:
        self.clock = clock or (lambda: int(time.time()))
        self.sections: dict[int, Section] = {}
        self.items: dict[int, Item] = {}
        self.parts: dict[int, Part] = {}
        self.part_owner: dict[int, Item] = {}
        #: (section id, type) → items of that type, in insertion (rating key) order.
        self.by_type: dict[tuple[int, str], dict[int, Item]] = {}
        #: Bumped by every change a listing can see; keys the query cache.
        self.version = 0
        self.next_rating_key = 1
        self.next_part_id = 1

    # -- building ---------------------------------------------------------------------------------

    def add_section(self, section: Section) -> Section:
        self.sections[section.id] = section
        for type_name in SECTION_TYPES[section.type]:
            self.by_type.setdefault((section.id, type_name), {})
        return section

    def insert(self, item: Item) -> Item:
        """Index a new item (its parent must be indexed already)."""
        item.sort_key = item.title_sort.casefold()
        self.items[item.rating_key] = item
        self.by_type[(item.section.id, item.type)][item.rating_key] = item
        if item.parent is not None:
            item.parent.children[item.rating_key] = item
        if item.part is not None:
            self.parts[item.part.id] = item.part
            self.part_owner[item.part.id] = item
            if item.part.id >= self.next_part_id:
                self.next_part_id = item.part.id + 1
        if item.rating_key >= self.next_rating_key:
            self.next_rating_key = item.rating_key + 1
        return item

    # -- reading ----------------------------------------------------------------------------------

    def get(self, rating_key: int | str) -> Item | None:
        try:
            return self.items.get(int(rating_key))
        except ValueError:
            return None

    def of_type(self, section_id: int, type_name: str) -> list[Item]:
        return list(self.by_type.get((section_id, type_name), {}).values())

    def section_of_type(self, section_type: str) -> Section | None:
        return next((s for s in self.sections.values() if s.type == section_type), None)

    def count(self) -> int:
        return len(self.items)

    # -- changing ---------------------------------------------------------------------------------

    def touch(self, item: Item) -> None:
        """Drop the cached renderings of an item and of its ancestors (their counts change)."""
        node: Item | None = item
        while node is not None:
            node.cache = None
            node = node.parent
        self.version += 1

    def touch_tree(self, item: Item) -> None:
        """Drop the cached renderings of the whole tree an item is in: its relatives show its title,
        thumb and counts (``grandparentTitle``, ``parentThumb``, ``leafCount``…)."""
        root = item
        while root.parent is not None:
            root = root.parent
        pending = [root]
        while pending:
            node = pending.pop()
            node.cache = None
            pending.extend(node.children.values())
        self.version += 1

    def new_rating_key(self) -> int:
        self.next_rating_key += 1
        return self.next_rating_key - 1

    def new_part_id(self) -> int:
        self.next_part_id += 1
        return self.next_part_id - 1

    def add(self, item: Item) -> Item:
        """Insert an item made by the caller, stamping its section and parents as updated."""
        self.insert(item)
        now = self.clock()
        item.section.updated_at = max(item.section.updated_at, now)
        parent = item.parent
        while parent is not None:
            # A parent's leafCount/childCount changed with it, so its metadata changed too.
            parent.updated_at = max(parent.updated_at, now)
            parent = parent.parent
        self.touch_tree(item)
        return item

    def update(self, item: Item, **fields: object) -> Item:
        """Change metadata fields (``title``, ``summary``, ``year``…) and bump ``updatedAt``."""
        for name, value in fields.items():
            if name not in _EDITABLE:
                raise ValueError(f"field {name!r} cannot be edited")
            setattr(item, name, value)
            if name == "title" and "title_sort" not in fields:
                item.title_sort = sort_title(str(value))
        item.sort_key = item.title_sort.casefold()
        item.updated_at = max(self.clock(), item.updated_at)
        item.section.updated_at = max(item.section.updated_at, item.updated_at)
        self.touch_tree(item)
        return item

    def remove(self, item: Item) -> list[Item]:
        """Delete an item and everything under it; returns the removed items, deepest first."""
        removed: list[Item] = []
        for child in list(item.children.values()):
            removed.extend(self.remove(child))
        self.items.pop(item.rating_key, None)
        self.by_type[(item.section.id, item.type)].pop(item.rating_key, None)
        if item.part is not None:
            self.parts.pop(item.part.id, None)
            self.part_owner.pop(item.part.id, None)
        if item.parent is not None:
            item.parent.children.pop(item.rating_key, None)
            item.parent.updated_at = max(item.parent.updated_at, self.clock())
            self.touch_tree(item.parent)
        item.section.updated_at = max(item.section.updated_at, self.clock())
        self.version += 1
        removed.append(item)
        return removed

    def set_watched(self, item: Item, watched: bool, at: int | None = None) -> list[Item]:
        """Mark an item (all leaves under it) watched or unwatched; returns the leaves changed."""
        changed = []
        stamp = at if at is not None else self.clock()
        for leaf in item.leaves():
            if watched:
                leaf.view_count += 1
                leaf.last_viewed_at = stamp
            else:
                leaf.view_count = 0
                leaf.last_viewed_at = None
            leaf.view_offset = 0
            self.touch(leaf)
            changed.append(leaf)
        return changed

    def set_progress(self, item: Item, offset_ms: int, at: int | None = None) -> bool:
        """Record a resume point; past 90 % of the duration the item counts as watched. True if watched."""
        if not item.is_leaf:
            raise ValueError("progress applies to movies, episodes and tracks")
        stamp = at if at is not None else self.clock()
        if item.duration and offset_ms >= WATCHED_SHARE * item.duration:
            self.set_watched(item, True, stamp)
            return True
        item.view_offset = max(0, offset_ms)
        item.last_viewed_at = stamp
        self.touch(item)
        return False


_EDITABLE = frozenset(
    {
        "title",
        "title_sort",
        "summary",
        "year",
        "rating",
        "audience_rating",
        "content_rating",
        "studio",
        "released",
        "duration",
        "genres",
        "external_ids",
        "index",
    }
)
