"""How file names become movies, episodes and extras, as a person browsing the libraries sees them."""

import asyncio
from pathlib import Path

import pytest

from reeld.backends.base import SyncContext
from reeld.backends.local import backend as local_backend
from reeld.backends.local import scan
from reeld.backends.local.backend import LocalBackend
from reeld.backends.local.classify import (
    Classification,
    FileKind,
    classify,
    classify_fast,
    classify_guessit,
    title_key,
)
from reeld.backends.local.scan import MOVIES as MOVIES_LIBRARY
from reeld.cache import queries
from reeld.config import Paths
from reeld.daemon import Daemon
from reeld.services import events as ev
from tests.support.events import stop

MB = 1024 * 1024

# (relative path, kind, show or movie title, year, season, episode, episode title)
EPISODES = [
    ("Show.Name.S01E02.mkv", "Show Name", None, 1, 2, ""),
    ("Show/Season 1/02 - Title.mkv", "Show", None, 1, 2, "Title"),
    ("Dark/Dark.S01E02.mkv", "Dark", None, 1, 2, ""),
    ("Doctor.Who.2005.S01E01.Rose.mkv", "Doctor Who", 2005, 1, 1, "Rose"),
    ("Doctor Who (2005)/Season 1/Doctor.Who.2005.S01E01.Rose.mkv", "Doctor Who", 2005, 1, 1, "Rose"),
    ("show.1x02.mkv", "show", None, 1, 2, ""),
    ("The.Office.US.S02E01E02.720p.HDTV.mkv", "The Office US", None, 2, 1, ""),
    ("Show.Name.S01E01-03.mkv", "Show Name", None, 1, 1, ""),
    ("Show.S00E03.Special.mkv", "Show", None, 0, 3, "Special"),
    ("Show/Specials/01 - Pilot.mkv", "Show", None, 0, 1, "Pilot"),
    ("Breaking Bad/Season 2/breaking.bad.s02e03.720p.mkv", "Breaking Bad", None, 2, 3, ""),
    ("Dark/Season 1/Dark - S01E03 - Secrets.mkv", "Dark", None, 1, 3, "Secrets"),
    ("Dark/Season 1/3.mkv", "Dark", None, 1, 3, ""),
    ("Show/S01E02.mkv", "Show", None, 1, 2, ""),
    ("Marvels.Agents.of.S.H.I.E.L.D.S01E01.mkv", "Marvels Agents of S.H.I.E.L.D.", None, 1, 1, ""),
    ("Show.Name.S01E02.The.Proper.Way.720p.WEB.x264-GRP.mkv", "Show Name", None, 1, 2, "The Proper Way"),
    ("[SubGroup] One Piece - 1071 [1080p].mkv", "One Piece", None, 1, 1071, ""),
    ("The.Daily.Show.2024.03.15.Guest.Name.mkv", "The Daily Show", None, 2024, 315, "Guest Name"),
    # The folder above a season folder names the show, whatever the files say.
    ("Star Trek TNG/Season 1/Star.Trek.The.Next.Generation.S01E01.mkv", "Star Trek TNG", None, 1, 1, ""),
]

MOVIES = [
    ("Blade.Runner.2049.2017.2160p.mkv", "Blade Runner 2049", 2017),
    ("2001.A.Space.Odyssey.1968.mkv", "2001 A Space Odyssey", 1968),
    ("1917.2019.1080p.mkv", "1917", 2019),
    ("Spider-Man.2002.mkv", "Spider-Man", 2002),
    ("Schindler's.List.1993.BluRay.mkv", "Schindler's List", 1993),
    ("Movies/Inception (2010)/Inception (2010) - 1080p.mkv", "Inception", 2010),
    ("Alien (1979) [Director's Cut].mkv", "Alien", 1979),
    ("The.Matrix.1999.1080p.BluRay.x264-GROUP.mkv", "The Matrix", 1999),
    ("Star Wars Episode IV (1977).mkv", "Star Wars Episode IV", 1977),
    # No year and no episode marker: guessit decides, and the name gives the title.
    ("Inception.mkv", "Inception", None),
    ("1917.mkv", "1917", None),
    ("Blade.Runner.2049.mkv", "Blade Runner 2049", None),
    ("Charlottes.Web.mkv", "Charlottes Web", None),
    ("birthday party.mp4", "birthday party", None),
    ("Movie.Title.2019.Part.2.mkv", "Movie Title", 2019),
]


