"""What a video file is, from its path alone: a movie, an episode, an extra, or nothing to list.

guessit understands almost any name but costs ~6 ms each, so a strict fast path of precompiled
patterns decides the common shapes (``Show.S01E02``, ``show.1x02``, ``Show/Season 1/02 - Title``,
``Title (Year)``, ``Title.Year.1080p…``, ``[Group] Show - 012``, ``Show.2024.03.15``) and only what
it cannot decide goes to guessit, imported on first use.

What a person finds where:

- Episodes go to TV Shows. A show is named by its folder when the file sits in that folder (or in a
  ``Season N``/``Specials`` folder below it), else by the name in the file. Shows are the same show
  whatever the case or punctuation (``dark.s01e01`` and ``Dark.S01E02``).
- Extras go to Other: anything under an ``Extras``, ``Featurettes``, ``Trailers``… folder, or named
  the way Plex and Jellyfin name local extras (``Movie (2010)-trailer.mkv``).
- Release samples (``…-sample.mkv``, ``sample-….mkv`` or a ``Sample`` folder, under 300 MB) are not listed:
  they are fragments of a movie, never something to watch.
- Everything else is a movie, as in a Plex or Jellyfin movie library: titled from its name, with a
  year when the name has one.
"""

import functools
import re
import threading
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

SAMPLE_MAX_BYTES = 300 * 1024 * 1024
# Years outside this range are part of a title ("Blade Runner 2049", "2001 A Space Odyssey").
MIN_YEAR = 1900
MAX_YEAR = date.today().year + 2

EXTRAS_DIRS = frozenset(
    {
        "extras",
        "extra",
        "featurettes",
        "featurette",
        "behind the scenes",
        "deleted scenes",
        "interviews",
        "scenes",
        "shorts",
        "trailers",
        "other",
        "others",
    }
)
SAMPLE_DIRS = frozenset({"sample", "samples"})
# Tokens of a release's technical tail. Strong ones are never words of a title; weak ones ("web",
# "extended") may be, so a title is only cut at them when a strong tag follows.
STRONG_TAGS = frozenset(
    [
        "bluray",
        "blu-ray",
        "bdrip",
        "brrip",
        "bdremux",
        "remux",
        "web-dl",
        "webdl",
        "webrip",
        "hdtv",
        "pdtv",
        "sdtv",
        "dvdrip",
        "hdrip",
        "x264",
        "x265",
        "h264",
        "h265",
        "hevc",
        "xvid",
        "divx",
        "av1",
        "10bit",
        "hdr10",
        "hdr10+",
        "aac",
        "ac3",
        "eac3",
        "dts",
        "truehd",
        "atmos",
        "flac",
        "amzn",
        "dsnp",
        "hmax",
        "atvp",
        "dd5",
        "ddp5",
        "dts-hd",
    ]
)
WEAK_TAGS = frozenset(
    [
        "web",
        "dvd",
        "hd",
        "sd",
        "uhd",
        "fhd",
        "4k",
        "8k",
        "hdr",
        "dv",
        "dovi",
        "sdr",
        "nf",
        "avc",
        "vp9",
        "8bit",
        "proper",
        "repack",
        "internal",
        "limited",
        "extended",
        "unrated",
        "remastered",
        "imax",
        "uncut",
        "multi",
        "subbed",
        "dubbed",
        "hdcam",
        "dvdscr",
    ]
)


class FileKind(StrEnum):
    MOVIE = "movie"
    EPISODE = "episode"
    EXTRA = "extra"
    #: Not listed (release samples).
    IGNORED = "ignored"


@dataclass(frozen=True, slots=True)
class Classification:
    """What one file is. ``title`` is the movie's, extra's or episode's own title ("" when unknown)."""

    kind: FileKind
    title: str
    year: int | None = None
    show: str | None = None
    show_year: int | None = None
    #: Whether ``show`` is spelled as the show's folder (preferred over names in files).
    show_from_folder: bool = False
    season: int | None = None
    episode: int | None = None
    last_episode: int | None = None
    aired: str | None = None
    #: Which parser decided: "fast" or "guessit".
    parser: str = "fast"

    @property
    def show_key(self) -> str:
        return title_key(self.show or "", self.show_year)


# -- names ---------------------------------------------------------------------------------------

_WORD = re.compile(r"[^\s._]+")
_NON_WORD = re.compile(r"[\W_]+")
_SPACES = re.compile(r"\s+")
_RESOLUTION = re.compile(r"^\d{3,4}[pi]$")


