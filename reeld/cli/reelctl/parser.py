"""reelctl's command line. Imports nothing heavy: ``reelctl --help`` stays instant."""

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from reeld import __version__
from reeld.cli.reelctl.errors import EXIT_CODES_HELP, EXIT_INVALID, EXIT_USAGE
from reeld.validation import MAX_LIMIT

DESCRIPTION = """\
reelctl talks to the reeld daemon over D-Bus: see what it has cached from your Plex and
Jellyfin servers and local folders, browse and search it, add accounts, and sync.
Reads answer from the daemon's cache, so they work offline too."""

EXAMPLES = """\
examples:
  reelctl add-folder ~/Videos --wait
  reelctl libraries
  reelctl ls Movies --sort added --limit 20
  reelctl ls "Home Server/Movies"     # source/title, when two sources have a "Movies"
  reelctl search "blade runner"
  reelctl query Movies --filter watched=false --filter genre=drama --sort -added
  reelctl next-up
  reelctl info ITEM                   # audio and subtitle tracks, chapters, intro and credits
  reelctl play ITEM --audio 2 --subtitle 4 --max-kbps 4000
  reelctl --json ls "TV Shows" | jq '.[].title'
  reelctl sync --full"""

MAX_UINT32 = 2**32 - 1
SORTS = ("title", "added", "year", "rating")
QUERY_SORTS = tuple(f"{sign}{sort}" for sort in (*SORTS, "last_viewed", "random") for sign in ("", "-"))
STATES = ("playing", "paused", "stopped")

#: ``command(name, handler, help)``: adds a subcommand whose handler is ``"module:function"``.
CommandFactory = Callable[[str, str, str], argparse.ArgumentParser]


class MalformedValue(argparse.ArgumentTypeError):
    """A value of the right option that does not parse (``--limit 0``, a position ``abc``): exit
    status 4, a malformed argument, where a wrong command line is 64."""


class ReelctlParser(argparse.ArgumentParser):
    """Usage errors exit with EX_USAGE, keeping exit status 2 for "the daemon is not running"."""

    def error(self, message: str) -> NoReturn:
        self.print_usage()
        self.exit(_exit_status(), f"{self.prog}: error: {message}\n")

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        return super().parse_known_args(_reversed_sorts_joined(args), namespace)


def _reversed_sorts_joined(args: Sequence[str] | None) -> list[str]:
    """``--sort -added`` as ``--sort=-added``: argparse takes a value that starts with - for an option."""
    given = list(sys.argv[1:] if args is None else args)
    joined: list[str] = []
    for token in given:
        if joined and joined[-1] == "--sort" and _reversed_sort(token):
            joined[-1] = f"--sort={token}"
        else:
            joined.append(token)
    return joined


def _reversed_sort(token: str) -> bool:
    return token.startswith("-") and token[1:].replace("_", "").isalpha()


def _exit_status() -> int:
    # argparse calls error() while it handles the ArgumentError it raised for a value whose type
    # function failed, and that ArgumentError's context is the type function's exception.
    handling = sys.exc_info()[1]
    if isinstance(handling, argparse.ArgumentError) and isinstance(handling.__context__, MalformedValue):
        return EXIT_INVALID
    return EXIT_USAGE


def _count(minimum: int, maximum: int = MAX_UINT32) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise MalformedValue(f"not a whole number: {text!r}") from None
        if not minimum <= value <= maximum:
            raise MalformedValue(f"must be between {minimum} and {maximum}: {text!r}")
        return value

    return parse