@pytest.mark.parametrize(("relpath", "show", "show_year", "season", "episode", "title"), EPISODES)
def test_episodes(
    relpath: str, show: str, show_year: int | None, season: int, episode: int, title: str
) -> None:
    found = classify(relpath, 300 * MB)
    assert found.kind is FileKind.EPISODE
    assert (found.show, found.show_year, found.season, found.episode, found.title) == (
        show,
        show_year,
        season,
        episode,
        title,
    )


@pytest.mark.parametrize(("relpath", "title", "year"), MOVIES)
def test_movies(relpath: str, title: str, year: int | None) -> None:
    found = classify(relpath, 2000 * MB)
    assert (found.kind, found.title, found.year) == (FileKind.MOVIE, title, year)


def test_multi_episode_files_are_their_first_episode_and_remember_the_last() -> None:
    found = classify("Show.Name.S01E01E02.mkv")
    assert (found.episode, found.last_episode) == (1, 2)
    assert classify("Show.Name.S01E01-E03.mkv").last_episode == 3


def test_date_based_episodes_use_the_year_as_season() -> None:
    found = classify("The.Daily.Show.2024.03.15.mkv")
    assert (found.season, found.episode, found.aired) == (2024, 315, "2024-03-15")


def test_show_identity_ignores_case_and_punctuation_and_prefers_the_folder_spelling() -> None:
    loose_lower = classify("dark.s01e01.mkv")
    loose = classify("Dark.S01E02.mkv")
    in_folder = classify("TV/Dark/Dark.S01E03.mkv")
    assert loose_lower.show_key == loose.show_key == in_folder.show_key == "dark"
    assert in_folder.show_from_folder and not loose.show_from_folder
    assert classify("Doctor Who (2005)/Doctor.Who.S01E01.mkv").show_key == "doctor who 2005"
    assert title_key("Law & Order") == title_key("law.and.order")


def test_shows_in_a_category_folder_are_named_by_their_files() -> None:
    found = classify("TV Shows/Show.Name.S01E02.mkv")
    assert (found.show, found.show_from_folder) == ("Show Name", False)


@pytest.mark.parametrize(
    ("relpath", "title"),
    [
        ("Inception (2010)/Extras/Making Of.mkv", "Inception (2010) \u2013 Making Of"),
        ("Inception (2010)/Featurettes/Dreams.mkv", "Inception (2010) \u2013 Dreams"),
        ("Inception (2010)/Inception (2010)-trailer.mp4", "Inception (2010) \u2013 Trailer"),
        ("Dark/Extras/Behind the scenes.mkv", "Dark \u2013 Behind the scenes"),
        ("Trailers/Coming Soon.mkv", "Coming Soon"),
    ],
)
def test_extras_go_to_other_never_to_movies(relpath: str, title: str) -> None:
    found = classify(relpath, 50 * MB)
    assert (found.kind, found.title) == (FileKind.EXTRA, title)


@pytest.mark.parametrize(
    "relpath",
    ["Movie.2019.1080p-sample.mkv", "Movie (2019)/Sample/movie.mkv", "Show.S01E01.sample.mkv", "sample.mkv"],
)
def test_small_release_samples_are_not_listed(relpath: str) -> None:
    assert classify(relpath, 40 * MB).kind is FileKind.IGNORED


