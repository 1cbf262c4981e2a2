"""A deterministic folder of small fake video files with realistic names, for the demo and benchmarks.

The names mix the shapes people's folders really have (``Title (Year)/Title (Year).mkv``,
``Show/Season 01/Show.S01E02.720p.mkv``, ``show.1x02.mkv``, ``[Group] Show - 012 [1080p].mkv``,
date-stamped episodes, extras, release samples, hidden files, subtitles…) plus a few famous
tricky ones. ``SampleFolder.files`` says what a person should see for each file, so a test can
compare a scan with it. The generator knows nothing of reeld's parser: it is an independent oracle.
"""

import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

# fmt: off
ADJECTIVES = [
    "Silent", "Crimson", "Hollow", "Golden", "Broken", "Northern", "Hidden", "Distant", "Burning", "Frozen",
    "Quiet", "Restless", "Wandering", "Shattered", "Endless", "Fading", "Secret", "Savage", "Gentle",
    "Electric", "Midnight", "Iron", "Velvet", "Scarlet", "Lonely", "Wild", "Bitter", "Bright", "Sunken",
    "Emerald", "Copper", "Paper", "Glass", "Stone", "Silver", "Amber", "Lost", "Last", "Cold", "Hungry"
]
NOUNS = [
    "River", "Harbor", "Empire", "Garden", "Kingdom", "Signal", "Horizon", "Orchard", "Lantern", "Frontier",
    "Mirror", "Compass", "Meadow", "Voyage", "Citadel", "Canyon", "Island", "Station", "Forest", "Tower",
    "Valley", "Shadow", "Winter", "Summer", "Engine", "Circus", "Letter", "Promise", "Machine", "Ocean",
    "Desert", "Storm", "Bridge", "Castle", "Hunter", "Dancer", "Stranger", "Witness", "Harvest", "Comet"
]
ENDINGS = [
    "Returns", "Rising", "Chronicles", "Legacy", "Protocol", "Files", "Diaries", "Project", "Affair",
    "Code", "Road", "Society", "Club", "Theory", "Effect", "Paradox", "Game", "House", "Academy", "Run"
]
# fmt: on

#: Famous names that trip simple parsers: (file name, title, year). Written once each, when there is room.
TRICKY_MOVIES = (
    ("Blade.Runner.2049.2017.2160p.mkv", "Blade Runner 2049", 2017),
    ("2001.A.Space.Odyssey.1968.mkv", "2001 A Space Odyssey", 1968),
    ("1917.2019.1080p.WEB-DL.mkv", "1917", 2019),
    ("Spider-Man.2002.mkv", "Spider-Man", 2002),
    ("Alien (1979) [Director's Cut].mkv", "Alien", 1979),
    ("Schindler's.List.1993.BluRay.x264-GRP.mkv", "Schindler's List", 1993),
)
#: Names only guessit reads (no year, no episode marker); a few, since guessit is slow.
YEARLESS_MOVIES = 3

PAYLOAD = b"\x1aE\xdf\xa3 reeld sample file, not real media\n"
BASE_MTIME = 1_700_000_000


@dataclass(frozen=True, slots=True)
class SampleFile:
    """One file written, and what a person should see for it.

    ``kind`` is ``movie``, ``episode``, ``other`` (an extra) or ``ignored`` (samples, hidden and
    non-video files). ``title`` is the movie's, extra's or episode's title.
    """

    relpath: str
    kind: str
    title: str = ""
    year: int | None = None
    show: str | None = None
    show_year: int | None = None
    season: int | None = None
    episode: int | None = None


@dataclass(frozen=True, slots=True)
class SampleFolder:
    root: Path
    files: tuple[SampleFile, ...] = field(default_factory=tuple)

    def _of(self, kind: str) -> list[SampleFile]:
        return [f for f in self.files if f.kind == kind]

    @property
    def movies(self) -> int:
        return len(self._of("movie"))

    @property
    def episodes(self) -> int:
        return len(self._of("episode"))

    @property
    def others(self) -> int:
        return len(self._of("other"))

    @property
    def ignored(self) -> int:
        return len(self._of("ignored"))

    @property
    def show_keys(self) -> set[tuple[str, int | None]]:
        """Shows as (lower-cased title, year): case never makes two shows."""
        return {((f.show or "").casefold(), f.show_year) for f in self._of("episode")}

    @property
    def shows(self) -> int:
        return len(self.show_keys)

    @property
    def seasons(self) -> int:
        return len({((f.show or "").casefold(), f.show_year, f.season) for f in self._of("episode")})

    @property
    def listed(self) -> int:
        """Files a scan lists (movies, episodes and extras)."""
        return self.movies + self.episodes + self.others


