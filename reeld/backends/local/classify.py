"""What a video file is, from its path alone: a movie, an episode, an extra, or nothing to list.

guessit understands almost any name but costs ~6 ms each, so a strict fast path of precompiled
patterns decides the common shapes (``Show.S01E02``, ``show.1x02-03``, ``Show/Season 1/02 - Title``,
``Title (Year)``, ``Title.Year.1080p…``, ``[Group] Show - 012``, ``Show.2024.03.15``,
``Show.15-05-2018``, ``Show.2017.E07``, ``Movie (2010) - cd2``) and only what it is unsure of goes
to guessit, imported on first use, whose answer is then taken. Shapes it would misread where guessit
reads them right (its own test names: ``FoV-Show.Name.S01E01``, ``(1)Title``…) are left to guessit
whole, by a check anchored at the name's start that costs the common names nothing. The shapes follow Plex's, Jellyfin's
and Kodi's naming rules; tests/data/naming_corpus.tsv holds the ones measured (bench/bench_naming.py).

What a person finds where:

- Episodes go to TV Shows. A show is named by its folder when the file sits in that folder (or in a
  ``Season N``/``Specials`` folder below it; a season pack's ``Show.S01.1080p-GRP`` folder is the
  show "Show"), else by the name in the file. Shows are the same show whatever the case or
  punctuation (``dark.s01e01`` and ``Dark.S01E02``). A dub's folder (``Dr Slump (Catalan)`` holding
  files that name the language) is the show's: its files are versions of the same episodes. A file in a season folder is an episode even
  with no number in its name. A multi-episode file is one item, its first episode with the last.
- Extras go to Other: anything under an ``Extras``, ``Featurettes``, ``Trailers``… folder, or named
  the way Plex and Jellyfin name local extras (``Movie (2010)-trailer.mkv``, ``Movie.trailer.mp4``,
  ``trailer.mp4`` in the movie's folder); a release group named like one (``x264-SCENE``) is not.
- A movie in parts (``cd1``, ``part2``) is one movie: its first part is listed (scan.is_later_part).
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

#: The version of these naming rules. It is part of every file's etag (scan.FileStat), so after an
#: upgrade that changes them every file looks changed once: it is classified again and its item
#: rewritten under the same id, keeping its watch state. Raise it whenever a name may read differently.
NAMING_RULES = 3
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
        "clips",
        "backdrops",
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
    #: Which part of a movie split over several files (``cd1``, ``part2``); None when it is whole.
    part: int | None = None
    #: Which parser decided: "fast" or "guessit".
    parser: str = "fast"

    @property
    def show_key(self) -> str:
        return title_key(self.show or "", self.show_year)


# -- names ---------------------------------------------------------------------------------------

_WORD = re.compile(r"[^\s._]+")
_NON_WORD = re.compile(r"[\W_]+")
_SPACES = re.compile(r"\s+")
_RESOLUTION = re.compile(r"^(?:\d{3,4}[pi]|\d{3,4}x\d{3,4})$")


@functools.lru_cache(maxsize=8192)
def title_key(title: str, year: int | None = None) -> str:
    """The identity of a title: case, punctuation and separators ignored (``Dark`` == ``dark``)."""
    text = title.casefold().replace("'", "").replace("\u2019", "").replace("&", " and ")
    key = _NON_WORD.sub(" ", text).strip()
    return f"{key} {year}" if year else key


@functools.lru_cache(maxsize=8192)
def clean_title(raw: str) -> str:
    """A display title from a name: dots and underscores become spaces, capitals stay as written,
    a library's "Simpsons, The" is "The Simpsons"."""
    text = raw.replace("_", " ").strip(" -.,[(")
    if " " not in text:
        text = _undot(text)
    text = _SPACES.sub(" ", text).strip(" -,[(")
    article = _TRAILING_ARTICLE.match(text)
    return f"{article[2]} {article[1]}" if article else text


_TRAILING_ARTICLE = re.compile(r"^(.+?),\s*(The|A|An)$", re.IGNORECASE)


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
    """``Title.Year[.tags]`` or ``Title (Year) anything`` → (title, year); the first bracketed year
    wins (``My Movie (1997) - Group 2019``), else the last fitting one (``Blade.Runner.2049.2017``).

    A bare year must end the name or be followed by release tags, so ``Movie.2019.Part.2`` is left
    undecided. None when no year fits.
    """
    matches = list(_YEAR.finditer(raw))
    in_brackets = [m for m in matches if m[1] and m[3]]
    for match in [*in_brackets[:1], *reversed(matches)]:
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

