"""Deterministic catalogs: the same seed and sizes give the same items, keys and dates.

The data has the shapes real libraries have and a client must cope with: titles with leading
articles (``titleSort`` differs), XML-special and non-ASCII characters, multi-line summaries,
unmatched items (``local://`` guids without external ids), items from the legacy agents
(``com.plexapp.agents.imdb://…`` guids), some items watched and some half-watched.
"""

import gc
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from reeld.fakes.media_folder import ADJECTIVES, ENDINGS, NOUNS
from reeld.fakes.plex.catalog import (
    ALBUM,
    ARTIST,
    EPISODE,
    MOVIE,
    SEASON,
    SHOW,
    TRACK,
    Catalog,
    Item,
    Part,
    Section,
    sort_title,
)

#: Generated dates end here (2023-11-14); anything the control API changes is stamped "now".
BASE_EPOCH = 1_700_000_000
DAY = 86_400
GENRES = ("Drama", "Comedy", "Thriller", "Documentary", "Animation", "Science Fiction", "Romance", "Horror")
STUDIOS = ("Northwind Pictures", "Harbor Light", "Copper Films", "Orchard Road", "Blue Lantern")
NETWORKS = ("BBC One", "HBO", "Channel 4", "ZDF", "NHK")
RATINGS = ("G", "PG", "PG-13", "R", "TV-14", "TV-MA")
#: Titles that exercise escaping and encoding; each is used once, early, when there is room.
SPECIAL_TITLES = (
    'Tom & Jerry\'s "Big" <Day>',
    "Amélie of Montmartre",
    "Señor Citadel",
    "東京 Stories",
    "Ça Ira",
)
NOUN_WORDS = tuple(noun.lower() for noun in NOUNS)


@dataclass(frozen=True)
class CatalogSpec:
    """Sizes of a generated catalog: seasons per show, episodes per season, albums per artist…"""

    seed: int = 1
    movies: int = 30
    shows: int = 4
    seasons: int = 2
    episodes: int = 5
    artists: int = 2
    albums: int = 2
    tracks: int = 4