def test_sample_in_a_title_or_a_big_file_is_not_a_release_sample() -> None:
    found = classify("The.Sample.2019.1080p.mkv", 40 * MB)
    assert (found.kind, found.title, found.year) == (FileKind.MOVIE, "The Sample", 2019)
    assert classify("The.Sample.Show.S01E01.mkv", 40 * MB).kind is FileKind.EPISODE
    assert classify("Movie.2019.1080p-sample.mkv", 4000 * MB).kind is FileKind.MOVIE


# Names the fast path decides; guessit must read every one the same way.
AGREEMENT = [
    "Show.Name.S01E02.mkv",
    "Show/Season 1/02 - Title.mkv",
    "Dark/Dark.S01E02.mkv",
    "dark.s01e01.mkv",
    "Doctor.Who.2005.S01E01.Rose.mkv",
    "Doctor Who (2005)/Season 1/Doctor.Who.2005.S01E01.Rose.mkv",
    "Blade.Runner.2049.2017.2160p.mkv",
    "show.1x02.mkv",
    "The.Office.US.S02E01E02.720p.HDTV.mkv",
    "Show.Name.S01E01-E03.mkv",
    "Show.S00E03.Special.mkv",
    "Show/Specials/01 - Pilot.mkv",
    "The.Daily.Show.2024.03.15.Guest.Name.mkv",
    "[SubGroup] One Piece - 1071 [1080p].mkv",
    "One Piece/[SubGroup] One Piece - 1071 [1080p].mkv",
    "Movies/Inception (2010)/Inception (2010) - 1080p.mkv",
    "2001.A.Space.Odyssey.1968.mkv",
    "1917.2019.1080p.mkv",
    "Schindler's.List.1993.BluRay.mkv",
    "Marvels.Agents.of.S.H.I.E.L.D.S01E01.mkv",
    "Breaking Bad/Season 2/breaking.bad.s02e03.720p.mkv",
    "Show/S01E02.mkv",
    "The.Matrix.1999.1080p.BluRay.x264-GROUP.mkv",
    "Alien (1979) [Director's Cut].mkv",
    "Dark/Season 1/Dark - S01E03 - Secrets.mkv",
    "Some Movie 2019.mkv",
    "Star Wars Episode IV (1977).mkv",
    "Show.Name.S01E02.The.Proper.Way.720p.WEB.x264-GRP.mkv",
    "Inception (2010)/Extras/Making Of.mkv",
]


def _meaning(found: Classification) -> tuple[object, ...]:
    """What a person sees, with spelling differences guessit and we may have ("The Office (US)")."""
    return (
        found.kind,
        found.show_key,
        found.season,
        found.episode,
        found.last_episode,
        title_key(found.title),
        found.year,
    )


@pytest.mark.parametrize("relpath", AGREEMENT)
def test_fast_path_and_guessit_agree(relpath: str) -> None:
    fast = classify_fast(relpath, 900 * MB)
    assert fast is not None, "the fast path should decide this shape"
    assert fast.parser == "fast"
    guessed = classify_guessit(relpath, 900 * MB)
    assert _meaning(fast) == _meaning(guessed)


@pytest.mark.parametrize(
    "relpath",
    [
        "Inception.mkv",
        "Mastercook Italia - Stagione 6 (2016) 720p ep13 spyro.mkv",
        "Show/Season 1/Show - 02 - Title.mkv",
        "Blade.Runner.2049.mkv",
    ],
)
def test_names_the_fast_path_cannot_decide_go_to_guessit(relpath: str) -> None:
    assert classify_fast(relpath) is None
    assert classify(relpath).parser == "guessit"


