"""reelctl against the real daemon on a private bus: what a person typing the commands sees.

Most tests share one daemon (module scope) with one small local folder synced once; tests that
add or remove accounts get a daemon of their own.
"""

import importlib.util
import io
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reeld.cli.output import Column, Output, render_table
from reeld.cli.reelctl import main
from reeld.cli.reelctl.client import Signal
from reeld.cli.reelctl.errors import EXIT_CODES_HELP, NOT_RUNNING_MESSAGE
from reeld.cli.reelctl.sync import ProgressView, SourceSync
from reeld.cli.reelctl.tree import Tree
from reeld.cli.reelctl.watch import describe
from tests.support.bus import PrivateBus, start_bus
from tests.support.procs import stop_process
from tests.support.reeld import ReeldProcess, start_reeld

MOVIES = ("Blade.Runner.1982.mkv", "Alien.1979.mkv", "The.Matrix.1999.mkv")
EPISODES = ("Dark/Season 1/Dark.S01E01.mkv", "Dark/Season 1/Dark.S01E02.mkv", "Dark/Season 2/Dark.S02E01.mkv")
REELCTL = (sys.executable, "-m", "reeld.cli.reelctl")


def make_folder(root: Path) -> Path:
    for name in MOVIES + EPISODES:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\0" * 16)
    return root


def require_local_backend() -> None:
    if importlib.util.find_spec("reeld.backends.local.backend") is None:
        pytest.skip("local backend not available yet")


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


Reelctl = Callable[..., Result]