_SEASON_DIR = re.compile(r"^(?:season|series|staffel|saison|temporada|s)[\s._-]*(\d{1,4})$", re.IGNORECASE)
_SPECIALS_DIR = re.compile(r"^specials?$", re.IGNORECASE)


def season_of_folder(name: str) -> int | None:
    """``Season 2`` → 2, ``Specials`` → 0, anything else → None."""
    if _SPECIALS_DIR.match(name):
        return 0
    match = _SEASON_DIR.match(name)
    return int(match[1]) if match else None


# What a season pack's folder adds to the show's name: "Some.Show.S01.1080p…", "Friends Season 1 Complete".
_PACK_MARKER = re.compile(
    r"[\s._-]+(?:s\d{1,4}(?:[\s._-]?e\d{1,4})?|(?:season|series|saison|stagione|staffel|temporada)[\s._-]*\d{1,4}"
    r"|complete|(?:19|20)\d{2}[.\-_ ]\d{2}[.\-_ ]\d{2})(?=$|[\s._\-\[(])",
    re.IGNORECASE,
)


@functools.lru_cache(maxsize=8192)
def show_folder_name(name: str) -> tuple[str, int | None]:
    """A show's folder as (title, year), without what a season pack adds to it:
    ``Some.Show.2005.S01.1080p.WEB-DL-GRP`` → ("Some Show", 2005)."""
    base = strip_release_tail(name)
    match = _PACK_MARKER.search(base)
    if match and match.start() > 0:
        base = base[: match.start()]
    return name_and_year(base) if base.strip(" .-_") else name_and_year(name)


def resolve_show(
    dirs: list[str], parsed: str | None, parsed_year: int | None
) -> tuple[str, int | None, bool]:
    """The show a file belongs to: (title, year, named by its folder).

    A ``Season N`` folder's parent is the show's folder. Otherwise the file's own folder names the
    show when the name in the file matches it (``Dark/Dark.S01E02``, ``Doctor Who (2005)/Doctor.Who.S01E01``,
    a season pack's ``Dark.S01.1080p-GRP/Dark.S01E02``) or when the file names no show at all (``Show/S01E02``).
    """
    in_season_folder = bool(dirs) and season_of_folder(dirs[-1]) is not None
    if in_season_folder and len(dirs) >= 2:
        return (*show_folder_name(dirs[-2]), True)
    if parsed:
        if dirs and not in_season_folder:
            title, year = show_folder_name(dirs[-1])
            folder_key, parsed_key = title_key(title, year), title_key(parsed, parsed_year)
            if folder_key == parsed_key or folder_key.startswith(parsed_key + " "):
                return title, year, True
        return parsed, parsed_year, False
    if dirs and not in_season_folder:
        return (*show_folder_name(dirs[-1]), True)
    return "", None, False


def extra_or_sample(dirs: list[str], stem: str, size: int) -> Classification | None:
    """An extra or a release sample, from folder names and Plex- and Jellyfin-style suffixes alone."""
    lowered = [d.lower() for d in dirs]
    if size < SAMPLE_MAX_BYTES and (any(d in SAMPLE_DIRS for d in lowered) or _SAMPLE_NAME.search(stem)):
        return Classification(FileKind.IGNORED, clean_title(stem))
    for position, folder in enumerate(lowered):
        if folder in EXTRAS_DIRS:
            return Classification(FileKind.EXTRA, _extra_title(_owner(dirs[:position]), clean_title(stem)))
    if _EXTRA_NAME.match(stem):  # "trailer.mp4" beside the movie it belongs to
        return Classification(FileKind.EXTRA, _extra_title(_owner(dirs), _extra_kind(stem)))
    match = _EXTRA_SUFFIX.search(stem) or _TRAILER_SUFFIX.search(stem)
    if match and not _is_release_group(stem[: match.start()]):
        return Classification(FileKind.EXTRA, _extra_title(stem[: match.start()], _extra_kind(match[1])))
    return None


def _owner(dirs: list[str]) -> str:
    """The folder an extra belongs to: the nearest one above that is not a season folder."""
    for folder in reversed(dirs):
        if season_of_folder(folder) is None:
            return folder
    return ""


def _extra_kind(word: str) -> str:
    word = word.rstrip("0123456789").lower()
    return _EXTRA_KINDS.get(word, word.capitalize())