class _Generator:
    def __init__(self, spec: CatalogSpec, catalog: Catalog) -> None:
        self.spec = spec
        self.rng = random.Random(spec.seed)
        self.rand = self.rng.random
        self.catalog = catalog
        self.next_key = 1
        self.next_part = 1
        self.special = list(SPECIAL_TITLES)

    # -- helpers (random.randrange and choice cost ~1 µs each; these cost a tenth) -----------------

    def between(self, low: int, high: int) -> int:
        """A number in [low, high)."""
        return low + int(self.rand() * (high - low))

    def pick(self, options: Sequence[str]) -> str:
        return options[int(self.rand() * len(options))]

    def genre_pair(self) -> tuple[str, str]:
        first = self.between(0, len(GENRES))
        second = (first + 1 + self.between(0, len(GENRES) - 1)) % len(GENRES)
        return GENRES[first], GENRES[second]

    def key(self) -> int:
        value = self.next_key
        self.next_key += 1
        return value

    def part(self, file: str, size: int, container: str, stamp: int) -> Part:
        part_id = self.next_part
        self.next_part += 1
        return Part(id=part_id, media_id=part_id, file=file, size=size, container=container, changed_at=stamp)

    def title(self, words: int = 2) -> str:
        if self.special and self.rand() < 0.2:
            return self.special.pop(0)
        text = f"{self.pick(ADJECTIVES)} {self.pick(NOUNS)}"
        if words > 2 and self.rand() < 0.4:
            text += f" {self.pick(ENDINGS)}"
        roll = self.rand()
        if roll < 0.2:
            return "The " + text
        if roll < 0.25:
            return "A " + text
        return text

    def summary(self, title: str, rating_key: int) -> str:
        # Derived from the key rather than drawn: this runs 100k times in a big catalog.
        first, second = NOUN_WORDS[rating_key % len(NOUN_WORDS)], NOUN_WORDS[rating_key * 7 % len(NOUN_WORDS)]
        text = f"{title}: a story of {first}s and {second}s."
        if rating_key % 10 == 3:
            text += "\nSecond paragraph, after a line break."
        return text

    def guids(self, kind: str, rating_key: int) -> tuple[str, tuple[str, ...]]:
        if rating_key % 41 == 0:
            return f"local://{rating_key}", ()
        if kind == MOVIE and rating_key % 53 == 0:
            return f"com.plexapp.agents.imdb://tt{self.between(10**6, 10**7)}?lang=en", ()
        guid = f"plex://{kind}/{self.rng.getrandbits(96):024x}"
        ids = [f"imdb://tt{self.between(10**6, 10**7)}", f"tmdb://{self.between(10**3, 10**6)}"]
        if kind != MOVIE:
            ids.append(f"tvdb://{self.between(10**4, 10**7)}")
        return guid, tuple(ids)

    def watch(self, item: Item) -> None:
        roll = self.rand()
        if roll < 0.15:
            item.view_count = 1 + int(roll * 10) % 2
            item.last_viewed_at = item.added_at + self.between(DAY, 60 * DAY)
        elif roll < 0.2 and item.duration:
            item.view_offset = item.duration // 3
            item.last_viewed_at = item.added_at + self.between(DAY, 60 * DAY)

    def make(self, **fields: Any) -> Item:
        return self.catalog.insert(Item(title_sort=sort_title(fields["title"]), **fields))

    def section(self, section_id: int, kind: str, title: str, agent: str, scanner: str, path: str) -> Section:
        raw = f"{self.rng.getrandbits(128):032x}"
        uuid = f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"
        stamp = BASE_EPOCH - 3 * 365 * DAY
        section = Section(
            id=section_id,
            type=kind,
            title=title,
            uuid=uuid,
            agent=agent,
            scanner=scanner,
            language="en-US",
            location=path,
            created_at=stamp,
            updated_at=BASE_EPOCH,
            scanned_at=BASE_EPOCH,
        )
        return self.catalog.add_section(section)

    # -- sections ---------------------------------------------------------------------------------

    def movies(self, section: Section) -> None:
        for _ in range(self.spec.movies):
            rating_key = self.key()
            title = self.title(3)
            year = self.between(1950, 2024)
            added = BASE_EPOCH - self.between(0, 3 * 365 * DAY)
            duration = self.between(80, 180) * 60_000
            guid, ids = self.guids(MOVIE, rating_key)
            file = f"{section.location}/{title} ({year})/{title} ({year}).mkv"
            item = self.make(
                rating_key=rating_key,
                type=MOVIE,
                section=section,
                title=title,
                index=None,
                parent=None,
                year=year,
                summary=self.summary(title, rating_key),
                added_at=added,
                updated_at=min(BASE_EPOCH, added + self.between(0, 30 * DAY)),
                released=f"{year}-{self.between(1, 13):02d}-{self.between(1, 29):02d}",
                duration=duration,
                rating=self.between(10, 100) / 10,
                audience_rating=self.between(10, 100) / 10,
                content_rating=self.pick(RATINGS),
                studio=self.pick(STUDIOS),
                guid=guid,
                external_ids=ids,
                genres=self.genre_pair(),
                part=self.part(file, duration * self.between(300, 800), "mkv", added),
            )
            if rating_key % 4 == 0:  # a foreign film's own title (no draw: the rest stays as it was)
                item.original_title = f"Le {title}"
            self.watch(item)

    def shows(self, section: Section) -> None:
        for _ in range(self.spec.shows):
            rating_key = self.key()
            title = self.title(2)
            year = self.between(1990, 2022)
            added = BASE_EPOCH - self.between(2 * 365 * DAY, 3 * 365 * DAY)
            guid, ids = self.guids(SHOW, rating_key)
            length = self.between(20, 60) * 60_000
            show = self.make(
                rating_key=rating_key,
                type=SHOW,
                section=section,
                title=title,
                index=1,
                parent=None,
                year=year,
                summary=self.summary(title, rating_key),
                added_at=added,
                updated_at=added,
                released=f"{year}-{self.between(1, 13):02d}-{self.between(1, 29):02d}",
                duration=length,
                rating=self.between(10, 100) / 10,
                audience_rating=self.between(10, 100) / 10,
                content_rating=self.pick(RATINGS),
                studio=self.pick(NETWORKS),
                guid=guid,
                external_ids=ids,
                genres=self.genre_pair(),
                part=None,
            )
            for number in range(1, self.spec.seasons + 1):
                self.season(show, number, length)

    def season(self, show: Item, number: int, length: int) -> None:
        added = show.added_at + (number - 1) * 120 * DAY
        season_year = (show.year or 2000) + number - 1
        guid, ids = self.guids(SEASON, self.next_key)
        season = self.make(
            rating_key=self.key(),
            type=SEASON,
            section=show.section,
            title=f"Season {number}",
            index=number,
            parent=show,
            year=season_year,
            summary="",
            added_at=added,
            updated_at=added,
            released=None,
            duration=None,
            rating=None,
            audience_rating=None,
            content_rating=None,
            studio=None,
            guid=guid,
            external_ids=ids[1:],
            genres=(),
            part=None,
        )
        folder = f"{show.section.location}/{show.title} ({show.year})/Season {number:02d}"
        for episode in range(1, self.spec.episodes + 1):
            rating_key = self.key()
            title = self.title(2)
            stamp = added + (episode - 1) * 7 * DAY
            duration = length + self.between(-120, 120) * 1000
            guid, ids = self.guids(EPISODE, rating_key)
            name = f"{show.title} ({show.year}) - s{number:02d}e{episode:02d} - {title}.mkv"
            item = self.make(
                rating_key=rating_key,
                type=EPISODE,
                section=show.section,
                title=title,
                index=episode,
                parent=season,
                year=season_year,
                summary=self.summary(title, rating_key),
                added_at=stamp,
                updated_at=stamp,
                released=f"{season_year}-{1 + (episode - 1) // 4 % 12:02d}-{1 + (episode * 7) % 28:02d}",
                duration=duration,
                rating=self.between(50, 100) / 10,
                audience_rating=None,
                content_rating=show.content_rating,
                studio=None,
                guid=guid,
                external_ids=ids,
                genres=(),
                part=self.part(f"{folder}/{name}", duration * self.between(200, 500), "mkv", stamp),
            )
            self.watch(item)

    def music(self, section: Section) -> None:
        for _ in range(self.spec.artists):
            name = f"The {self.pick(ADJECTIVES)} {self.pick(NOUNS)}s"
            added = BASE_EPOCH - self.between(0, 365 * DAY)
            artist = self._music_item(section, ARTIST, name, None, None, added)
            for _ in range(1, self.spec.albums + 1):
                album_title = f"{self.pick(NOUNS)} {self.pick(ENDINGS)}"
                # A real album's index is 1 (its tracks' parentIndex is their disc), whatever its number.
                album = self._music_item(section, ALBUM, album_title, artist, 1, added)
                album.year = self.between(1970, 2023)
                for track_number in range(1, self.spec.tracks + 1):
                    title = f"{self.pick(ADJECTIVES)} {self.pick(NOUNS)}"
                    duration = self.between(120, 420) * 1000
                    file = f"{section.location}/{name}/{album_title}/{track_number:02d} - {title}.flac"
                    part = self.part(file, duration * 110, "flac", added)
                    track = self._music_item(
                        section, TRACK, title, album, track_number, added, duration, part
                    )
                    self.watch(track)

    def _music_item(
        self,
        section: Section,
        kind: str,
        title: str,
        parent: Item | None,
        index: int | None,
        added: int,
        duration: int | None = None,
        part: Part | None = None,
    ) -> Item:
        return self.make(
            rating_key=self.key(),
            type=kind,
            section=section,
            title=title,
            index=index,
            parent=parent,
            year=None,
            summary="",
            added_at=added,
            updated_at=added,
            released=None,
            duration=duration,
            rating=None,
            audience_rating=None,
            content_rating=None,
            studio=None,
            guid=f"plex://{kind}/{self.rng.getrandbits(96):024x}",
            external_ids=(),
            genres=(),
            part=part,
        )