def run_process(address: str, *args: str, stdin: str = "", timeout: float = 60) -> Result:
    """reelctl as a person runs it: a new process, its real exit status and output."""
    done = subprocess.run(
        [*REELCTL, "--address", address, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr)


class Lines:
    """A process's stdout line by line, each read with a deadline."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        self.fd = proc.stdout.fileno()
        self.buffer = b""

    def next(self, timeout: float = 10) -> str:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self.fd], [], [], max(0.0, remaining))
            if not ready:
                raise TimeoutError(f"no line within {timeout:g} s; got so far: {self.buffer!r}")
            chunk = os.read(self.fd, 4096)
            if not chunk:
                raise EOFError(f"the process closed its output; got so far: {self.buffer!r}")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode()


# -- fixtures ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bus() -> Iterator[PrivateBus]:
    private = start_bus("session")
    try:
        yield private
    finally:
        private.stop()


@pytest.fixture(scope="module")
def reeld(bus: PrivateBus) -> Iterator[ReeldProcess]:
    process = start_reeld(bus, number=0)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_folder(tmp_path_factory.mktemp("media"))


@pytest.fixture(scope="module")
def added(bus: PrivateBus, reeld: ReeldProcess, media: Path) -> Result:
    """``reelctl add-folder MEDIA --wait``, run once: the folder is synced for every test after it."""
    require_local_backend()
    result = run_process(bus.address, "add-folder", str(media), "--wait")
    assert result.code == 0, f"{result.err}\n{reeld.describe()}"
    return result


@pytest.fixture
def reelctl(bus: PrivateBus, added: Result, capsys: pytest.CaptureFixture[str]) -> Reelctl:
    """reelctl in this process (fast): ``reelctl("ls", "Movies")`` -> Result."""

    def run(*args: str) -> Result:
        capsys.readouterr()
        code = main(["--address", bus.address, *args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def ls_json(reelctl: Reelctl, *args: str) -> list[dict[str, Any]]:
    result = reelctl("--json", "ls", *args)
    assert result.code == 0, result.err
    items = result.json()
    assert isinstance(items, list)
    return items


def item_id(reelctl: Reelctl, library: str, title: str) -> str:
    return next(str(item["id"]) for item in ls_json(reelctl, library) if item["title"] == title)


# -- without a daemon --------------------------------------------------------------------------------


def test_help_lists_commands_and_exit_codes_without_loading_the_daemon() -> None:
    probe = (
        "import sys\n"
        "from reeld.cli.reelctl import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit as exit:\n    code = exit.code\n"
        "heavy = [m for m in ('reeld.daemon', 'reeld.bus.service', 'dbus_fast', 'sqlalchemy') if m in sys.modules]\n"
        "print('HEAVY', heavy, 'CODE', code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=30, check=False
    )
    assert "HEAVY [] CODE 0" in done.stdout
    for command in (
        "status",
        "ls",
        "sync",
        "add-folder",
        "add-jellyfin",
        "login-plex",
        "add-plex-token",
        "watch",
    ):
        assert command in done.stdout
    assert EXIT_CODES_HELP.splitlines()[1].strip() in done.stdout


def test_daemon_not_running_says_how_to_start_it() -> None:
    empty = start_bus("session")
    try:
        result = run_process(empty.address, "status")
    finally:
        empty.stop()
    assert result.code == 2
    assert result.err.strip() == f"reelctl: {NOT_RUNNING_MESSAGE}"
    assert "Traceback" not in result.err


def test_unreachable_bus_is_exit_2_without_a_traceback(tmp_path: Path) -> None:
    result = run_process(f"unix:path={tmp_path}/no-such-socket", "libraries")
    assert result.code == 2
    assert result.err.startswith("reelctl: cannot connect to the D-Bus bus at unix:path=")
    assert "Traceback" not in result.err


def test_output_cut_short_by_its_reader_is_not_an_error(bus: PrivateBus, added: Result) -> None:
    proc = subprocess.Popen(
        [*REELCTL, "--address", bus.address, "sources"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # like `reelctl sources | head -0`: the reader is gone before the first line
    assert proc.wait(timeout=30) == 0
    assert proc.stderr.read() == b""


def wait_until_loaded(pid: int, library: str, timeout: float = 30) -> None:
    """Return once process ``pid`` has mapped a shared object whose path holds ``library``."""
    deadline = time.monotonic() + timeout
    while library not in Path(f"/proc/{pid}/maps").read_text():
        assert time.monotonic() < deadline, f"{library} was not loaded within {timeout:g} s"
        time.sleep(0.001)


@pytest.mark.parametrize("after_s", [0.0, 0.02, 0.1])
def test_ctrl_c_in_the_first_moments_exits_130_without_a_traceback(after_s: float, tmp_path: Path) -> None:
    """Ctrl-C while reelctl still imports its bus library (it connects right after), or connects."""
    proc = subprocess.Popen(
        [*REELCTL, "--address", f"unix:path={tmp_path}/no-socket", "status"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until_loaded(proc.pid, "dbus_fast")  # the first compiled module of its imports
        time.sleep(after_s)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        stop_process(proc)
    assert b"Traceback" not in err and b"KeyboardInterrupt" not in err, err.decode()
    # Interrupted (130; or ended by the signal itself while Python exits), or done first: no bus (2).
    assert proc.returncode in (130, -signal.SIGINT, 2), (proc.returncode, err.decode())


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["ls", "Movies", "--limit", "0"], "argument --limit: must be between 1 and 10000: '0'"),
        (["ls", "Movies", "--limit", "20000"], "argument --limit: must be between 1 and 10000: '20000'"),
        (["ls", "Movies", "--limit", "many"], "argument --limit: not a whole number: 'many'"),
        (["ls", "Movies", "--sort", "popularity"], "argument --sort: not one of title, added, year, rating"),
        (
            ["progress", "local_x:a.mkv", "abc"],
            "argument POSITION: not a position (seconds, M:SS or H:MM:SS)",
        ),
        (["progress", "local_x:a.mkv", "1:00", "--state", "flying"], "argument --state: not one of playing"),
    ],
)
def test_a_malformed_value_exits_4_as_the_help_says(argv: list[str], said: str) -> None:
    done = subprocess.run([*REELCTL, *argv], capture_output=True, text=True, timeout=30)
    assert done.returncode == 4 and said in done.stderr, done.stderr


@pytest.mark.parametrize(
    "argv", [["ls"], ["ls", "Movies", "--limit"], ["no-such-command"], ["ls", "Movies", "--colour"]]
)
def test_a_wrong_command_line_exits_64_not_2(argv: list[str]) -> None:
    done = subprocess.run([*REELCTL, *argv], capture_output=True, text=True, timeout=30)
    assert done.returncode == 64 and "error: " in done.stderr, done.stderr


# -- one synced folder ------------------------------------------------------------------------------


def test_add_folder_waits_for_the_first_sync(added: Result, media: Path) -> None:
    assert f"Added the folder {media}" in added.out
    assert "✓" in added.out and "sync" in added.out


def test_status_shows_the_source_connected_with_its_items(reelctl: Reelctl, media: Path) -> None:
    result = reelctl("status")
    assert result.code == 0
    assert "online" in result.out or "offline" in result.out
    source_line = next(line for line in result.out.splitlines() if line.startswith(media.name))
    assert "connected" in source_line
    status = reelctl("status", "--json").json()
    assert isinstance(status, dict)
    assert set(status) >= {"Version", "Online", "Syncing", "accounts", "sources"}
    (source,) = status["sources"]
    assert source["Status"] == "connected" and source["Name"] == media.name
    # three movies, a show, two seasons, three episodes
    assert source["ItemCount"] == 9


def test_accounts_sources_and_libraries_tables(reelctl: Reelctl, media: Path) -> None:
    accounts = reelctl("accounts")
    assert accounts.code == 0 and str(media) in accounts.out and "local" in accounts.out
    sources = reelctl("sources")
    assert sources.code == 0 and media.as_uri() in sources.out
    assert sources.out.splitlines()[0].split()[-1] == "MESSAGE"  # why a source is in its state
    libraries = reelctl("libraries")
    assert libraries.code == 0
    lines = {line.split("  ")[0]: line for line in libraries.out.splitlines()[1:]}
    # Kind and count side by side; the columns after them ("never", "3 s ago") vary in words.
    assert " movies 3 " in " ".join(lines[f"{media.name}/Movies"].split()) + " "
    assert " shows 1 " in " ".join(lines[f"{media.name}/TV Shows"].split()) + " "


def test_json_is_plain_data_before_or_after_the_command(reelctl: Reelctl) -> None:
    for args in (("--json", "libraries"), ("libraries", "--json")):
        libraries = reelctl(*args).json()
        assert isinstance(libraries, list)
        assert {lib["Title"] for lib in libraries} >= {"Movies", "TV Shows"}
        assert all(lib["path"].startswith("/io/github/reeld/Reeld1/sources/") for lib in libraries)
    for command in (["accounts"], ["sources"], ["search", "dark"], ["recent"], ["continue"]):
        result = reelctl("--json", *command)
        assert result.code == 0, command
        assert isinstance(result.json(), list)


def test_ls_finds_a_library_by_title_label_or_path(reelctl: Reelctl, media: Path) -> None:
    by_title = ls_json(reelctl, "Movies")
    assert sorted(item["title"] for item in by_title) == ["Alien", "Blade Runner", "The Matrix"]
    assert {item["kind"] for item in by_title} == {"movie"}
    assert {item["year"] for item in by_title} == {1979, 1982, 1999}
    assert ls_json(reelctl, f"{media.name}/Movies") == by_title
    path = str(by_title[0]["library"])
    assert ls_json(reelctl, path) == by_title
    assert ls_json(reelctl, "movies") == by_title  # case does not matter when unambiguous


def test_ls_pages_and_sorts(reelctl: Reelctl) -> None:
    by_year = ls_json(reelctl, "Movies", "--sort", "year")
    assert [item["year"] for item in by_year] == [1999, 1982, 1979]
    page = ls_json(reelctl, "Movies", "--sort", "year", "--offset", "1", "--limit", "1")
    assert page == by_year[1:2]
    table = reelctl("ls", "Movies", "--limit", "2")
    assert table.out.splitlines()[0].split() == ["KIND", "TITLE", "YEAR", "WATCHED", "PROGRESS", "ID"]
    assert "1-2 of 3" in table.out and "--offset 2" in table.out


def test_show_lists_a_shows_seasons_and_a_seasons_episodes(reelctl: Reelctl) -> None:
    dark = item_id(reelctl, "TV Shows", "Dark")
    show = reelctl("show", dark)
    assert show.code == 0
    assert "Title:     Dark" in show.out and "Seasons:" in show.out
    assert "Season 1" in show.out and "Season 2" in show.out
    data = reelctl("--json", "show", dark).json()
    assert isinstance(data, dict)
    assert data["item"]["kind"] == "show"
    seasons = data["children"]
    assert [season["index"] for season in seasons] == [1, 2]
    episodes = reelctl("--json", "show", seasons[0]["id"]).json()
    assert isinstance(episodes, dict)
    assert [(e["parent_index"], e["index"]) for e in episodes["children"]] == [(1, 1), (1, 2)]


def test_a_show_marked_watched_is_watched_to_its_last_episode(reelctl: Reelctl) -> None:
    dark = item_id(reelctl, "TV Shows", "Dark")

    def episodes_watched() -> list[bool]:
        seasons = reelctl("--json", "show", dark).json()["children"]
        return [
            episode["watched"]
            for season in seasons
            for episode in reelctl("--json", "show", season["id"]).json()["children"]
        ]

    assert episodes_watched() == [False, False, False]
    assert reelctl("watched", dark).code == 0
    assert episodes_watched() == [True, True, True]
    assert reelctl("unwatched", dark).code == 0
    assert episodes_watched() == [False, False, False]


def test_search_finds_items_by_title(reelctl: Reelctl) -> None:
    result = reelctl("search", "matrix")
    assert result.code == 0
    assert "The Matrix" in result.out
    assert "Nothing matches" in reelctl("search", "zzzzqqq").out
    assert "there may be more: --limit 4" in reelctl("search", "dark", "--limit", "1").out
    assert "there may be more" not in result.out  # fewer than the limit: that was all


def test_watched_and_unwatched_change_what_ls_shows(reelctl: Reelctl) -> None:
    alien = item_id(reelctl, "Movies", "Alien")
    marked = reelctl("watched", alien)
    assert marked.code == 0 and "Marked 'Alien' as watched." in marked.out
    row = next(line for line in reelctl("ls", "Movies").out.splitlines() if " Alien " in line)
    assert "✓" in row
    assert reelctl("unwatched", alien).code == 0
    (item,) = [item for item in ls_json(reelctl, "Movies") if item["id"] == alien]
    assert item["watched"] is False


def test_progress_saves_a_resume_point_that_continue_shows_and_0_clears(reelctl: Reelctl) -> None:
    alien = item_id(reelctl, "Movies", "Alien")
    saved = reelctl("progress", alien, "12:34")
    assert saved.code == 0, saved.err
    assert saved.out.strip() == "Saved 'Alien' at 12:34."
    started = reelctl("--json", "continue").json()
    assert [(item["title"], item["position_ms"]) for item in started] == [("Alien", 754_000)]
    assert reelctl("progress", alien, "0").code == 0
    assert reelctl("--json", "continue").json() == []


@pytest.mark.parametrize("position", ["abc", "1:75", "1:60:00", "-5", "1:2:3:4", ""])
def test_progress_refuses_what_is_not_a_position_exit_4(
    position: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from reeld.cli.reelctl.parser import build_parser

    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["progress", "local_x:a.mkv", position])
    assert exited.value.code == 4
    error = capsys.readouterr().err
    assert "not a position (seconds, M:SS or H:MM:SS)" in error or "minutes and seconds go up to 59" in error


def test_progress_positions_are_read_as_seconds_minutes_and_hours() -> None:
    from reeld.cli.reelctl.parser import build_parser

    def position_ms(text: str) -> int:
        return int(build_parser().parse_args(["progress", "item", text]).position)

    assert position_ms("90") == 90_000
    assert position_ms("1:30") == 90_000
    assert position_ms("1:02:03") == 3_723_000
    assert position_ms("0") == 0


def test_url_of_a_local_movie_is_its_file(reelctl: Reelctl, media: Path) -> None:
    matrix = item_id(reelctl, "Movies", "The Matrix")
    result = reelctl("url", matrix)
    assert result.code == 0
    assert result.out.strip() == (media / "The.Matrix.1999.mkv").as_uri()


def test_a_show_has_no_file_and_no_position_invalid_argument_exit_4(
    reelctl: Reelctl, bus: PrivateBus
) -> None:
    dark = item_id(reelctl, "TV Shows", "Dark")
    result = reelctl("url", dark)
    assert result.code == 4
    assert (
        result.err.strip()
        == "reelctl: InvalidArgument: 'Dark' is a show: only what is played has a file to play"
    )
    progress = subprocess.run(
        ["busctl", f"--address={bus.address}", "call", "io.github.reeld.Reeld1", "/io/github/reeld/Reeld1",
         "io.github.reeld.Reeld1.Manager", "ReportProgress", "sts", dark, "1000", "playing"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert progress.returncode != 0 and "a playback position" in progress.stderr
    assert reelctl("progress", dark, "1:00").code == 4


def test_recent_lists_what_was_added(reelctl: Reelctl) -> None:
    titles = {item["title"] for item in reelctl("--json", "recent", "--limit", "50").json()}
    assert {"Alien", "Blade Runner", "The Matrix"} <= titles


def test_unknown_item_is_not_found_exit_3(reelctl: Reelctl) -> None:
    result = reelctl("show", "nope:nothing")
    assert result.code == 3
    assert result.err.startswith("reelctl: NotFound: ")
    assert result.out == ""


def test_unknown_library_is_exit_3_and_names_the_command_to_list_them(reelctl: Reelctl) -> None:
    result = reelctl("ls", "Documentaries")
    assert result.code == 3
    assert result.err.strip() == "reelctl: no library 'Documentaries' (see 'reelctl libraries')"


def test_bad_arguments_from_the_daemon_are_invalid_argument_exit_4(reelctl: Reelctl, tmp_path: Path) -> None:
    too_long = reelctl("search", "x" * 600)
    assert too_long.code == 4
    assert too_long.err.startswith("reelctl: InvalidArgument: search text")
    missing = reelctl("add-folder", str(tmp_path / "not-there"))
    assert missing.code == 4
    assert "not an existing folder" in missing.err


def test_adding_a_folder_again_says_it_was_there_and_adds_nothing(reelctl: Reelctl, media: Path) -> None:
    before = reelctl("--json", "accounts").json()
    again = reelctl("add-folder", str(media))
    assert again.code == 0 and again.out.startswith(f"Already had the folder {media} ")
    assert "kept in sync already" in again.out and "first sync" not in again.out
    assert reelctl("--json", "accounts").json() == before


def test_an_empty_folder_argument_is_refused_not_taken_as_the_working_directory(reelctl: Reelctl) -> None:
    before = reelctl("--json", "accounts").json()
    empty = reelctl("add-folder", "")
    assert empty.code == 4
    assert empty.err.strip() == "reelctl: folder path must not be empty"
    assert reelctl("--json", "accounts").json() == before


def test_sync_shows_progress_and_ends_when_the_sync_finishes(reelctl: Reelctl, media: Path) -> None:
    result = reelctl("sync", "--full")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert f"{media.name}: 0%" in lines  # a progress line while it runs
    assert lines[-1].startswith(f"✓ {media.name}: full sync")
    by_name = reelctl("--json", "sync", media.name).json()
    assert isinstance(by_name, list)
    (outcome,) = by_name
    assert outcome["success"] is True and outcome["name"] == media.name


def test_sync_of_an_unknown_source_is_exit_3(reelctl: Reelctl) -> None:
    result = reelctl("sync", "no-such-source")
    assert result.code == 3
    assert "no source 'no-such-source'" in result.err


def test_watch_prints_signals_until_ctrl_c(bus: PrivateBus, reelctl: Reelctl, media: Path) -> None:
    watcher = subprocess.Popen(
        [*REELCTL, "--address", bus.address, "watch"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    lines = Lines(watcher)
    try:
        assert lines.next(20).startswith("Watching reeld's signals")
        assert reelctl("sync").code == 0
        seen = [lines.next()]
        while not any("sync of" in line for line in seen):
            seen.append(lines.next())
        assert any(f"source {media.name}: " in line and "Syncing=true" in line for line in seen)
        assert any(f"sync of {media.name} finished" in line for line in seen)
        watcher.send_signal(signal.SIGINT)
        assert watcher.wait(timeout=10) == 130  # Ctrl-C, as --help lists it
        assert watcher.stderr is not None
        assert b"Traceback" not in watcher.stderr.read()
    finally:
        stop_process(watcher)


def test_watch_names_the_items_that_changed_in_a_library() -> None:
    source = "/io/github/reeld/Reeld1/sources/local_1"
    path = f"{source}/libraries/movies"
    tree = Tree(
        {
            source: {"io.github.reeld.Reeld1.Source": {"Name": "Videos"}},
            path: {"io.github.reeld.Reeld1.Library": {"Title": "Movies", "Source": source}},
        }
    )

    def line(changed: list[str], removed: list[str], reload: bool) -> str:
        signal = Signal(path, "io.github.reeld.Reeld1.Library", "ItemsChanged", [changed, removed, reload])
        return describe(signal, tree)

    assert line(["local_1:a.mkv"], ["local_1:b.mkv"], False) == (
        "* library Videos/Movies: changed local_1:a.mkv; removed local_1:b.mkv"
    )
    many = [f"local_1:{n}.mkv" for n in range(7)]
    assert line(many, [], False).endswith("local_1:4.mkv and 2 more")
    assert line([], [], True) == "* library Videos/Movies: many items changed (list it again)"


def test_watch_shows_times_as_a_person_reads_them() -> None:
    path = "/io/github/reeld/Reeld1/sources/local_1"
    tree = Tree({path: {"io.github.reeld.Reeld1.Source": {"Name": "Videos"}}})
    when = int(time.mktime((2026, 11, 25, 13, 5, 0, 0, 0, -1)))
    changed = Signal(
        path,
        "org.freedesktop.DBus.Properties",
        "PropertiesChanged",
        ["io.github.reeld.Reeld1.Source", {"LastSync": when, "LastFullSync": 0, "ItemCount": 12}, []],
    )
    assert describe(changed, tree) == (
        "~ source Videos: ItemCount=12 LastFullSync=never LastSync=2026-11-25T13:05:00"
    )


def test_server_logins_report_the_daemons_answer_and_never_echo_secrets(
    reelctl: Reelctl, monkeypatch: pytest.MonkeyPatch
) -> None:
    unreachable = "http://127.0.0.1:9"
    monkeypatch.setattr(sys, "stdin", io.StringIO("hunter2-password\n"))
    password = reelctl("add-jellyfin", unreachable, "--user", "bob", "--password-stdin")
    monkeypatch.setattr(sys, "stdin", io.StringIO("plex-token-secret\n"))
    token = reelctl("add-plex-token")
    for result in (password, token):
        assert result.code == 1
        assert result.err.startswith("reelctl: ") and "Traceback" not in result.err
        assert "hunter2" not in result.out + result.err and "plex-token-secret" not in result.out + result.err
    for args in (("add-jellyfin", unreachable, "--quick-connect"), ("login-plex",)):
        result = reelctl(*args)
        assert result.code == 1 and result.err.startswith("reelctl: "), args


# -- accounts, each on a daemon of its own ----------------------------------------------------------


@pytest.fixture
def own_daemon(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Reelctl]:
    require_local_backend()
    private = start_bus("session")
    process = None
    try:
        process = start_reeld(private, number=1)

        def run(*args: str) -> Result:
            capsys.readouterr()
            code = main(["--address", private.address, *args])
            captured = capsys.readouterr()
            return Result(code, captured.out, captured.err)

        yield run
    finally:
        if process is not None:
            process.stop()
        private.stop()


def test_add_folder_makes_a_relative_path_absolute_and_remove_takes_it_away(
    own_daemon: Reelctl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_folder(tmp_path / "Videos")
    monkeypatch.chdir(tmp_path)
    assert own_daemon("add-folder", "Videos", "--wait").code == 0
    (account,) = own_daemon("--json", "accounts").json()
    assert account["Identity"] == str(tmp_path / "Videos")
    assert own_daemon("refresh", "Videos").code == 0
    assert own_daemon("reconnect", "Videos").code == 0
    removed = own_daemon("remove", str(tmp_path / "Videos"))
    assert removed.code == 0 and "Removed Videos" in removed.out
    assert own_daemon("--json", "accounts").json() == []
    assert own_daemon("--json", "libraries").json() == []
    empty = own_daemon("status").out
    assert (
        "No sources yet" in empty
        and "add-folder" in empty
        and "add-jellyfin" in empty
        and "login-plex" in empty
    )


def test_sources_and_accounts_are_listed_by_name_whatever_the_case(
    own_daemon: Reelctl, tmp_path: Path
) -> None:
    for name in ("Media2", "anime", "Zoo"):
        assert own_daemon("add-folder", str(make_folder(tmp_path / name)), "--wait").code == 0
    assert [s["Name"] for s in own_daemon("--json", "sources").json()] == ["anime", "Media2", "Zoo"]
    assert [a["DisplayName"] for a in own_daemon("--json", "accounts").json()] == ["anime", "Media2", "Zoo"]


def test_sync_of_a_folder_that_is_gone_fails_with_its_reason(own_daemon: Reelctl, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "Gone")
    assert own_daemon("add-folder", str(folder), "--wait").code == 0
    for path in sorted(folder.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    folder.rmdir()
    result = own_daemon("sync", "Gone")
    assert result.code == 1
    # Whether the sync failed or the daemon saw the folder go first, the reason names the folder.
    last = result.out.splitlines()[-1]
    assert last.startswith("✗ Gone: ") and str(folder) in last


def test_add_jellyfin_needs_a_user_or_quick_connect() -> None:
    done = subprocess.run([*REELCTL, "add-jellyfin", "http://x"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 64
    assert "--user" in done.stderr and "--quick-connect" in done.stderr


# -- pieces that need no daemon ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error_name", "message"),
    [
        (
            "org.freedesktop.DBus.Error.Spawn.ChildExited",
            "Process io.github.reeld.Reeld1 exited with status 1",
        ),
        ("org.freedesktop.systemd1.UnitFailed", "Unit reeld.service failed."),
        ("org.freedesktop.DBus.Error.NameHasNoOwner", "Could not activate remote peer: unit failed."),
    ],
)
def test_a_start_that_failed_is_said_with_the_daemons_reason(
    error_name: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """However the bus says activation failed (dbus-daemon, through systemd, dbus-broker)."""
    from reeld.cli import start_failure
    from reeld.cli.reelctl.errors import DaemonNotRunning, error_from_dbus
    from reeld.config import Paths

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    # A runtime folder that cannot take the file (a full disk, here a file in its way): the state one does.
    (tmp_path / "runtime").write_text("")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "runtime"))
    assert str(error_from_dbus(error_name, message)) == NOT_RUNNING_MESSAGE
    start_failure.record(Paths.from_env(), "config.toml: [sync] jitter_s must be a number from 0 to 86400")
    error = error_from_dbus(error_name, message)
    assert isinstance(error, DaemonNotRunning) and error.exit_code == 2
    assert str(error).startswith("the reeld daemon is not running: it exited at ")
    assert str(error).endswith(" with: config.toml: [sync] jitter_s must be a number from 0 to 86400")
    start_failure.clear(Paths.from_env())
    assert str(error_from_dbus(error_name, message)) == NOT_RUNNING_MESSAGE


class Terminal(io.StringIO):
    encoding = "utf-8"

    def isatty(self) -> bool:
        return True


def test_progress_on_a_terminal_is_one_rewritten_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    screen = Terminal()
    view = ProgressView(Output(stream=screen))
    sync = SourceSync("/p", "Videos", status="connected", syncing=True, seen_syncing=True, progress=0.5)
    view.update([sync])
    assert screen.getvalue().startswith("\rSyncing Videos  [############------------]  50%")
    assert "\n" not in screen.getvalue()
    sync.done, sync.success, sync.message = True, True, "full sync: 9 items updated"
    view.finished(sync)
    assert screen.getvalue().endswith("\r\x1b[K✓ Videos: full sync: 9 items updated (0.0 s)\n")


def test_a_name_matching_two_libraries_is_ambiguous_and_lists_them() -> None:
    root = "/io/github/reeld/Reeld1/sources"
    objects = {
        f"{root}/a": {"io.github.reeld.Reeld1.Source": {"Name": "Home"}},
        f"{root}/b": {"io.github.reeld.Reeld1.Source": {"Name": "NAS"}},
        f"{root}/a/libraries/m": {
            "io.github.reeld.Reeld1.Library": {"Title": "Movies", "Source": f"{root}/a"}
        },
        f"{root}/b/libraries/m": {
            "io.github.reeld.Reeld1.Library": {"Title": "Movies", "Source": f"{root}/b"}
        },
    }
    tree = Tree(objects)
    with pytest.raises(
        Exception,
        match=r"'Movies' matches 2 libraries: 'Home/Movies', 'NAS/Movies'; name one as Source/Title",
    ) as caught:
        tree.library("Movies")
    assert getattr(caught.value, "exit_code", None) == 4
    assert tree.library("NAS/Movies")["path"] == f"{root}/b/libraries/m"
    assert tree.library("NAS/Movies/")["path"] == f"{root}/b/libraries/m"  # as a shell completes it
    objects[f"{root}/b"]["io.github.reeld.Reeld1.Source"]["Name"] = "Home"  # two folders named alike
    with pytest.raises(
        Exception, match=rf"'{root}/a/libraries/m', '{root}/b/libraries/m'; name one by its path"
    ):
        Tree(objects).library("Movies")


def test_a_source_named_where_a_library_is_wanted_lists_its_libraries() -> None:
    root = "/io/github/reeld/Reeld1/sources"
    objects = {
        f"{root}/a": {"io.github.reeld.Reeld1.Source": {"Name": "Home"}},
        f"{root}/a/libraries/m": {
            "io.github.reeld.Reeld1.Library": {"Title": "Movies", "Source": f"{root}/a"}
        },
        f"{root}/a/libraries/t": {"io.github.reeld.Reeld1.Library": {"Title": "TV", "Source": f"{root}/a"}},
    }
    for ref in ("Home/", "home"):
        with pytest.raises(
            Exception,
            match=rf"'{ref}' is a source, not a library: name one of its libraries, 'Home/Movies', 'Home/TV'",
        ) as caught:
            Tree(objects).library(ref)
        assert getattr(caught.value, "exit_code", None) == 3  # NotFound
    with pytest.raises(Exception, match=r"no library 'Nowhere'"):
        Tree(objects).library("Nowhere")


def test_a_name_with_a_newline_stays_on_its_row() -> None:
    """A file may be called anything; a table shows control characters as escapes."""
    columns = [Column("TITLE", lambda row: str(row["title"])), Column("YEAR", lambda row: str(row["year"]))]
    lines = render_table(
        columns, [{"title": "Two\nLines\x1b[31m", "year": 2001}, {"title": "Heat", "year": 1995}]
    )
    assert lines == [
        "TITLE               YEAR",
        "Two\\nLines\\x1b[31m  2001",
        "Heat                1995",
    ]