def _one_of(choices: tuple[str, ...]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in choices:
            raise MalformedValue(f"not one of {', '.join(choices)}: {text!r}")
        return text

    return parse


def _position(text: str) -> int:
    """A playback position as ms, from seconds, ``M:SS`` or ``H:MM:SS``."""
    parts = text.strip().split(":")
    if not 1 <= len(parts) <= 3 or not all(part.isdigit() for part in parts):
        raise MalformedValue(f"not a position (seconds, M:SS or H:MM:SS): {text!r}")
    *larger, seconds = (int(part) for part in parts)
    if larger and (seconds > 59 or (len(larger) == 2 and larger[1] > 59)):
        raise MalformedValue(f"minutes and seconds go up to 59: {text!r}")
    total = 0
    for value in (*larger, seconds):
        total = total * 60 + value
    return total * 1000


def build_parser() -> argparse.ArgumentParser:
    # Global options are accepted before or after the command: the copies on each command
    # default to SUPPRESS so they do not overwrite a value given before it.
    common = ReelctlParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    common.add_argument("--address", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    parser = ReelctlParser(
        prog="reelctl",
        description=DESCRIPTION,
        epilog=f"{EXAMPLES}\n\n{EXIT_CODES_HELP}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="print raw data as JSON, for scripts")
    parser.add_argument(
        "--address", metavar="ADDR", help="D-Bus address of the bus to use (default: the session bus)"
    )
    parser.add_argument("--version", action="version", version=f"reelctl {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, handler: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, parents=[common], help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    _overview_commands(command)
    _browse_commands(command)
    _query_commands(command)
    _sync_commands(command)
    _account_commands(command)
    _server_login_commands(command)
    return parser


def _overview_commands(command: CommandFactory) -> None:
    command("status", "browse:status", "the daemon's state and every source's status")
    command("accounts", "browse:accounts", "list accounts")
    command("sources", "browse:sources", "list sources (servers and folders)")
    command("libraries", "browse:libraries", "list libraries")


def _browse_commands(command: CommandFactory) -> None:
    ls = command("ls", "browse:ls", "list the items of a library")
    ls.add_argument("library", metavar="LIBRARY", help="a library path, title, or 'source/title'")
    ls.add_argument("--offset", type=_count(0), default=0, help="skip this many items (default 0)")
    ls.add_argument(
        "--limit", type=_count(1, MAX_LIMIT), default=50, help="show at most this many (default 50)"
    )
    ls.add_argument("--sort", type=_one_of(SORTS), metavar="{" + ",".join(SORTS) + "}", default="title")

    show = command("show", "browse:show", "one item's details, with the seasons or episodes of a show")
    show.add_argument("item", metavar="ITEM", help="an item id, as listed by ls or search")

    search = command("search", "browse:search", "search every cached library")
    search.add_argument("text", metavar="TEXT")
    search.add_argument(
        "--limit", type=_count(1, MAX_LIMIT), default=25, help="at most this many results (default 25)"
    )

    for name, handler, help_text in (
        ("continue", "browse:continue_watching", "items started but not finished"),
        ("recent", "browse:recently_added", "recently added items"),
    ):
        shelf = command(name, handler, help_text)
        shelf.add_argument(
            "--limit", type=_count(1, MAX_LIMIT), default=20, help="at most this many (default 20)"
        )

    url = command("url", "browse:url", "the URL to stream an item")
    url.add_argument("item", metavar="ITEM")
    info = command("info", "playback:info", "an item's audio and subtitle tracks, chapters and markers")
    info.add_argument("item", metavar="ITEM")
    play = command("play", "playback:play", "the URL to play an item with a choice of tracks and bitrate")
    play.add_argument("item", metavar="ITEM")
    play.add_argument(
        "--audio", type=_count(0), metavar="N", help="the audio track's INDEX, as info lists it"
    )
    play.add_argument("--subtitle", type=_count(0), metavar="N", help="the subtitle's INDEX (burnt in)")
    play.add_argument(
        "--max-kbps",
        type=_count(0, MAX_UINT32 // 1000),
        metavar="N",
        help="at most this bitrate (0: the file as it is)",
    )
    play.add_argument(
        "--start", type=_position, default=0, metavar="POSITION", help="where a transcode starts"
    )
    for name, watched in (("watched", True), ("unwatched", False)):
        mark = command(name, "browse:set_watched", f"mark an item as {name}")
        mark.add_argument("item", metavar="ITEM")
        mark.set_defaults(watched=watched)
    progress = command("progress", "browse:report_progress", "record where playing an item got to")
    progress.add_argument("item", metavar="ITEM")
    progress.add_argument(
        "position", metavar="POSITION", type=_position, help="seconds, M:SS or H:MM:SS (0 clears it)"
    )
    progress.add_argument(
        "--state",
        type=_one_of(STATES),
        metavar="{" + ",".join(STATES) + "}",
        default="stopped",
        help="what the player is doing (default stopped: stopped near the end marks the item watched)",
    )


def _query_commands(command: CommandFactory) -> None:
    query = command("query", "query:query", "a library's items matching filters, with how many match")
    query.add_argument("library", metavar="LIBRARY", help="a library path, title, or 'source/title'")
    query.add_argument(
        "--filter",
        action="append",
        metavar="KEY=VALUE",
        help="kind, watched, in_progress, genre, year_min, year_max, added_since (a date) or text; "
        "repeat for more (all must match)",
    )
    query.add_argument(
        "--sort",
        type=_one_of(QUERY_SORTS),
        metavar="SORT",
        default="title",
        help="title, added, year, rating, last_viewed or random; a leading - reverses (default title)",
    )
    query.add_argument("--offset", type=_count(0), default=0, help="skip this many items (default 0)")
    query.add_argument(
        "--limit", type=_count(1, MAX_LIMIT), default=50, help="show at most this many (default 50)"
    )
    next_up = command("next-up", "query:next_up", "the next episode of each show you are watching")
    next_up.add_argument(
        "--limit", type=_count(1, MAX_LIMIT), default=20, help="at most this many (default 20)"
    )


def _sync_commands(command: CommandFactory) -> None:
    sync = command("sync", "sync:sync", "sync now and show progress until it finishes")
    sync.add_argument("source", metavar="SOURCE", nargs="?", help="a source path, id or name (default: all)")
    sync.add_argument("--full", action="store_true", help="list everything again, not only what changed")
    command("watch", "watch:watch", "print the daemon's signals as they happen, until Ctrl-C")


def _account_commands(command: CommandFactory) -> None:
    folder = command("add-folder", "accounts:add_folder", "add a local folder of videos")
    folder.add_argument("path", metavar="PATH")
    folder.add_argument("--wait", action="store_true", help="wait for its first sync, showing progress")
    remove = command("remove", "accounts:remove", "remove an account and everything cached from it")
    remove.add_argument("account", metavar="ACCOUNT", help="an account path, id, name or folder")
    refresh = command("refresh", "accounts:refresh", "look for an account's servers again")
    refresh.add_argument("account", metavar="ACCOUNT")
    reconnect = command("reconnect", "accounts:reconnect", "try to connect to a source again now")
    reconnect.add_argument("source", metavar="SOURCE")


def _server_login_commands(command: CommandFactory) -> None:
    """Accounts on Jellyfin and Plex servers: secrets come from a prompt or stdin, never argv."""
    jellyfin = command("add-jellyfin", "accounts:add_jellyfin", "add a Jellyfin account")
    jellyfin.add_argument("url", metavar="URL", help="the server, e.g. http://jellyfin.local:8096")
    how = jellyfin.add_mutually_exclusive_group(required=True)
    how.add_argument("--user", metavar="NAME", help="log in as NAME (the password is prompted for)")
    how.add_argument(
        "--quick-connect", action="store_true", help="log in by entering a code in a signed-in Jellyfin app"
    )
    jellyfin.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    command(
        "login-plex",
        "accounts:login_plex",
        "add a Plex account: approve reeld at the app.plex.tv URL it prints",
    )
    command(
        "add-plex-token",
        "accounts:add_plex_token",
        "add a Plex account from a token read from standard input",
    )