# Issue 14's table: (path, kind, show or movie title, year, season, episode, last episode, air date).
ISSUE_14 = [
    ("Show/Season 2009/S2009E02 blah.avi", FileKind.EPISODE, "Show", None, 2009, 2, None, None),
    (
        "Some.Show.S01.1080p.WEB-DL.x264-GRP/Some.Show.S01E01.mkv",
        FileKind.EPISODE,
        "Some Show",
        None,
        1,
        1,
        None,
        None,
    ),
    ("Panorama/Panorama.15-05-2018.mp4", FileKind.EPISODE, "Panorama", None, 2018, 515, None, "2018-05-15"),
    ("Show.2017.E07.mkv", FileKind.EPISODE, "Show", 2017, 1, 7, None, None),
    (
        "Caprica (2008)/Season 1/Apotheosis_1920x1080.mp4",
        FileKind.EPISODE,
        "Caprica",
        2008,
        1,
        None,
        None,
        None,
    ),
    ("Bones.S03E01.720p.HDTV.x264-SCENE.mkv", FileKind.EPISODE, "Bones", None, 3, 1, None, None),
    (
        "Inception (2010)/trailer.mp4",
        FileKind.EXTRA,
        "Inception (2010) \u2013 Trailer",
        None,
        None,
        None,
        None,
        None,
    ),
    ("300.trailer.mp4", FileKind.EXTRA, "300 \u2013 Trailer", None, None, None, None, None),
    ("300 - trailer.mp4", FileKind.EXTRA, "300 \u2013 Trailer", None, None, None, None, None),
    ("My Movie (1997) - Group 2019.mp4", FileKind.MOVIE, "My Movie", 1997, None, None, None, None),
    ("Title.DVDRip.XviD-GRP/abc-ttl.avi", FileKind.MOVIE, "Title", None, None, None, None, None),
    ("Show.S01E02.S01E03.mkv", FileKind.EPISODE, "Show", None, 1, 2, 3, None),
    ("Show 02x03-04-15.mkv", FileKind.EPISODE, "Show", None, 2, 3, 15, None),
]


# Names of guessit's own tests that the fast path read worse than guessit (issue 14: never worse
# than guessit on a name it gets right), in ISSUE_14's columns.
GUESSIT_GETS_RIGHT = [
    ("FoV-Show.Name.S01E01.720p.HDTV.x264.mkv", FileKind.EPISODE, "Show Name", None, 1, 1, None, None),
    (
        "超能警探.Memorist.S01E01.2160p.WEB-DL.H265.AAC-FLTTH.mkv",
        FileKind.EPISODE,
        "Memorist",
        None,
        1,
        1,
        None,
        None,
    ),
    (
        "Show.Name.1x01.eps1.0.hellofriend.(HDiTunes.Ac3.Esp).(2015).By.Malaguita.avi",
        FileKind.EPISODE,
        "Show Name",
        2015,
        1,
        1,
        None,
        None,
    ),
    (
        "Project.Runway.S14E00.and.S14E01.(Eng.Subs).SDTV.x264-[2Maverick].mp4",
        FileKind.EPISODE,
        "Project Runway",
        None,
        14,
        0,
        1,
        None,
    ),
    (
        "Millenium Trilogy (2009) BRrip 720 AAC x264/(1)The Girl With The Dragon Tattoo (2009) BRrip 720 AAC x264.mkv",
        FileKind.MOVIE,
        "The Girl With The Dragon Tattoo",
        2009,
        None,
        None,
        None,
        None,
    ),
    (
        "Movies/Fr - Paris 2054, Renaissance (2005) - De Christian Volckman - (Film Divx).avi",
        FileKind.MOVIE,
        "Paris 2054, Renaissance",
        2005,
        None,
        None,
        None,
        None,
    ),
    (
        "__ Incomplete __/Dr Slump (Catalan)/Dr._Slump_-_003_DVB-Rip_Catalan_by_kelf.avi",
        FileKind.EPISODE,
        "Dr Slump",
        None,
        1,
        3,
        None,
        None,
    ),
]


@pytest.mark.parametrize(
    ("relpath", "kind", "title", "year", "season", "episode", "last", "aired"),
    [*ISSUE_14, *GUESSIT_GETS_RIGHT],
)
def test_the_names_of_issue_14_list_as_a_person_expects(
    relpath: str,
    kind: FileKind,
    title: str,
    year: int | None,
    season: int | None,
    episode: int | None,
    last: int | None,
    aired: str | None,
) -> None:
    found = classify(relpath, 900 * MB)
    named = (found.show, found.show_year) if kind is FileKind.EPISODE else (found.title, found.year)
    assert (found.kind, *named) == (kind, title, year)
    assert (found.season, found.episode, found.last_episode, found.aired) == (season, episode, last, aired)


