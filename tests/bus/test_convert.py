"""Cached rows as API v1 items: the keys and D-Bus types a frontend reads, unknown values left out."""

from typing import Any

from dbus_fast import Variant

from reeld.bus.convert import item_to_dbus
from reeld.cache.browse import BROWSE_COLUMNS


def row(**values: Any) -> list[Any]:
    """A browse row with every column NULL except ``values``."""
    base: dict[str, Any] = {"source_id": "jellyfin_abc", "remote_id": "e1", "library_id": "tv", "watched": 0}
    base.update(values)
    return [base.get(column) for column in BROWSE_COLUMNS]


def plain(item: dict[str, Variant]) -> dict[str, tuple[str, Any]]:
    return {key: (variant.signature, variant.value) for key, variant in item.items()}


def test_an_episode_has_every_known_value_with_its_type() -> None:
    item = item_to_dbus(
        row(
            parent_id="s1",
            kind="episode",
            title="Pilot",
            year=2019,
            summary="It starts.",
            duration_ms=1_800_000,
            idx=1,
            parent_idx=2,
            show_title="The Show",
            added_at=1_600_000_000,
            updated_at=1_600_000_100,
            rating=8,
            thumb="http://host/thumb",
            watched=1,
            position_ms=60_000,
            view_count=3,
            last_viewed_at=1_700_000_000,
        )
    )
    assert plain(item) == {
        "id": ("s", "jellyfin_abc:e1"),
        "source": ("o", "/io/github/reeld/Reeld1/sources/jellyfin_abc"),
        "library": ("o", "/io/github/reeld/Reeld1/sources/jellyfin_abc/libraries/tv"),
        "parent_id": ("s", "jellyfin_abc:s1"),
        "watched": ("b", True),
        "kind": ("s", "episode"),
        "title": ("s", "Pilot"),
        "year": ("u", 2019),
        "summary": ("s", "It starts."),
        "duration_ms": ("t", 1_800_000),
        "index": ("u", 1),
        "parent_index": ("u", 2),
        "show_title": ("s", "The Show"),
        "added_at": ("t", 1_600_000_000),
        "updated_at": ("t", 1_600_000_100),
        "rating": ("d", 8.0),
        "thumb": ("s", "http://host/thumb"),
        "position_ms": ("t", 60_000),
        "view_count": ("u", 3),
        "last_viewed_at": ("t", 1_700_000_000),
    }


def test_unknown_and_empty_values_are_left_out_and_zero_is_kept() -> None:
    item = item_to_dbus(row(kind="movie", title="Film", summary="", thumb="", view_count=0, position_ms=0))
    assert plain(item) == {
        "id": ("s", "jellyfin_abc:e1"),
        "source": ("o", "/io/github/reeld/Reeld1/sources/jellyfin_abc"),
        "library": ("o", "/io/github/reeld/Reeld1/sources/jellyfin_abc/libraries/tv"),
        "watched": ("b", False),
        "kind": ("s", "movie"),
        "title": ("s", "Film"),
        "view_count": ("u", 0),
        "position_ms": ("t", 0),
    }


def test_a_negative_server_value_becomes_zero_instead_of_breaking_the_reply() -> None:
    item = item_to_dbus(row(kind="movie", title="Film", duration_ms=-5, year=-1, added_at=-10))
    assert plain(item)["duration_ms"] == ("t", 0)
    assert plain(item)["year"] == ("u", 0)
    assert plain(item)["added_at"] == ("t", 0)


def test_ids_that_are_not_valid_in_object_paths_are_escaped_in_paths_only() -> None:
    item = item_to_dbus(row(source_id="local_ab", remote_id="Movies/Film (2001).mkv", library_id="Movies"))
    assert item["id"].value == "local_ab:Movies/Film (2001).mkv"
    assert item["library"].value.startswith("/io/github/reeld/Reeld1/sources/local_ab/libraries/")
    assert all(ch.isalnum() or ch in "/_" for ch in item["library"].value)