class _Writer:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.files: list[SampleFile] = []
        self._made: set[Path] = set()

    def write(self, sample: SampleFile) -> None:
        path = self.root / sample.relpath
        if path.parent not in self._made:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._made.add(path.parent)
        path.write_bytes(PAYLOAD)
        # Fixed mtimes keep the tree (and every etag) the same from run to run.
        stamp = (BASE_MTIME + len(self.files)) * 1_000_000_000
        os.utime(path, ns=(stamp, stamp))
        self.files.append(sample)


def _titles(rng: random.Random, count: int) -> list[str]:
    """``count`` distinct titles of two or three words."""
    space = len(ADJECTIVES) * len(NOUNS) * (len(ENDINGS) + 1)
    if count > space:
        raise ValueError(f"at most {space} distinct titles")
    titles = []
    for number in rng.sample(range(space), count):
        number, ending = divmod(number, len(ENDINGS) + 1)
        adjective, noun = divmod(number, len(NOUNS))
        words = [ADJECTIVES[adjective], NOUNS[noun]]
        if ending:
            words.append(ENDINGS[ending - 1])
        titles.append(" ".join(words))
    return titles


def _dotted(title: str) -> str:
    return title.replace(" ", ".")


def make_sample_folder(
    root: Path, movies: int = 60, shows: int = 10, seasons: int = 3, episodes: int = 8, seed: int = 0
) -> SampleFolder:
    """Write a fake media tree under ``root`` (created if needed) and say what is in it.

    Roughly ``movies`` movie files plus ``shows * seasons * episodes`` episode files, some
    specials, extras, samples, hidden files and subtitles. The same arguments write the same tree.
    """
    rng = random.Random(seed)
    writer = _Writer(root)
    names = _titles(rng, movies + shows + 64)
    episode_titles = names[movies + shows :]
    _write_movies(writer, rng, names[:movies])
    for number, title in enumerate(names[movies : movies + shows]):
        shape = _SHOW_SHAPES[number % len(_SHOW_SHAPES)]
        if number in _SPECIAL_SHAPES:
            shape = _SPECIAL_SHAPES[number]
        for season in range(1, seasons + 1):
            for episode in range(1, episodes + 1):
                shape(writer, title, season, episode, episode_titles[(season * 7 + episode) % 64])
        if number % 3 == 0 and shape in (_season_folders, _numbered_in_season):
            writer.write(
                SampleFile(
                    f"TV/{title}/Specials/{_dotted(title)}.S00E01.mkv",
                    "episode",
                    "Episode 1",
                    show=title,
                    season=0,
                    episode=1,
                )
            )
    _write_litter(writer, names[0] if names else "Nothing")
    return SampleFolder(root, tuple(writer.files))


def _write_movies(writer: _Writer, rng: random.Random, titles: list[str]) -> None:
    tricky = TRICKY_MOVIES if len(titles) >= 4 * len(TRICKY_MOVIES) else ()
    for name, title, year in tricky:
        writer.write(SampleFile(f"Movies/{name}", "movie", title, year))
    yearless = YEARLESS_MOVIES if len(titles) >= 20 else 0
    for number, title in enumerate(titles[len(tricky) :]):
        year = rng.randint(1950, 2023)
        if number < yearless:
            writer.write(SampleFile(f"Movies/{_dotted(title)}.mkv", "movie", title))
            continue
        shape = number % 4
        if shape == 0:
            folder = f"Movies/{title} ({year})"
            writer.write(SampleFile(f"{folder}/{title} ({year}).mkv", "movie", title, year))
            _write_movie_extras(writer, folder, title, year, number)
        elif shape == 1:
            name = f"{_dotted(title)}.{year}.1080p.BluRay.x264-GRP.mkv"
            writer.write(SampleFile(f"Movies/{name}", "movie", title, year))
        elif shape == 2:
            writer.write(SampleFile(f"{title} ({year}) - 2160p.mp4", "movie", title, year))
        else:
            writer.write(SampleFile(f"Movies/{title} {year}.avi", "movie", title, year))


def _write_movie_extras(writer: _Writer, folder: str, title: str, year: int, number: int) -> None:
    owner = f"{title} ({year})"
    if number % 3 == 0:
        writer.write(SampleFile(f"{folder}/Extras/Making Of.mkv", "other", f"{owner} \u2013 Making Of"))
    if number % 5 == 0:
        writer.write(SampleFile(f"{folder}/{owner}-trailer.mp4", "other", f"{owner} \u2013 Trailer"))
    if number % 7 == 0:
        writer.write(SampleFile(f"{folder}/Sample/{_dotted(title)}.{year}-sample.mkv", "ignored"))
    if number % 2 == 0:
        writer.write(SampleFile(f"{folder}/{owner}.en.srt", "ignored"))


def _write_litter(writer: _Writer, title: str) -> None:
    for relpath in (
        f".hidden/{_dotted(title)}.2001.mkv",
        f"Movies/._{_dotted(title)}.2001.mkv",
        f"Movies/@eaDir/{_dotted(title)}.2001.mkv",
        "Movies/poster.jpg",
        "Movies/notes.nfo",
    ):
        writer.write(SampleFile(relpath, "ignored"))