def test_a_release_group_named_like_an_extra_suffix_is_not_an_extra() -> None:
    assert classify("Heat.1995.1080p.BluRay.x264-SHORT.mkv", 900 * MB).kind is FileKind.MOVIE
    assert classify("Monk.S03E01.720p.HDTV.x264-TRAILER.mkv", 900 * MB).kind is FileKind.EPISODE
    assert classify("Heat (1995)/Heat (1995)-short.mkv", 90 * MB).kind is FileKind.EXTRA


def test_an_extra_in_a_season_folder_belongs_to_its_show() -> None:
    found = classify("Dark/Season 1/Behind The Scenes/Making of.mkv", 90 * MB)
    assert (found.kind, found.title) == (FileKind.EXTRA, "Dark \u2013 Making of")


@pytest.mark.parametrize(
    ("relpath", "part"),
    [
        ("Movies/Heat (1995)/Heat (1995) - cd1.avi", 1),
        ("Movies/Heat (1995)/Heat (1995) - cd2.avi", 2),
        ("Heat.1995.DVDRip.XviD-GRP/heat.1995.cd2.avi", 2),
        ("Heat (1995) - part2.mkv", 2),
        ("Heat (1995)/Heat - disc1.mkv", 1),
        ("Heat (1995) pt1.mkv", 1),
    ],
)
def test_parts_of_a_movie_are_that_movie_with_a_part_number(relpath: str, part: int) -> None:
    found = classify(relpath, 700 * MB)
    assert (found.kind, found.title, found.year, found.part) == (FileKind.MOVIE, "Heat", 1995, part)


@pytest.mark.parametrize(
    ("relpath", "title"),
    [
        ("Films/Charlottes.Web.mkv", "Charlottes Web"),  # guessit reads "Web" as a source
        ("VID_20190503_181512.mp4", "VID 20190503 181512"),  # guessit reads "VID"
        ("Baraka_Edition_Collector.avi", "Baraka"),  # guessit knows editions
        ("Die.Schluempfe.2.German.DL.1080p.BluRay.x264-EXQUiSiTE.mkv", "Die Schluempfe 2"),
    ],
)
def test_names_without_a_year_take_guessits_title_unless_it_is_a_fragment(relpath: str, title: str) -> None:
    found = classify(relpath, 900 * MB)
    assert (found.kind, found.title, found.parser) == (FileKind.MOVIE, title, "guessit")


# -- in a folder and in the cache -------------------------------------------------------------------


def _write(root: Path, relpaths: list[str]) -> None:
    for relpath in relpaths:
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"not real media\n")


async def test_a_movie_in_parts_lists_once_as_its_first_part(tmp_path: Path) -> None:
    _write(
        tmp_path,
        [
            "Movies/Heat (1995)/Heat (1995) - cd1.avi",
            "Movies/Heat (1995)/Heat (1995) - cd2.avi",
            "Movies/Ronin (1998)/Ronin (1998) - part2.mkv",  # its first part is missing: listed all the same
        ],
    )
    async with LocalBackend("parts", str(tmp_path)) as backend:
        listed = [
            item
            async for page in backend.list_items(MOVIES_LIBRARY, SyncContext(full=True))
            for item in page.items
        ]
        assert sorted((item.title, item.year, item.remote_id) for item in listed) == [
            ("Heat", 1995, "Movies/Heat (1995)/Heat (1995) - cd1.avi"),
            ("Ronin", 1998, "Movies/Ronin (1998)/Ronin (1998) - part2.mkv"),
        ]
        stream = await backend.get_stream_url(listed[0] if listed[0].title == "Heat" else listed[1])
        assert stream.endswith("cd1.avi")