@functools.lru_cache(maxsize=8192)
def title_key(title: str, year: int | None = None) -> str:
    """The identity of a title: case, punctuation and separators ignored (``Dark`` == ``dark``)."""
    text = title.casefold().replace("'", "").replace("\u2019", "").replace("&", " and ")
    key = _NON_WORD.sub(" ", text).strip()
    return f"{key} {year}" if year else key


@functools.lru_cache(maxsize=8192)
def clean_title(raw: str) -> str:
    """A display title from a name: dots and underscores become spaces, capitals stay as written."""
    text = raw.replace("_", " ").strip(" -.,[(")
    if " " not in text:
        text = _undot(text)
    return _SPACES.sub(" ", text).strip(" -,[(")


def _undot(text: str) -> str:
    """``Marvels.Agents.of.S.H.I.E.L.D`` → ``Marvels Agents of S.H.I.E.L.D.``: letters stay an acronym."""
    words: list[str] = []
    letters: list[str] = []
    for token in [*text.split("."), ""]:
        if len(token) == 1 and token.isalpha():
            letters.append(token)
            continue
        if letters:
            words.append(".".join(letters) + "." if len(letters) > 1 else letters[0])
            letters = []
        if token:
            words.append(token)
    return " ".join(words)


@functools.lru_cache(maxsize=8192)
def _tag_strength(token: str) -> int:
    """2 for a strong release tag, 1 for a weak one, 0 for a word."""
    word = token.strip("[]()").lower()
    head = word.split("-")[0]
    if word in STRONG_TAGS or head in STRONG_TAGS or _RESOLUTION.match(word):
        return 2
    return 1 if word in WEAK_TAGS or head in WEAK_TAGS else 0


@functools.lru_cache(maxsize=8192)
def strip_release_tail(raw: str) -> str:
    """The part of a name before its release tags (``Title.PROPER.720p.x264`` → ``Title``)."""
    words = list(_WORD.finditer(raw))
    strengths = [_tag_strength(w[0]) for w in words]
    if 2 not in strengths:
        return raw
    cut = strengths.index(2)
    while cut > 0 and strengths[cut - 1]:
        cut -= 1
    return raw[: words[cut].start()]


_YEAR = re.compile(r"(?<![^\s._\-\[(])([(\[]?)((?:19|20)\d{2})([)\]]?)(?![^\s._\-\])])")


def split_title_year(raw: str) -> tuple[str, int] | None:
    """``Title.Year[.tags]`` or ``Title (Year) anything`` → (title, year); the last fitting year wins.

    A bare year must end the name or be followed by release tags, so ``Movie.2019.Part.2`` is left
    undecided. None when no year fits.
    """
    for match in reversed(list(_YEAR.finditer(raw))):
        year = int(match[2])
        title = clean_title(raw[: match.start()])
        if not title or not MIN_YEAR <= year <= MAX_YEAR:
            continue
        bracketed = bool(match[1] and match[3])
        tail = [w for w in _WORD.findall(raw[match.end() :]) if w != "-"]
        if bracketed or not tail or _tag_strength(tail[0]):
            return title, year
    return None


_TRAILING_YEAR = re.compile(r"^(.*?)[\s._-]*[(\[]?((?:19|20)\d{2})[)\]]?$")


@functools.lru_cache(maxsize=8192)
def name_and_year(name: str) -> tuple[str, int | None]:
    """A show or folder name with an optional year at its end: ``Doctor Who (2005)`` → ("Doctor Who", 2005)."""
    match = _TRAILING_YEAR.match(name.strip(" .-_"))
    if match:
        title, year = clean_title(match[1]), int(match[2])
        if title and MIN_YEAR <= year <= MAX_YEAR:
            return title, year
    return clean_title(name), None


# -- folders -----------------------------------------------------------------------------------

_SEASON_DIR = re.compile(r"^(?:season|series|staffel|saison|temporada|s)[\s._-]*(\d{1,3})$", re.IGNORECASE)
_SPECIALS_DIR = re.compile(r"^specials?$", re.IGNORECASE)


def season_of_folder(name: str) -> int | None:
    """``Season 2`` → 2, ``Specials`` → 0, anything else → None."""
    if _SPECIALS_DIR.match(name):
        return 0
    match = _SEASON_DIR.match(name)
    return int(match[1]) if match else None