def _is_release_group(before: str) -> bool:
    """Whether a ``-word`` ending is a release group (``Bones.S03E01.720p.HDTV.x264-SCENE``), not an
    extra's suffix: it follows a release tag or an episode marker."""
    words = _WORD.findall(before)
    return bool(words) and (_tag_strength(words[-1]) > 0 or _SXXEYY.search(before) is not None)


def _extra_title(owner: str, name: str) -> str:
    owner_title = clean_title(owner)
    return f"{owner_title} \u2013 {name}" if owner_title and name else owner_title or name


# How release groups name samples: "sample-x", "x-sample", "x.sample", never "The.Sample.Movie".
_SAMPLE_NAME = re.compile(r"^sample(?:$|[\s._-])|[\s._-]sample$", re.IGNORECASE)
_EXTRA_WORDS = (
    r"trailer|behindthescenes|deletedscene|deleted|featurette|interview|scene|short|other|clip|extra"
)
# Plex and Jellyfin: "Movie (2010)-trailer", "Movie-featurette2"; a trailer also "Movie - trailer",
# "Movie.trailer", "Movie_trailer", or "trailer.mp4" in its movie's folder (Kodi's and Jellyfin's way).
# Only "trailer" is taken with spaces or alone: "Film - Short.mkv" or "clip.mp4" may be anything.
_EXTRA_SUFFIX = re.compile(rf"-({_EXTRA_WORDS})\d*$", re.IGNORECASE)
_TRAILER_SUFFIX = re.compile(r"(?<=\S)(?:\s*-\s*|[\s._])(trailer)\d*$", re.IGNORECASE)
_EXTRA_NAME = re.compile(r"^trailer\d*$", re.IGNORECASE)
_EXTRA_KINDS = {
    "behindthescenes": "Behind the scenes",
    "deleted": "Deleted scene",
    "deletedscene": "Deleted scene",
}

# -- fast path -----------------------------------------------------------------------------------

_SXXEYY = re.compile(
    r"(?:^|[\s._\-\[(])S(\d{1,4})[\s._-]?E(\d{1,4})"
    # more episodes of the same file: E02E03, E02-E03, E02-03, E02.S01E03, E00.and.S01E01
    r"((?:(?:[\s._-]?E|-E?|[\s._-]?S\d{1,4}E|[\s._-](?:and|&)[\s._-]S\d{1,4}E)\d{1,4})*)(?=$|[\s._\-\])])",
    re.IGNORECASE,
)
_NXNN = re.compile(
    r"(?:^|[\s._\-\[(])(\d{1,2})x(\d{2,3})"
    # more episodes: 02x03-04-15, 02x03-E15, 02x03x04x15, 02x03 - 02x04 - 02x15, 02x03 - x04 - x15
    # (never "02x03 - 04 Title": a number after a spaced dash is the title's)
    r"((?:(?:-(?:\d{1,2}x|x|E)?|x|E|\s+-\s+(?:\d{1,2}x|x|E))\d{2,3})*)(?=$|[\s._\-\])])",
    re.IGNORECASE,
)
# "Show.2017.E07": a show's year, then an episode of its only season.
_YEAR_EPISODE = re.compile(r"^(.+?[\s._-])((?:19|20)\d{2})[\s._-]+E(\d{1,4})(?=$|[\s._\-\[(])", re.IGNORECASE)
_DATE = re.compile(r"(?:^|[\s._\-\[(])((?:19|20)\d{2})[.\-_ ](\d{2})[.\-_ ](\d{2})(?=$|[\s._\-\])])")
# "Panorama.15-05-2018": day first, as most of the world writes it, unless that cannot be a date.
_DATE_DAY_FIRST = re.compile(
    r"(?:^|[\s._\-\[(])(\d{2})[.\-_ ](\d{2})[.\-_ ]((?:19|20)\d{2})(?=$|[\s._\-\])])"
)
# "[Group] Show - 012 [1080p]", "[Group] Show S2 - 05 (1080p)", "Show - 975 [Dual Audio]".
_FANSUB = re.compile(
    # after the number only bracketed tags: "Duckman - 101 (01) - 20021107 - Title" is another shape
    r"^(\[[^\]]+\]\s*)?(.+?)(?:\s+(?:S|Season\s*)(\d{1,2}))?\s+-\s+(\d{1,4})(?:v\d)?((?:\s*[\[(][^\])]*[\])])+)?\s*$",
    re.IGNORECASE,
)
_NUMBERED = re.compile(
    r"^(?:e|ep|episode)?[\s._-]*(\d{1,3})(?:-(\d{1,3}))?(?:[\s._]*-[\s._]*|[\s._]+|$)(.*)$", re.IGNORECASE
)
_LAST_NUMBER = re.compile(r"(\d{1,4})$")
# A release group's tag before a show's name: "[Judas] Kaguya-sama - S03E05".
_GROUP_TAG = re.compile(r"^\s*\[[^\]]*\][\s._-]*")
_SEASON_MARKER = re.compile(r"s\d|season|series|\dx\d", re.IGNORECASE)
_DIGITS = re.compile(r"\d")
_LETTER = re.compile(r"[^\W\d_]")


