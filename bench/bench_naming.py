"""How well local folders are named: per-field scores on a corpus of real-world path shapes.

Reads ``tests/data/naming_corpus.tsv`` (and any extra TSV of the same columns passed on the command
line: names kept outside the project) and prints, per field, the share of names read right by:

- reeld (``classify``: the fast path, and guessit for what it leaves);
- the fast path alone, on the names it decides (with the share it decides);
- guessit alone, asked about the whole relative path, its answer mapped to reeld's conventions
  (a dated episode is season = year, episode = month*100+day; absolute numbering is season 1).

It also lists the fields reeld gets wrong on names guessit alone gets right (target: none).

Columns: ``path kind title year season episode episode_end aired`` (tab-separated; ``#`` lines are
comments). ``kind`` is movie, episode, extra or ignored; ``title`` the movie's, the show's or, for
an extra, its owner's; ``year`` the movie's or the show's.

``--guessit-tests`` adds a set of real-world names kept outside the project: those of guessit's
own test suite (installed with it), with guessit's expected answers in reeld's terms (a show's
country is part of its title, "The Office (US)"). guessit alone scores near 100 % there by
construction; what it shows is where reeld's rules differ from guessit's.

Run: ``.venv/bin/python bench/bench_naming.py [--no-guessit] [--guessit-tests] [--misses N] [extra.tsv ...]``.
"""

import argparse
import csv
import re
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from reeld.backends.local.classify import Classification, FileKind, classify, classify_fast, title_key

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "naming_corpus.tsv"
FIELDS = ("kind", "title", "year", "season", "episode", "aired")
MB = 1024 * 1024
# Release samples are small; everything else is scored as a full-size file.
SIZE_OF_KIND = {"ignored": 50 * MB}
FULL_SIZE = 1500 * MB


@dataclass(frozen=True, slots=True)
class Expected:
    path: str
    kind: str
    title: str
    year: int | None
    season: int | None
    episode: int | None
    episode_end: int | None
    aired: str | None
    #: False where the source does not say (guessit's tests leave out what they do not check).
    year_known: bool = True

    @property
    def size(self) -> int:
        return SIZE_OF_KIND.get(self.kind, FULL_SIZE)


@dataclass(frozen=True, slots=True)
class Reading:
    """One parser's answer, in the corpus's terms."""

    kind: str
    title: str
    year: int | None
    season: int | None
    episode: int | None
    episode_end: int | None
    aired: str | None


def _int_or_none(text: str) -> int | None:
    return int(text) if text.strip() else None


