"""The vocabulary of API 1.1 browsing (``Library.Query``), shared by the daemon and reelctl."""

#: The filter keys of ``Library.Query`` and the D-Bus type each takes.
FILTER_TYPES: dict[str, str] = {
    "kind": "s",
    "watched": "b",
    "in_progress": "b",
    "genre": "s",
    "year_min": "u",
    "year_max": "u",
    "added_since": "t",
    "text": "s",
}

#: The sorts of ``Library.Query``: those of ``ListItems``, then the latest viewed first, and a
#: shuffle. A leading ``-`` reverses any of them.
QUERY_SORTS: tuple[str, ...] = ("title", "added", "year", "rating", "last_viewed", "random")