# What the rules before NAMING_RULES 2 made of these names (issue 14's "reeld now" column).
OLD_RULES = {
    "Caprica (2008)/Season 1/Apotheosis_1920x1080.mp4": Classification(FileKind.MOVIE, "Caprica", 2008),
    "Bones.S03E01.720p.HDTV.x264-SCENE.mkv": Classification(
        FileKind.EXTRA, "Bones S03E01 720p HDTV x264 \u2013 Scene"
    ),
    "Some.Show.S01.1080p.WEB-DL.x264-GRP/Some.Show.S01E01.mkv": Classification(
        FileKind.EPISODE,
        "",
        show="Some Show S01 1080p WEB-DL x264-GRP",
        show_from_folder=True,
        season=1,
        episode=1,
    ),
}


async def _synced_daemon(paths: Paths, root: Path | None) -> tuple[Daemon, str]:
    """A running daemon once its local folder (added now, or from the config) has synced."""
    daemon = Daemon(paths, watch_network=False)
    finished: asyncio.Queue[ev.SyncFinished] = asyncio.Queue()

    def on_event(event: ev.Event) -> None:
        if isinstance(event, ev.SyncFinished):
            finished.put_nowait(event)

    daemon.events.subscribe(on_event)
    await daemon.start()
    await daemon.run()
    if root is not None:
        source = await daemon.add_local_folder(str(root))
    else:
        (source,) = daemon.coordinator.runtimes  # synced as the daemon starts
    assert (await asyncio.wait_for(finished.get(), 20)).success
    return daemon, source


async def test_items_named_by_older_rules_are_named_again_on_upgrade_keeping_their_watch_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "media"
    parts = ["Heat (1995)/Heat (1995) - cd1.avi", "Heat (1995)/Heat (1995) - cd2.avi"]
    _write(root, [*OLD_RULES, *parts, "Ronin (1998)/Ronin (1998).mkv"])
    paths = Paths(config_dir=tmp_path / "config", state_dir=tmp_path / "state")
    # A cache written by the older rules: their names, and etags without the rules' version.
    monkeypatch.setattr(
        local_backend, "classify", lambda relpath, size=0: OLD_RULES.get(relpath) or classify(relpath, size)
    )
    monkeypatch.setattr(scan.FileStat, "etag", property(lambda file: f"{file.size}:{file.mtime_ns}"))
    monkeypatch.setattr(scan, "is_later_part", lambda file, found: False)  # each part was a movie
    is_extra = local_backend._is_extra
    monkeypatch.setattr(
        local_backend,
        "_is_extra",
        lambda file: (
            (file.relpath in OLD_RULES and OLD_RULES[file.relpath].kind is FileKind.EXTRA) or is_extra(file)
        ),
    )
    daemon, source = await _synced_daemon(paths, root)
    try:
        assert (
            await daemon.get_item(f"{source}:Bones.S03E01.720p.HDTV.x264-SCENE.mkv")
        ).library_id == "other"
        assert set(parts) <= await daemon.db.read(queries.cached_remote_ids, source, "movies")
        for relpath in [*OLD_RULES, parts[0]]:
            await daemon.set_watched(f"{source}:{relpath}", True)
    finally:
        await stop(daemon)

    monkeypatch.undo()  # the upgrade
    daemon, source = await _synced_daemon(paths, None)
    try:
        caprica = await daemon.get_item(f"{source}:Caprica (2008)/Season 1/Apotheosis_1920x1080.mp4")
        bones = await daemon.get_item(f"{source}:Bones.S03E01.720p.HDTV.x264-SCENE.mkv")
        some = await daemon.get_item(f"{source}:Some.Show.S01.1080p.WEB-DL.x264-GRP/Some.Show.S01E01.mkv")
        assert (caprica.kind, caprica.library_id, caprica.show_title) == ("episode", "shows", "Caprica")
        assert (bones.kind, bones.library_id, bones.show_title, bones.idx) == ("episode", "shows", "Bones", 1)
        assert some.show_title == "Some Show"
        assert caprica.watched and bones.watched and some.watched
        shows = await daemon.db.read(queries.cached_remote_ids, source, "shows")
        assert {rid for rid in shows if rid.startswith("show:")} == {
            "show:caprica 2008",
            "show:bones",
            "show:some show",
        }
        # The movie in parts is one movie now, its first part, still watched.
        movies = await daemon.db.read(queries.cached_remote_ids, source, "movies")
        assert movies == {parts[0], "Ronin (1998)/Ronin (1998).mkv"}
        assert (await daemon.get_item(f"{source}:{parts[0]}")).watched
    finally:
        await stop(daemon)