def build_catalog(spec: CatalogSpec, clock: Callable[[], int] | None = None) -> Catalog:
    """A catalog with a Movies, a TV Shows and a Music section, filled as the spec says."""
    catalog = Catalog(clock)
    generator = _Generator(spec, catalog)
    movies = generator.section(1, MOVIE, "Movies", "tv.plex.agents.movie", "Plex Movie", "/data/movies")
    shows = generator.section(2, SHOW, "TV Shows", "tv.plex.agents.series", "Plex TV Series", "/data/tv")
    music = generator.section(3, ARTIST, "Music", "tv.plex.agents.music", "Plex Music", "/data/music")
    # Parents and children point at each other, so every allocation burst would run the cyclic
    # collector over the whole growing catalog: a third of the build time for 100k items.
    collecting = gc.isenabled()
    gc.disable()
    try:
        generator.movies(movies)
        generator.shows(shows)
        generator.music(music)
    finally:
        if collecting:
            gc.enable()
    return catalog


_SECTION_TYPE = {
    MOVIE: MOVIE,
    SHOW: SHOW,
    SEASON: SHOW,
    EPISODE: SHOW,
    ARTIST: ARTIST,
    ALBUM: ARTIST,
    TRACK: ARTIST,
}
_PARENT_TYPE = {SEASON: SHOW, EPISODE: SEASON, ALBUM: ARTIST, TRACK: ALBUM}
_DURATIONS = {MOVIE: 6_000_000, EPISODE: 2_700_000, TRACK: 240_000}