def resolve_show(
    dirs: list[str], parsed: str | None, parsed_year: int | None
) -> tuple[str, int | None, bool]:
    """The show a file belongs to: (title, year, named by its folder).

    A ``Season N`` folder's parent is the show's folder. Otherwise the file's own folder names the
    show when the name in the file matches it (``Dark/Dark.S01E02``, ``Doctor Who (2005)/Doctor.Who.S01E01``)
    or when the file names no show at all (``Show/S01E02``).
    """
    in_season_folder = bool(dirs) and season_of_folder(dirs[-1]) is not None
    if in_season_folder and len(dirs) >= 2:
        return (*name_and_year(dirs[-2]), True)
    if parsed:
        if dirs and not in_season_folder:
            title, year = name_and_year(dirs[-1])
            folder_key, parsed_key = title_key(title, year), title_key(parsed, parsed_year)
            if folder_key == parsed_key or folder_key.startswith(parsed_key + " "):
                return title, year, True
        return parsed, parsed_year, False
    if dirs and not in_season_folder:
        return (*name_and_year(dirs[-1]), True)
    return "", None, False


def extra_or_sample(dirs: list[str], stem: str, size: int) -> Classification | None:
    """An extra or a release sample, from folder names and Plex-style suffixes alone."""
    lowered = [d.lower() for d in dirs]
    if size < SAMPLE_MAX_BYTES and (any(d in SAMPLE_DIRS for d in lowered) or _SAMPLE_NAME.search(stem)):
        return Classification(FileKind.IGNORED, clean_title(stem))
    for position, folder in enumerate(lowered):
        if folder in EXTRAS_DIRS:
            owner = dirs[position - 1] if position else ""
            return Classification(FileKind.EXTRA, _extra_title(owner, clean_title(stem)))
    match = _EXTRA_SUFFIX.search(stem)
    if match:
        kind = match[1].replace("behindthescenes", "behind the scenes").capitalize()
        return Classification(FileKind.EXTRA, _extra_title(stem[: match.start()], kind))
    return None


def _extra_title(owner: str, name: str) -> str:
    owner_title = clean_title(owner)
    return f"{owner_title} \u2013 {name}" if owner_title and name else owner_title or name


# How release groups name samples: "sample-x", "x-sample", "x.sample", never "The.Sample.Movie".
_SAMPLE_NAME = re.compile(r"^sample(?:$|[\s._-])|[\s._-]sample$", re.IGNORECASE)
_EXTRA_SUFFIX = re.compile(
    r"-(trailer|behindthescenes|deleted|featurette|interview|scene|short|other)$", re.IGNORECASE
)

# -- fast path -----------------------------------------------------------------------------------

_SXXEYY = re.compile(
    r"(?:^|[\s._\-\[(])S(\d{1,2})[\s._-]?E(\d{1,4})((?:(?:[\s._-]?E|-)\d{1,4})*)(?=$|[\s._\-\])])",
    re.IGNORECASE,
)
_NXNN = re.compile(r"(?:^|[\s._\-\[(])(\d{1,2})x(\d{2,3})(?=$|[\s._\-\])])", re.IGNORECASE)
_DATE = re.compile(r"(?:^|[\s._-])((?:19|20)\d{2})[.\-_ ](\d{2})[.\-_ ](\d{2})(?=$|[\s._-])")
_FANSUB = re.compile(r"^\[[^\]]+\]\s*(.+?)\s+-\s+(\d{1,4})(?:v\d)?(?:\s*[\[(].*)?$")
_NUMBERED = re.compile(
    r"^(?:e|ep|episode)?[\s._-]*(\d{1,3})(?:[\s._]*-[\s._]*|[\s._]+|$)(.*)$", re.IGNORECASE
)
_LAST_NUMBER = re.compile(r"(\d{1,4})$")
_SEASON_MARKER = re.compile(r"s\d|season|series|\dx\d", re.IGNORECASE)


def _episode(
    dirs: list[str], show_raw: str, season: int, episode: int, rest: str, **extra: Any
) -> Classification | None:
    parsed, parsed_year = name_and_year(show_raw)
    show, show_year, from_folder = resolve_show(dirs, parsed or None, parsed_year)
    if not show:
        return None
    title = clean_title(strip_release_tail(rest.strip(" .-_")))
    return Classification(
        FileKind.EPISODE,
        title,
        show=show,
        show_year=show_year,
        show_from_folder=from_folder,
        season=season,
        episode=episode,
        **extra,
    )