def _episode(
    dirs: list[str], show_raw: str, season: int, episode: int | None, rest: str, **extra: Any
) -> Classification | None:
    parsed, parsed_year = name_and_year(_GROUP_TAG.sub("", show_raw))
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


def _last_episode(first: int, more: str) -> int | None:
    last = _LAST_NUMBER.search(more) if more else None
    return int(last[1]) if last and int(last[1]) > first else None


def _fast_episode(dirs: list[str], stem: str) -> Classification | None:
    match = _SXXEYY.search(stem)
    if match:
        first, rest = int(match[2]), stem[match.end() :]
        return _episode(
            dirs,
            stem[: match.start()],
            int(match[1]),
            first,
            rest,
            last_episode=_last_episode(first, match[3]),
            aired=_air_date(rest),
        )
    match = _NXNN.search(stem)
    if match:
        first = int(match[2])
        return _episode(
            dirs,
            stem[: match.start()],
            int(match[1]),
            first,
            stem[match.end() :],
            last_episode=_last_episode(first, match[3]),
        )
    match = _YEAR_EPISODE.match(stem)
    if match:
        return _episode(dirs, match[1] + match[2], 1, int(match[3]), stem[match.end() :])
    return _fansub_episode(dirs, stem) or _dated_episode(dirs, stem) or _folder_episode(dirs, stem)


def _fansub_episode(dirs: list[str], stem: str) -> Classification | None:
    text = stem.replace("_", " ") if " " not in stem else stem
    match = _FANSUB.match(text)
    if match is None:
        return None
    group, show, season, number, tail = match.groups()
    if not group and (_YEAR.fullmatch(number) or not (tail or _names_its_folder(dirs, show))):
        return None  # "Title - 1997", "Movie - 03": without a group's brackets or its show's folder, unsure
    if not group and _DIGITS.search(show):
        return None  # "Movie 2 - 03"
    if season is None:
        folder_season = season_of_folder(dirs[-1]) if dirs else None
        season = 1 if folder_season is None else folder_season
    return _episode(dirs, show, int(season), int(number), "")


def _find_date(text: str) -> tuple[re.Match[str], date] | None:
    match = _DATE.search(text)
    if match:
        year, month, day = int(match[1]), int(match[2]), int(match[3])
    else:
        match = _DATE_DAY_FIRST.search(text)
        if match is None:
            return None
        day, month, year = int(match[1]), int(match[2]), int(match[3])
        if month > 12 and day <= 12:
            day, month = month, day  # the American order: 05-15-2018
    try:
        return match, date(year, month, day)
    except ValueError:
        return None


def _air_date(rest: str) -> str | None:
    """An air date written after an episode's number ("S02E02 - Title (14-01-2008)")."""
    found = _find_date(rest)
    return found[1].isoformat() if found else None


def _names_its_folder(dirs: list[str], show: str) -> bool:
    """Whether ``show`` is the name of the folder the file is in (``GJ Club (2013)/GJ Club - 07``)."""
    return bool(dirs) and title_key(name_and_year(show)[0]) == title_key(show_folder_name(dirs[-1])[0])


def _dated_episode(dirs: list[str], stem: str) -> Classification | None:
    found = _find_date(stem)
    if found is None:
        return None
    match, aired = found
    return _episode(
        dirs,
        stem[: match.start()],
        aired.year,
        aired.month * 100 + aired.day,
        stem[match.end() :],
        aired=aired.isoformat(),
    )