# -- show shapes: (writer, show title, season, episode, episode title) ---------------------------

Shape = Callable[[_Writer, str, int, int, str], None]


def _season_folders(writer: _Writer, show: str, season: int, episode: int, name: str) -> None:
    """``TV/Show/Season 1/Show.S01E02.720p.WEB-DL.mkv``; episodes 1 and 2 of season 1 in one file."""
    if season == 1 and episode == 2:
        return
    marker = f"S{season:02d}E{episode:02d}" + ("E02" if season == 1 and episode == 1 else "")
    title = "Episodes 1\u20132" if marker.endswith("E01E02") else f"Episode {episode}"
    relpath = f"TV/{show}/Season {season}/{_dotted(show)}.{marker}.720p.WEB-DL.mkv"
    writer.write(SampleFile(relpath, "episode", title, show=show, season=season, episode=episode))


def _numbered_in_season(writer: _Writer, show: str, season: int, episode: int, name: str) -> None:
    """``TV/Show/Season 01/02 - Episode Title.mkv``."""
    relpath = f"TV/{show}/Season {season:02d}/{episode:02d} - {name}.mkv"
    writer.write(SampleFile(relpath, "episode", name, show=show, season=season, episode=episode))


def _show_folder(writer: _Writer, show: str, season: int, episode: int, name: str) -> None:
    """``Show.Name/Show.Name.S01E02.Episode.Title.mkv``: the folder names the show."""
    relpath = f"{_dotted(show)}/{_dotted(show)}.S{season:02d}E{episode:02d}.{_dotted(name)}.mkv"
    writer.write(SampleFile(relpath, "episode", name, show=show, season=season, episode=episode))


def _loose_files(writer: _Writer, show: str, season: int, episode: int, name: str) -> None:
    """Loose files, mostly ``Show.Name.S01E02.mkv``, every third ``show.name.1x02.mkv``: one show."""
    if episode % 3 == 0:
        relpath = f"TV/{_dotted(show.lower())}.{season}x{episode:02d}.mkv"
    else:
        relpath = f"TV/{_dotted(show)}.S{season:02d}E{episode:02d}.mkv"
    writer.write(
        SampleFile(relpath, "episode", f"Episode {episode}", show=show, season=season, episode=episode)
    )


def _with_year(writer: _Writer, show: str, season: int, episode: int, name: str) -> None:
    """``TV/Show (2005)/Season 1/Show.2005.S01E01.Title.mkv``: a remake's year is part of the show."""
    year = 1990 + sum(map(ord, show)) % 30
    marker = f"S{season:02d}E{episode:02d}"
    relpath = f"TV/{show} ({year})/Season {season}/{_dotted(show)}.{year}.{marker}.{_dotted(name)}.mkv"
    writer.write(
        SampleFile(relpath, "episode", name, show=show, show_year=year, season=season, episode=episode)
    )


def _fansub(writer: _Writer, show: str, season: int, episode: int, name: str) -> None:
    """``Anime/Show/[Group] Show - 012 [1080p].mkv``: absolute numbers, all in season 1."""
    absolute = (season - 1) * 100 + episode
    relpath = f"Anime/{show}/[Group] {show} - {absolute:03d} [1080p].mkv"
    writer.write(SampleFile(relpath, "episode", f"Episode {absolute}", show=show, season=1, episode=absolute))


def _dated(writer: _Writer, show: str, season: int, episode: int, name: str) -> None:
    """``TV/Show/Show.2021.03.15.mkv``: a daily show; the year is the season."""
    year, month, day = 2020 + season, 1 + (episode - 1) // 28, 1 + (episode - 1) % 28
    aired = f"{year}-{month:02d}-{day:02d}"
    relpath = f"TV/{show}/{_dotted(show)}.{aired.replace('-', '.')}.mkv"
    writer.write(SampleFile(relpath, "episode", aired, show=show, season=year, episode=month * 100 + day))


def _guessit_only(writer: _Writer, show: str, season: int, episode: int, name: str) -> None:
    """``TV/Show/Season 1/Show - 02 - Title.mkv``: a shape left to guessit (~10 ms each: one season only)."""
    if season > 1:
        return
    relpath = f"TV/{show}/Season {season}/{show} - {episode:02d} - {name}.mkv"
    writer.write(SampleFile(relpath, "episode", name, show=show, season=season, episode=episode))


_SHOW_SHAPES: tuple[Shape, ...] = (
    _season_folders,
    _numbered_in_season,
    _show_folder,
    _loose_files,
    _with_year,
)
# One show of each slow or rare shape, whatever the size, so a big folder stays mostly fast-path.
_SPECIAL_SHAPES: dict[int, Shape] = {5: _fansub, 6: _dated, 7: _guessit_only}