def _fast_episode(dirs: list[str], stem: str) -> Classification | None:
    match = _SXXEYY.search(stem)
    if match:
        last = _LAST_NUMBER.search(match[3]) if match[3] else None
        return _episode(
            dirs,
            stem[: match.start()],
            int(match[1]),
            int(match[2]),
            stem[match.end() :],
            last_episode=int(last[1]) if last else None,
        )
    match = _NXNN.search(stem)
    if match:
        return _episode(dirs, stem[: match.start()], int(match[1]), int(match[2]), stem[match.end() :])
    match = _FANSUB.match(stem)
    if match:
        folder_season = season_of_folder(dirs[-1]) if dirs else None
        season = 1 if folder_season is None else folder_season
        return _episode(dirs, match[1], season, int(match[2]), "")
    match = _DATE.search(stem)
    if match:
        try:
            aired = date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            return None
        rest = stem[match.end() :]
        return _episode(
            dirs,
            stem[: match.start()],
            aired.year,
            aired.month * 100 + aired.day,
            rest,
            aired=aired.isoformat(),
        )
    folder_season = season_of_folder(dirs[-1]) if dirs else None
    if folder_season is not None:
        match = _NUMBERED.match(stem)
        if match:
            return _episode(dirs, "", folder_season, int(match[1]), match[2])
    return None


def _fast_movie(dirs: list[str], stem: str) -> Classification | None:
    found = split_title_year(stem)
    if found is None:
        return None
    title, year = found
    return Classification(FileKind.MOVIE, title, year=year)


def classify_fast(relpath: str, size: int = 0) -> Classification | None:
    """The strict fast path; None when the name needs guessit."""
    dirs, stem = split_path(relpath)
    return extra_or_sample(dirs, stem, size) or _fast_episode(dirs, stem) or _fast_movie(dirs, stem)


def split_path(relpath: str) -> tuple[list[str], str]:
    *dirs, name = relpath.split("/")
    stem = name.rpartition(".")[0] or name
    return dirs, stem


# -- guessit -------------------------------------------------------------------------------------

_GUESSIT_LOCK = threading.Lock()


def _first(value: object) -> object:
    return value[0] if isinstance(value, list) and value else value


def _int(value: object) -> int | None:
    value = _first(value)
    return value if isinstance(value, int) else None


def classify_guessit(relpath: str, size: int = 0) -> Classification:
    """guessit's reading of the whole relative path, with the same folder rules as the fast path."""
    from guessit import guessit  # slow to import and to run: only for names the fast path left

    dirs, stem = split_path(relpath)
    found = extra_or_sample(dirs, stem, size)
    if found is not None:
        return found
    with _GUESSIT_LOCK:  # rebulk keeps state between calls: one name at a time
        guess: dict[str, Any] = dict(guessit(relpath))
    if guess.get("type") == "episode":
        episode = _episode_from_guess(relpath, dirs, guess)
        if episode is not None:
            return episode
    year = _int(guess.get("year"))
    title = _first(guess.get("title"))
    if not isinstance(title, str) or not title or year is None:
        # Without a year guessit's title is often a fragment ("VID" of VID_20190503): the name reads better.
        title = clean_title(strip_release_tail(stem)) or clean_title(stem)
        year = None
    return Classification(FileKind.MOVIE, title, year=year, parser="guessit")


def _episode_from_guess(relpath: str, dirs: list[str], guess: dict[str, Any]) -> Classification | None:
    parsed = _first(guess.get("title"))
    parsed_title = parsed if isinstance(parsed, str) else None
    country = guess.get("country")
    if parsed_title and country is not None:
        parsed_title = f"{parsed_title} ({getattr(country, 'alpha2', country)})"
    show, show_year, from_folder = resolve_show(dirs, parsed_title, _int(guess.get("year")))
    if not show:
        return None
    episodes = guess.get("episode")
    episode = _int(episodes) or _int(guess.get("absolute_episode"))
    season = _int(guess.get("season"))
    aired = guess.get("date")
    if season is None and dirs:
        season = season_of_folder(dirs[-1])
    if episode is None and isinstance(aired, date):
        season, episode = aired.year, aired.month * 100 + aired.day
    if episode is None:
        return None
    if not isinstance(aired, date) and season and season > 9 and not _SEASON_MARKER.search(relpath):
        # guessit reads a bare 4-digit number as season+episode ("Blade.Runner.2049" as 20x49).
        return None
    title = guess.get("episode_title")
    last = episodes[-1] if isinstance(episodes, list) and len(episodes) > 1 else None
    return Classification(
        FileKind.EPISODE,
        title if isinstance(title, str) else "",
        show=show,
        show_year=show_year,
        show_from_folder=from_folder,
        # Absolute numbering (anime) has no season: it is one long first season.
        season=1 if season is None else season,
        episode=episode,
        last_episode=last if isinstance(last, int) else None,
        aired=aired.isoformat() if isinstance(aired, date) else None,
        parser="guessit",
    )


def classify(relpath: str, size: int = 0) -> Classification:
    """What the file at ``relpath`` (relative to the folder, ``/``-separated) is."""
    return classify_fast(relpath, size) or classify_guessit(relpath, size)