def _folder_episode(dirs: list[str], stem: str) -> Classification | None:
    """A file in a ``Season N`` folder: numbered (``02 - Title``), or named only (``Apotheosis_1920x1080``)."""
    folder_season = season_of_folder(dirs[-1]) if dirs else None
    if folder_season is None:
        return None
    match = _NUMBERED.match(stem)
    if match:
        first = int(match[1])
        return _episode(dirs, "", folder_season, first, match[3], last_episode=_last_episode(first, match[2]))
    title = strip_release_tail(stem)
    if len(dirs) >= 2 and not _DIGITS.search(title):
        # No number at all: an episode of that season all the same, as Plex and Jellyfin list it.
        return _episode(dirs, "", folder_season, None, title)
    return None


# Parts of one movie, as Jellyfin and Kodi stack them: "Movie (2010) - cd1", "movie.part2", "Movie-disc1".
_PART = re.compile(r"[\s._-]*[\[(]?\b(?:cd|dvd|part|pt|disc|disk)[\s._-]?(\d{1,2})[\])]?$", re.IGNORECASE)
# Words of an episode in the languages guessit knows, that a movie's name seldom has.
_EPISODE_WORDS = re.compile(
    r"(?:^|[\s._\-\[(])(?:season|saison|stagione|staffel|temporada|episode|episodio|[eé]pisode|ep)[\s._]?\d{1,4}"
    r"(?=$|[\s._\-\])])",
    re.IGNORECASE,
)
# A scene group before the title, as lowercase releases have it: "blow-how.to.be.single.2016.1080p.bluray".
_GROUP_PREFIX = re.compile(r"^[a-z0-9]{2,10}-[a-z0-9]+\.[^\sA-Z]*$")
# A scene release's file named by an abbreviation: "abc-ttl", "sparks-inception-720p".
_SCENE_CODE = re.compile(r"^[a-z0-9]{2,12}-[a-z0-9.\-]{2,40}$")


def movie_part(stem: str) -> tuple[str, int | None]:
    """The name without a multi-part suffix, and the part's number (``Heat - cd2`` → ("Heat", 2))."""
    match = _PART.search(stem)
    if match is None or match.start() == 0:
        return stem, None
    return stem[: match.start()], int(match[1])


def _fast_movie(dirs: list[str], stem: str) -> Classification | None:
    if _EPISODE_WORDS.search(stem):
        return None  # "Show - Stagione 6 (2016) ep13": guessit knows these words
    name, part = movie_part(stem)
    found: tuple[str, int | None] | None = None
    if dirs and _SCENE_CODE.match(name):
        found = _movie_of_folder(dirs[-1], name)
    if found is None and _GROUP_PREFIX.match(name) and strip_release_tail(name) != name:
        return None  # "blow-how.to.be.single.2016.1080p" or "spider-man.2002.1080p": guessit tells them apart
    found = found or split_title_year(name)
    if found is None and dirs:
        found = _movie_of_folder(dirs[-1], name)
    if found is None:
        return None
    title, year = found
    if dirs and year is not None:
        title = _folder_spelling(dirs[-1], title, year)
    return Classification(FileKind.MOVIE, title, year=year, part=part)


def _folder_spelling(folder: str, title: str, year: int) -> str:
    """The title as its ``Title (Year)`` folder spells it when the file's name holds more
    (``Brazil (1985)/Brazil_Criterion_Edition_(1985).CD2``)."""
    found = split_title_year(folder)
    if found is None or found[1] != year:
        return title
    folder_key = title_key(found[0])
    return found[0] if folder_key and f" {folder_key} " in f" {title_key(title)} " else title


def _movie_of_folder(folder: str, name: str) -> tuple[str, int | None] | None:
    """A file without a year named after its ``Title (Year)`` folder, or by a scene abbreviation
    in a release's folder (``Title.DVDRip.XviD-GRP/abc-ttl``): the folder names the movie."""
    found = split_title_year(folder)
    if _SCENE_CODE.match(name):
        release = strip_release_tail(folder)
        if found is None and release != folder and clean_title(release):
            return clean_title(release), None
        return found
    if found is not None and title_key(clean_title(strip_release_tail(name))) == title_key(found[0]):
        return found
    return None


