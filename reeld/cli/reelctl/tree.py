"""reeld's object tree as reelctl reads it, and finding an account, source or library by what a person types.

A person may name an object by its D-Bus path, its id (the last path element), or a name
(an account's display name or folder, a source's name, a library's title or ``source/title``).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reeld.bus.constants import ACCOUNT_IFACE, LIBRARY_IFACE, SOURCE_IFACE, escape_id
from reeld.cli.reelctl.client import Objects
from reeld.cli.reelctl.errors import InvalidArgument, NotFound, ReelctlError

Entry = dict[str, Any]


def object_id(path: str) -> str:
    return path.rsplit("/", 1)[-1]


@dataclass(frozen=True, slots=True)
class Tree:
    """A snapshot of ``GetManagedObjects``: one list per interface, each entry its properties plus ``path``."""

    objects: Objects

    def entries(self, interface: str) -> list[Entry]:
        return [
            {"path": path, **interfaces[interface]}
            for path, interfaces in self.objects.items()
            if interface in interfaces
        ]

    @property
    def accounts(self) -> list[Entry]:
        """By name, so the order is the same in every run."""
        return sorted(
            self.entries(ACCOUNT_IFACE), key=lambda e: (str(e.get("DisplayName", "")).casefold(), e["path"])
        )

    @property
    def sources(self) -> list[Entry]:
        """By name, so the order is the same in every run."""
        return sorted(
            self.entries(SOURCE_IFACE), key=lambda e: (str(e.get("Name", "")).casefold(), e["path"])
        )

    @property
    def libraries(self) -> list[Entry]:
        """Libraries grouped by source (in the order of ``sources``), then by title."""
        order = {source["path"]: n for n, source in enumerate(self.sources)}
        return sorted(
            self.entries(LIBRARY_IFACE),
            key=lambda lib: (
                order.get(lib.get("Source", ""), len(order)),
                str(lib.get("Title", "")).casefold(),
            ),
        )

    def source_name(self, path: str) -> str:
        source = self.objects.get(path, {}).get(SOURCE_IFACE)
        return str(source.get("Name") or object_id(path)) if source else object_id(path)

    def library_label(self, library: Entry) -> str:
        """``source name/library title``: how ``reelctl ls`` can name a library unambiguously."""
        return f"{self.source_name(library.get('Source', ''))}/{library.get('Title', '')}"

    def label(self, path: str) -> str:
        """A short human name for any reeld object path."""
        interfaces = self.objects.get(path, {})
        for interface, key in ((SOURCE_IFACE, "Name"), (ACCOUNT_IFACE, "DisplayName")):
            if interface in interfaces and interfaces[interface].get(key):
                return str(interfaces[interface][key])
        if LIBRARY_IFACE in interfaces:
            return self.library_label(interfaces[LIBRARY_IFACE])
        return object_id(path)

    # -- finding what a person named ---------------------------------------------------------------

    def account(self, ref: str) -> Entry:
        return _find(
            self.accounts,
            ref,
            "account",
            lambda a: [str(a.get("DisplayName", "")), str(a.get("Identity", ""))],
        )

    def source(self, ref: str) -> Entry:
        return _find(self.sources, ref, "source", lambda s: [str(s.get("Name", ""))])

    def library(self, ref: str) -> Entry:
        try:
            return _find(
                self.libraries,
                ref,
                "library",
                lambda lib: [str(lib.get("Title", "")), self.library_label(lib)],
            )
        except NotFound as not_a_library:
            try:
                source = self.source(ref.strip().rstrip("/"))
            except ReelctlError:
                raise not_a_library from None
            labels = [
                repr(self.library_label(lib)) for lib in self.libraries if lib.get("Source") == source["path"]
            ]
            raise NotFound(
                f"{ref.strip()!r} is a source, not a library: name one of its libraries, "
                f"{', '.join(labels) or 'when it has some'}"
            ) from None


def _find(entries: list[Entry], ref: str, what: str, names: Callable[[Entry], list[str]]) -> Entry:
    """The one entry ``ref`` names: exact path, id, exact name, then a case-insensitive name."""
    plural = "libraries" if what == "library" else f"{what}s"
    ref = ref.strip()
    if what == "library" and len(ref) > 1:
        ref = ref.rstrip("/")  # "Home/TV Shows/", as a shell completes a path
    if not ref:
        raise InvalidArgument(f"{what} must not be empty")
    folded = ref.casefold()
    # A folder is named by its path too, so a leading "/" is not always an object path.
    for matches in (
        lambda entry: entry["path"] == ref,
        lambda entry: object_id(entry["path"]) in (ref, escape_id(ref)),
        lambda entry: ref in names(entry),
        lambda entry: folded in (name.casefold() for name in names(entry)),
    ):
        found = [entry for entry in entries if matches(entry)]
        if found:
            break
    if not found:
        raise NotFound(f"no {what} {ref!r} (see 'reelctl {plural}')")
    if len(found) > 1:
        hints = sorted(_hint(what, entry, names) for entry in found)
        how = "as Source/Title, as listed" if what == "library" else "by its id or path"
        if len(set(hints)) < len(hints):  # two sources of one name: only their paths tell them apart
            hints, how = sorted(repr(entry["path"]) for entry in found), "by its path"
        tree_hint = ", ".join(hints)
        raise InvalidArgument(f"{ref!r} matches {len(found)} {plural}: {tree_hint}; name one {how}")
    return found[0]


def _hint(what: str, entry: Entry, names: Callable[[Entry], list[str]]) -> str:
    labels = names(entry)
    if what == "library":
        return repr(labels[-1])  # source/title
    return f"{object_id(entry['path'])} ({labels[0]})"
