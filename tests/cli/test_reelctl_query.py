"""``reelctl query`` and ``reelctl next-up`` against the real daemon on a private bus, with the small
local folder of the reelctl tests (three films, a show of three episodes)."""

# ruff: noqa: F811  (the shared fixtures are imported, and named again by the tests that use them)

import pytest

from tests.cli.test_reelctl import (  # noqa: F401  (fixtures: pytest finds them here)
    Reelctl,
    added,
    bus,
    media,
    reelctl,
    reeld,
)


def test_query_filters_sorts_and_says_how_many_match(reelctl: Reelctl) -> None:
    result = reelctl("query", "Movies", "--filter", "year_min=1980", "--sort", "-year")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[1].index("Blade Runner") and lines[2].index("The Matrix")  # oldest first: reversed
    assert lines[-1].startswith("1-2 of 2 matching in ")

    listed = reelctl("--json", "query", "Movies", "--filter", "watched=no", "--limit", "1")
    assert listed.code == 0, listed.err
    page = listed.json()
    assert page["total"] == 3 and len(page["items"]) == 1

    episodes = reelctl("--json", "query", "TV Shows", "--filter", "kind=episode", "--filter", "text=dark")
    assert sorted((i["parent_index"], i["index"]) for i in episodes.json()["items"]) == [
        (1, 1),
        (1, 2),
        (2, 1),
    ]


def test_next_up_follows_what_was_watched(reelctl: Reelctl) -> None:
    assert "Nothing to go on with" in reelctl("next-up").out
    first = next(
        item["id"]
        for item in reelctl("--json", "query", "TV Shows", "--filter", "kind=episode").json()["items"]
        if (item["parent_index"], item["index"]) == (1, 1)
    )
    assert reelctl("watched", first).code == 0
    result = reelctl("--json", "next-up")
    assert result.code == 0, result.err
    (episode,) = result.json()
    assert (episode["show_title"], episode["parent_index"], episode["index"]) == ("Dark", 1, 2)
    assert reelctl("unwatched", first).code == 0


def test_bad_filters_and_sorts_exit_4_saying_what_is_wrong(reelctl: Reelctl) -> None:
    maybe = reelctl("query", "Movies", "--filter", "watched=maybe")
    assert maybe.code == 4 and "filter watched is true or false, not 'maybe'" in maybe.err
    colour = reelctl("query", "Movies", "--filter", "colour=red")
    assert colour.code == 4 and "InvalidArgument: unknown filter key 'colour'" in colour.err
    kind = reelctl("query", "Movies", "--filter", "kind=dinosaur")
    assert kind.code == 4 and "unknown kind 'dinosaur'" in kind.err
    with pytest.raises(SystemExit) as stopped:  # a malformed option: argparse stops the command
        reelctl("query", "Movies", "--sort", "-popularity")
    assert stopped.value.code == 4