# Shapes the fast path would misread and guessit reads right (its own test names), left to it whole:
# "FoV-Show.Name.S01E01" (a group's prefix), "超能警探.Memorist.S01E01" (a title in two scripts),
# "Show.1x01.Title.(2015)" (the show's year after the number), "(1)The Girl…" (a number in a
# collection), "Fr - Paris 2054, Renaissance (2005)" (a language before the title).
# (anchored at the name's start, so most names fail at their first characters)
_GUESSIT_PREFIXES = re.compile(
    r"[A-Za-z0-9]{2,10}-[A-Z][^\s-]*\.[^\s]*?(?:S\d{1,4}E|\d{1,2}x)\d"
    r"|[^\W\d_a-zA-Z\u00c0-\u024f][^\s]*?\.[A-Za-z][A-Za-z'-]+\.S\d{1,4}E\d"
    r"|\(\d{1,2}\)"
    r"|(?:fr|vf|vo|vostfr|en|eng|de|ger|es|spa)\s+-\s",
    re.IGNORECASE,
)
_YEAR_AFTER_EPISODE = re.compile(r"(?:S\d{1,4}E|\d{1,2}x)\d{1,4}\S*?\((?:19|20)\d{2}\)", re.IGNORECASE)


def _needs_guessit(stem: str) -> bool:
    return _GUESSIT_PREFIXES.match(stem) is not None or (
        "(" in stem and _YEAR_AFTER_EPISODE.search(stem) is not None
    )


def classify_fast(relpath: str, size: int = 0) -> Classification | None:
    """The strict fast path; None when the name needs guessit."""
    dirs, stem = split_path(relpath)
    sure = extra_or_sample(dirs, stem, size)
    if sure is not None:
        return sure
    if _needs_guessit(stem):
        return None
    return _fast_episode(dirs, stem) or _fast_movie(dirs, stem)


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
    name = clean_title(strip_release_tail(stem)) or clean_title(stem)
    if not isinstance(title, str) or not title or (year is None and _is_fragment(name, title, guess)):
        title, year = name, None
    return Classification(
        FileKind.MOVIE, title, year=year, part=_int(guess.get("cd") or guess.get("part")), parser="guessit"
    )


def _is_fragment(name: str, title: str, guess: dict[str, Any]) -> bool:
    """Whether guessit's title of a name without a year is a fragment of it: a camera's name
    ("VID" of VID_20190503_181512), or a title word read as a lone source tag ("Charlottes" of
    Charlottes.Web): a release would have a codec or a resolution beside its source."""
    rest = title_key(name).replace(title_key(title), "", 1)
    if rest.strip() and not _LETTER.search(rest):
        return True
    return "source" in guess and not ({"video_codec", "screen_size", "audio_codec"} & guess.keys())


def _episode_from_guess(relpath: str, dirs: list[str], guess: dict[str, Any]) -> Classification | None:
    parsed = _first(guess.get("title"))
    parsed_title = parsed if isinstance(parsed, str) else None
    country = guess.get("country")
    if parsed_title and country is not None:
        parsed_title = f"{parsed_title} ({getattr(country, 'alpha2', country)})"
    show, show_year, from_folder = resolve_show(dirs, parsed_title, _int(guess.get("year")))
    if not show:
        return None
    if from_folder and parsed_title and _is_language_version(show, parsed_title, guess.get("language")):
        show, from_folder = parsed_title, False
    episodes = guess.get("episode")
    episode = _int(episodes) or _int(guess.get("absolute_episode"))
    season = _int(guess.get("season"))
    aired = guess.get("date")
    if season == 0 and not _SEASON_MARKER.search(relpath):
        season = None  # guessit's season 0 of a bare "003": an absolute number, not a special
    if season is None and dirs:
        season = season_of_folder(dirs[-1])
    if episode is None and isinstance(aired, date):
        season, episode = aired.year, aired.month * 100 + aired.day
    if episode is None:
        return None
    if not isinstance(aired, date) and season and season > 9 and _is_one_number(relpath, season, episode):
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


def _is_language_version(folder_title: str, parsed: str, language: object) -> bool:
    """Whether a show's folder is its name and the language the file is in ("Dr Slump (Catalan)"
    holding "Dr._Slump_-_003_Catalan"): a dub of the show, not a show of its own name."""
    language_name = getattr(_first(language), "name", None)
    if not isinstance(language_name, str):
        return False
    return title_key(folder_title) == f"{title_key(parsed)} {title_key(language_name)}"


def _is_one_number(relpath: str, season: int, episode: int) -> bool:
    if _SEASON_MARKER.search(relpath):
        return False
    return re.search(rf"(?<!\d){season}{episode:02d}(?!\d)", relpath) is not None


def classify(relpath: str, size: int = 0) -> Classification:
    """What the file at ``relpath`` (relative to the folder, ``/``-separated) is."""
    return classify_fast(relpath, size) or classify_guessit(relpath, size)