def load_corpus(path: Path) -> list[Expected]:
    with path.open(encoding="utf-8", newline="") as handle:
        lines = [line for line in handle if line.strip() and not line.startswith("#")]
    rows = list(csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [
        Expected(
            path=row["path"],
            kind=row["kind"],
            title=row["title"],
            year=_int_or_none(row["year"]),
            season=_int_or_none(row["season"]),
            episode=_int_or_none(row["episode"]),
            episode_end=_int_or_none(row["episode_end"]),
            aired=row["aired"] or None,
        )
        for row in rows
    ]


_VIDEO_NAME = re.compile(r"\.(?:mkv|avi|mp4|m4v|ts|wmv|mov|mpg|ogm|divx|m2ts|iso)$", re.IGNORECASE)


def guessit_test_names() -> list[Expected]:
    """The names of guessit's own test suite that are video files, as corpus rows."""
    import guessit
    import yaml

    folder = Path(guessit.__file__).parent / "test"
    rows: dict[str, Expected] = {}
    for name, kind in (("episodes.yml", "episode"), ("movies.yml", "movie")):
        cases = yaml.safe_load((folder / name).read_text(encoding="utf-8"))
        for key, answer in cases.items():
            row = _guessit_case(str(key), answer, kind)
            if row is not None:
                rows.setdefault(row.path, row)
    return list(rows.values())


def _guessit_case(key: str, answer: object, kind: str) -> Expected | None:
    if key.startswith(("+", "-", "__")) or not isinstance(answer, dict) or "options" in answer:
        return None
    kind = answer.get("type", kind)
    path = re.sub(r"^[A-Za-z]:", "", key.replace("\\", "/")).lstrip("/")
    title = answer.get("title")
    if kind not in ("episode", "movie") or not _VIDEO_NAME.search(path) or not isinstance(title, str):
        return None
    path = "/".join(path.split("/")[-3:])  # the last folders: what a folder added to reeld holds
    if answer.get("country"):
        title = f"{title} ({answer['country']})"
    year = answer.get("year") if isinstance(answer.get("year"), int) else None
    # A test that does not list a year does not check it (a movie's missing year is checked).
    year_known = kind == "movie" or "year" in answer
    if kind == "movie":
        return Expected(path, "movie", title, year, None, None, None, None)
    episodes, season, aired = (
        answer.get("episode", answer.get("absolute_episode")),
        answer.get("season"),
        None,
    )
    if isinstance(season, list) or (
        isinstance(episodes, list) and not all(isinstance(e, int) for e in episodes)
    ):
        return None
    first = episodes[0] if isinstance(episodes, list) else episodes
    last = episodes[-1] if isinstance(episodes, list) and len(episodes) > 1 else None
    if isinstance(answer.get("date"), date):
        aired = answer["date"].isoformat()
        if first is None:
            season, first = answer["date"].year, answer["date"].month * 100 + answer["date"].day
    if not isinstance(first, int):
        return None
    season = 1 if season is None else season
    return Expected(path, "episode", title, year, season, first, last, aired, year_known=year_known)


def reading_of(found: Classification) -> Reading:
    episode = found.kind is FileKind.EPISODE
    return Reading(
        kind=str(found.kind),
        title=(found.show or "") if episode else found.title,
        year=found.show_year if episode else found.year,
        season=found.season if episode else None,
        episode=found.episode if episode else None,
        episode_end=found.last_episode if episode else None,
        aired=found.aired if episode else None,
    )


def _first(value: object) -> object:
    return value[0] if isinstance(value, list) and value else value


def guessit_reading(relpath: str) -> Reading:
    """guessit alone on the whole relative path, in reeld's conventions (no folder rules of reeld's)."""
    from guessit import guessit

    guess: dict[str, Any] = dict(guessit(relpath))
    other = guess.get("other")
    others = {str(o).lower() for o in (other if isinstance(other, list) else [other] if other else [])}
    title = _first(guess.get("title"))
    year = _first(guess.get("year"))
    if guess.get("type") != "episode":
        kind = "extra" if others & {"trailer", "extras"} else "ignored" if "sample" in others else "movie"
        return Reading(
            kind, str(title or ""), year if isinstance(year, int) else None, None, None, None, None
        )
    episodes = guess.get("episode", guess.get("absolute_episode"))
    first, last = _first(episodes), episodes[-1] if isinstance(episodes, list) and len(episodes) > 1 else None
    season = _first(guess.get("season"))
    aired = guess.get("date")
    if isinstance(aired, date) and not isinstance(first, int):
        season, first = aired.year, aired.month * 100 + aired.day
    return Reading(
        "episode",
        str(title or ""),
        year if isinstance(year, int) else None,
        season if isinstance(season, int) else 1 if isinstance(first, int) else None,
        first if isinstance(first, int) else None,
        last if isinstance(last, int) else None,
        aired.isoformat() if isinstance(aired, date) else None,
    )


def _same_title(expected: Expected, got: str) -> bool:
    want = title_key(expected.title)
    if expected.kind == "extra":
        # An extra's title names its owner ("Inception (2010) - Trailer"): the owner must be in it.
        return not want or f" {want} " in f" {title_key(got)} "
    return want == title_key(got)


def right_fields(expected: Expected, got: Reading) -> dict[str, bool]:
    """Whether each field that applies to this name was read right."""
    right = {"kind": got.kind == expected.kind}
    if expected.kind == "ignored":
        return right
    right["title"] = _same_title(expected, got.title)
    if expected.kind == "extra":
        return right
    if expected.year_known:
        right["year"] = got.year == expected.year
    if expected.kind == "episode":
        right["season"] = got.season == expected.season
        ends = (expected.episode_end,) if expected.episode_end else (None, expected.episode)
        right["episode"] = got.episode == expected.episode and got.episode_end in ends
        right["aired"] = got.aired == expected.aired
    return right


@dataclass(slots=True)
class Score:
    right: dict[str, int]
    total: dict[str, int]
    names: int = 0

    @classmethod
    def empty(cls) -> "Score":
        return cls({f: 0 for f in FIELDS}, {f: 0 for f in FIELDS})

    def add(self, fields: dict[str, bool]) -> None:
        self.names += 1
        for name, ok in fields.items():
            self.total[name] += 1
            self.right[name] += ok

    def share(self, name: str) -> float:
        return 100.0 * self.right[name] / self.total[name] if self.total[name] else 100.0


@dataclass(slots=True)
class Report:
    reeld: Score
    fast: Score
    guessit: Score | None
    #: (path, field, reeld's reading, guessit's reading) where guessit is right and reeld is not.
    worse_than_guessit: list[tuple[str, str, Reading, Reading]]
    #: (path, wrong fields, reeld's reading)
    misses: list[tuple[str, list[str], Reading]]
    seconds: dict[str, float]


def score(
    corpus: Iterable[Expected],
    with_guessit: bool = True,
    reeld: Callable[[str, int], Classification] = classify,
) -> Report:
    report = Report(Score.empty(), Score.empty(), Score.empty() if with_guessit else None, [], [], {})
    report.seconds = {"reeld": 0.0, "fast": 0.0, "guessit": 0.0}
    for expected in corpus:
        started = time.perf_counter()
        mine = reading_of(reeld(expected.path, expected.size))
        report.seconds["reeld"] += time.perf_counter() - started
        mine_right = right_fields(expected, mine)
        report.reeld.add(mine_right)
        wrong = [name for name, ok in mine_right.items() if not ok]
        if wrong:
            report.misses.append((expected.path, wrong, mine))
        started = time.perf_counter()
        fast = classify_fast(expected.path, expected.size)
        report.seconds["fast"] += time.perf_counter() - started
        if fast is not None:
            report.fast.add(right_fields(expected, reading_of(fast)))
        if report.guessit is None:
            continue
        started = time.perf_counter()
        theirs = guessit_reading(expected.path)
        report.seconds["guessit"] += time.perf_counter() - started
        theirs_right = right_fields(expected, theirs)
        report.guessit.add(theirs_right)
        for name, ok in theirs_right.items():
            if ok and not mine_right[name]:
                report.worse_than_guessit.append((expected.path, name, mine, theirs))
    return report


def print_report(label: str, report: Report, misses: int) -> None:
    names = report.reeld.names
    print(f"\n{label}: {names} names")
    header = (
        f"{'field':<8} {'reeld':>8} {'fast path':>10} {'guessit alone':>14}   (names the field applies to)"
    )
    print(header)
    for name in FIELDS:
        theirs = f"{report.guessit.share(name):13.1f}%" if report.guessit else f"{'-':>14}"
        print(
            f"{name:<8} {report.reeld.share(name):7.1f}% {report.fast.share(name):9.1f}% {theirs}"
            f"   ({report.reeld.total[name]})"
        )
    decided = 100.0 * report.fast.names / names if names else 0.0
    print(f"the fast path decides {report.fast.names} of {names} names ({decided:.1f}%)")
    per_name = {key: 1000.0 * value / max(names, 1) for key, value in report.seconds.items() if value}
    print("ms per name: " + ", ".join(f"{key} {value:.2f}" for key, value in per_name.items()))
    if report.guessit is not None:
        print(f"fields reeld gets wrong that guessit alone gets right: {len(report.worse_than_guessit)}")
        for path, field, mine, guessed in report.worse_than_guessit:  # the target is none: all listed
            print(f"  {path}  [{field}]  reeld {mine}  guessit {guessed}")
    for path, wrong, reading in report.misses[:misses]:
        print(f"  miss {path}  {wrong}  {reading}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("extra", nargs="*", type=Path, help="more TSV files of names, same columns")
    parser.add_argument("--no-guessit", action="store_true", help="skip guessit alone (faster)")
    parser.add_argument("--misses", type=int, default=0, help="list up to N misses per corpus")
    parser.add_argument("--guessit-tests", action="store_true", help="also score guessit's own test names")
    args = parser.parse_args()
    for path in [CORPUS, *args.extra]:
        report = score(load_corpus(path), with_guessit=not args.no_guessit)
        print_report(str(path), report, args.misses)
    if args.guessit_tests:
        report = score(guessit_test_names(), with_guessit=not args.no_guessit)
        print_report("guessit's test names", report, args.misses)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