def new_item(
    catalog: Catalog,
    kind: str,
    title: str,
    *,
    parent: Item | None = None,
    index: int | None = None,
    year: int | None = None,
    now: int,
) -> Item:
    """An item the control API adds "now", not yet inserted; ids and paths derive from its rating key."""
    if _PARENT_TYPE.get(kind) != (parent.type if parent else None):
        raise ValueError(
            f"a {kind} needs a parent of type {_PARENT_TYPE.get(kind)}, not {parent and parent.type}"
        )
    section = parent.section if parent else catalog.section_of_type(_SECTION_TYPE[kind])
    if section is None:
        raise ValueError(f"no section for {kind}")
    rating_key = catalog.new_rating_key()
    if index is None and parent is not None:
        index = 1 + max((child.index or 0 for child in parent.children.values()), default=0)
    if kind == SEASON:
        title = title or f"Season {index}"
    year = year or (parent.year if parent else None) or 2024
    guid = f"plex://{kind}/{rating_key * 0x9E3779B97F4A7C15 % 2**96:024x}"
    ids = [
        f"imdb://tt{1_000_000 + rating_key * 7919 % 9_000_000}",
        f"tmdb://{1000 + rating_key * 104729 % 999_000}",
    ]
    if kind not in (MOVIE, ARTIST, ALBUM, TRACK):
        ids.append(f"tvdb://{10_000 + rating_key * 15485863 % 9_000_000}")
    duration = _DURATIONS.get(kind)
    part = None
    if duration is not None:
        part_id = catalog.new_part_id()
        container = "flac" if kind == TRACK else "mkv"
        folder = "/".join(node.title for node in reversed(list(_ancestors(parent))))
        file = f"{section.location}/{folder + '/' if folder else ''}{title} ({year}).{container}"
        part = Part(
            id=part_id, media_id=part_id, file=file, size=duration * 400, container=container, changed_at=now
        )
    return Item(
        rating_key=rating_key,
        type=kind,
        section=section,
        title=title,
        title_sort=sort_title(title),
        index=index if kind != MOVIE else None,
        parent=parent,
        year=year,
        summary=f"{title}, added while you were watching." if kind in (MOVIE, SHOW, EPISODE) else "",
        added_at=now,
        updated_at=now,
        released=f"{year}-01-01" if kind in (MOVIE, SHOW, EPISODE) else None,
        duration=duration,
        rating=None,
        audience_rating=None,
        content_rating=None,
        studio=None,
        guid=guid,
        external_ids=tuple(ids) if kind in (MOVIE, SHOW, SEASON, EPISODE) else (),
        genres=(),
        part=part,
    )


def _ancestors(item: Item | None) -> list[Item]:
    chain = []
    while item is not None:
        chain.append(item)
        item = item.parent
    return chain
