"""Odd input from a client: symlink loops, names longer than a file system takes, tokens and names with
control or direction-changing characters. Each gets ``InvalidArgument`` naming the problem, nothing is
sent to a server, and the daemon goes on."""

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from jeepney.wrappers import DBusErrorResponse

from tests.support.bus import PrivateBus, call, start_bus
from tests.support.reeld import ReeldProcess, start_reeld

NAME = "io.github.reeld.Reeld1"
ROOT = "/io/github/reeld/Reeld1"
MANAGER = f"{NAME}.Manager"
INVALID = f"{NAME}.Error.InvalidArgument"


class SilentServer:
    """A loopback port that accepts connections and records whether anyone came: a server that
    must not be asked."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def was_contacted(self) -> bool:
        try:
            conn, _ = self.sock.accept()
        except BlockingIOError:
            return False
        conn.close()
        return True


@pytest.fixture(scope="module")
def plex_tv() -> Iterator[SilentServer]:
    server = SilentServer()
    try:
        yield server
    finally:
        server.sock.close()


@pytest.fixture(scope="module")
def running(plex_tv: SilentServer) -> Iterator[tuple[PrivateBus, ReeldProcess]]:
    bus = start_bus("session")
    process = start_reeld(bus, env={"REELD_PLEX_TV_URL": plex_tv.url})
    try:
        yield bus, process
    finally:
        process.stop()
        bus.stop()


def refused(bus: PrivateBus, member: str, signature: str, *args: object) -> str:
    """Call ``member``; assert it is refused as ``InvalidArgument``; return the message."""
    with pytest.raises(DBusErrorResponse) as raised:
        call(bus.address, NAME, ROOT, MANAGER, member, signature, args)
    assert raised.value.name == INVALID, raised.value
    message = str(raised.value.data[0])
    assert "Traceback" not in message and "Error" not in message and len(message) < 500
    return message


def test_a_folder_behind_a_symlink_loop_is_refused_naming_the_loop(
    running: tuple[PrivateBus, ReeldProcess], tmp_path: Path
) -> None:
    bus, _ = running
    os.symlink(tmp_path / "b", tmp_path / "a")
    os.symlink(tmp_path / "a", tmp_path / "b")
    for path in (tmp_path / "a", tmp_path / "a" / "Movies"):
        assert "symbolic links that point at each other in a loop" in refused(
            bus, "AddLocalFolder", "s", str(path)
        )


def test_a_folder_name_longer_than_a_file_system_takes_is_refused_saying_so(
    running: tuple[PrivateBus, ReeldProcess], tmp_path: Path
) -> None:
    bus, _ = running
    message = refused(bus, "AddLocalFolder", "s", str(tmp_path / ("n" * 300)))
    assert "longer than a file name can be (300 bytes; at most 255)" in message
    # 200 characters of two bytes each: within the characters, past the bytes a name may have.
    assert "(400 bytes; at most 255)" in refused(bus, "AddLocalFolder", "s", str(tmp_path / ("é" * 200)))
    deep = "/".join(["n" * 200] * 25)
    assert "folder path is too long" in refused(bus, "AddLocalFolder", "s", f"{tmp_path}/{deep}")


ODD_TOKENS = [
    ("bell", "abcd\x07efgh", "(U+0007) at position 5"),
    ("newline inside", "abcd\nX-Other: 1", "newline (U+000A) at position 5"),
    ("zero width space", "abcd\u200befgh", "zero width space (U+200B) at position 5"),
    (
        "fullwidth letters",
        "\uff41\uff42\uff43\uff44",
        "fullwidth latin small letter a (U+FF41) at position 1",
    ),
    ("right-to-left override", "abcd\u202eefgh", "right-to-left override (U+202E) at position 5"),
    ("no-break space", "abcd\u00a0efgh", "no-break space (U+00A0) at position 5"),
]


@pytest.mark.parametrize(
    ("token", "named"), [(t, n) for _, t, n in ODD_TOKENS], ids=[i for i, _, _ in ODD_TOKENS]
)
def test_a_plex_token_with_odd_characters_is_refused_and_nothing_is_sent(
    running: tuple[PrivateBus, ReeldProcess], plex_tv: SilentServer, token: str, named: str
) -> None:
    bus, reeld = running
    message = refused(bus, "AddPlexAccount", "s", token)
    assert message.startswith("Plex token holds a character no token has") and named in message
    assert token.strip() not in message and token not in reeld.stderr_text()
    assert not plex_tv.was_contacted()


@pytest.mark.parametrize(
    ("url", "user", "named"),
    [
        ("http://127.0.0.1:{port}/\njellyfin", "anna", "newline (U+000A)"),
        ("http://127.0.0.1:{port}\t", "anna", "tab (U+0009)"),
        ("http://127.0.0.1:{port}/my media", "anna", "must not contain spaces"),
        ("http://127.0.0.1:{port}", "anna\r\n", "carriage return (U+000D)"),
        ("http://127.0.0.1:{port}", "ann\u202ea", "right-to-left override (U+202E)"),
        ("http://127.0.0.1:{port}", "\x1b[2Janna", "escape (U+001B) (at position 1)"),
    ],
)
def test_server_urls_and_user_names_with_control_characters_are_refused_before_any_request(
    running: tuple[PrivateBus, ReeldProcess], url: str, user: str, named: str
) -> None:
    bus, _ = running
    jellyfin = SilentServer()
    try:
        port = jellyfin.url.rsplit(":", 1)[1]
        assert named in refused(bus, "AddJellyfinAccount", "sss", url.format(port=port), user, "pw")
        assert not jellyfin.was_contacted()
    finally:
        jellyfin.sock.close()


@pytest.mark.parametrize(
    ("member", "signature", "args", "named"),
    [
        ("GetItem", "s", ("local_1:\x1b[2J",), "escape (U+001B)"),
        ("GetStreamUrl", "s", ("local_1:movie\n",), "newline (U+000A)"),
        ("SetWatched", "sb", ("local_1:\u2028", True), "line separator (U+2028)"),
        ("Search", "su", ("blade\x08\x08\x08", 10), "(U+0008)"),
        ("CancelLogin", "s", ("abc\x7f",), "(U+007F)"),
    ],
)
def test_ids_and_queries_with_control_characters_are_invalid_not_unknown(
    running: tuple[PrivateBus, ReeldProcess],
    member: str,
    signature: str,
    args: tuple[object, ...],
    named: str,
) -> None:
    bus, _ = running
    assert named in refused(bus, member, signature, *args)


def test_names_in_other_scripts_are_not_odd(running: tuple[PrivateBus, ReeldProcess]) -> None:
    """Letters of any script, and the joiners some scripts need, are no control characters."""
    bus, _ = running
    (items,) = call(
        bus.address,
        NAME,
        ROOT,
        MANAGER,
        "Search",
        "su",
        ("Am\u00e9lie \u6771\u4eac \u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", 10),
    )
    assert items == []