@pytest.mark.parametrize(
    ("relpath", "season", "first", "last"),
    [
        ("Elementary/Season 2/Elementary - 02x03 - 02x04 - 02x15 - The Woman.mp4", 2, 3, 15),
        ("Elementary/Season 2/02x03 - x04 - x15 - Ep Name.mp4", 2, 3, 15),
        ("Elementary/Season 02/02x03x04x15 - Ep Name.mp4", 2, 3, 15),
        ("Elementary/Season 02/Elementary - 02x03-E15 - Ep Name.mp4", 2, 3, 15),
        ("Elementary/Season 2/02x03 - 04 Ep Name.mp4", 2, 3, None),  # 04 starts the title
        ("Elementary/Season 1/02-03 - blah.avi", 1, 2, 3),
        ("Elementary/Season 1/series-s09e14-1080p.mkv", 9, 14, None),
        ("Moonlighting/Season 1/MOONLIGHTING_s01e01-e04.mkv", 1, 1, 4),
    ],
)
def test_multi_episode_files_as_jellyfin_and_kodi_name_them(
    relpath: str, season: int, first: int, last: int | None
) -> None:
    found = classify(relpath, 900 * MB)
    assert (found.kind, found.season, found.episode, found.last_episode) == (
        FileKind.EPISODE,
        season,
        first,
        last,
    )


def test_a_release_groups_tag_is_not_part_of_a_shows_name() -> None:
    assert classify("[Judas] Kaguya-sama - S03E05.mkv", 900 * MB).show == "Kaguya-sama"


def test_a_bare_three_digit_number_is_not_a_special() -> None:
    # guessit reads "003" as season 0, episode 3: Specials, where nobody would look for it.
    found = classify("003. Show Name - Ep Name.avi", 900 * MB)
    assert (found.kind, found.show, found.season, found.episode) == (FileKind.EPISODE, "Show Name", 1, 3)


@pytest.mark.parametrize("relpath", ["Home Videos/clip.mp4", "Camera/other.mp4", "The Big Short (2015).mkv"])
def test_words_of_extras_alone_or_in_titles_are_not_extras(relpath: str) -> None:
    assert classify(relpath, 900 * MB).kind is FileKind.MOVIE


def test_a_file_named_after_its_shows_folder_and_a_number_is_that_episode() -> None:
    found = classify("GJ Club (2013)/GJ Club - 07.mkv", 900 * MB)
    assert (found.kind, found.show, found.show_year, found.season, found.episode) == (
        FileKind.EPISODE,
        "GJ Club",
        2013,
        1,
        7,
    )
    # Elsewhere "Title - 07" is not sure enough to be an episode: guessit decides.
    assert classify_fast("Films/Dune - 07.mkv", 900 * MB) is None


@pytest.mark.parametrize(
    "relpath",
    [
        "進撃の巨人.S03E03.1080p.WEB.x264.mkv",
        "Brooklyn.Nine-Nine.S11E21.1080p.mkv",
        "It - Chapter Two (2019).mkv",
    ],
)
def test_names_like_those_left_to_guessit_stay_on_the_fast_path(relpath: str) -> None:
    # "It - Chapter Two" is no language before a title: guessit would title it "It".
    assert classify_fast(relpath, 900 * MB) is not None
