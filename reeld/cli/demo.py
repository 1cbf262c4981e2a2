"""``reeld demo``: a new user's first five minutes, on sample data, with nothing to set up.

Everything runs in a sandbox that is removed afterwards: a private D-Bus bus (so a reeld the
user already runs is never disturbed), temporary XDG directories (so their config, cache and
keyring are never touched), and generated sample media. The daemon is the real one, run as a
subprocess; what the user sees is the real ``reelctl``.

Sources are added by a list of ``DemoSource`` steps, so fake Jellyfin or Plex servers can join
the demo later: each prepares what it needs, adds an account, and its first sync is awaited.
"""

import asyncio
import contextlib
import logging
import os
import secrets
import shlex
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from dbus_fast import Message
from dbus_fast.aio import MessageBus

import reeld
from reeld.bus.constants import BUS_NAME, LIBRARY_IFACE, MANAGER_IFACE, ROOT_PATH
from reeld.cli.output import Output
from reeld.cli.reelctl.app import run_command
from reeld.cli.reelctl.client import ReeldClient, Signal
from reeld.cli.reelctl.errors import ReelctlError
from reeld.cli.reelctl.sync import wait_for_account
from reeld.cli.reelctl.tree import Tree
from reeld.logs import configure_logging

BUS_START_TIMEOUT_S = 10.0
DAEMON_START_TIMEOUT_S = 30.0
FIRST_SYNC_TIMEOUT_S = 300.0
STOP_TIMEOUT_S = 10.0

# A bus of our own, listening in the sandbox, that starts no services: nothing of the user's runs on it.
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={socket_dir}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


class DemoError(Exception):
    """A step failed; the message says which and why."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Sandbox:
    """The demo's temporary world: directories, the bus address, and the daemon's environment."""

    root: Path
    bus_address: str = ""
    #: Where the demo's fake plex.tv will listen: chosen before the daemon starts, which is told
    #: (REELD_PLEX_TV_URL) to use it instead of plex.tv.
    plex_tv_port: int = field(default_factory=_free_port)
    keyring_running: bool = False

    @property
    def log_file(self) -> Path:
        return self.root / "reeld.log"

    def xdg_dirs(self) -> dict[str, Path]:
        return {
            "XDG_CONFIG_HOME": self.root / "config",
            "XDG_STATE_HOME": self.root / "state",
            "XDG_DATA_HOME": self.root / "data",
            "XDG_CACHE_HOME": self.root / "cache",
            "XDG_RUNTIME_DIR": self.root / "runtime",
            "HOME": self.root / "home",
        }

    def daemon_env(self) -> dict[str, str]:
        env = dict(os.environ)
        for name, path in self.xdg_dirs().items():
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
            env[name] = str(path)
        env["DBUS_SESSION_BUS_ADDRESS"] = self.bus_address
        env["PLEXAPI_CONFIG_PATH"] = str(self.root / "config" / "plexapi.ini")
        env["REELD_PLEX_TV_URL"] = f"http://127.0.0.1:{self.plex_tv_port}"
        # The daemon imports the same reeld as this process, installed or not.
        package_parent = str(Path(reeld.__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
        for name in ("NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID"):  # not systemd's service
            env.pop(name, None)
        return env


class DemoSource(Protocol):
    """One step that adds a source to the demo."""

    #: What the step adds, as a heading.
    title: str

    async def prepare(self, sandbox: Sandbox, stack: AsyncExitStack) -> str:
        """Make what the source needs (files, a fake server; register cleanup on ``stack``); say what."""
        ...

    async def add(self, client: ReeldClient) -> str:
        """Add its account over D-Bus, as a user would; the account's object path."""
        ...

    #: Sources (by name) that are meant to stay unreachable, to show how reeld says why.
    @property
    def expect_offline(self) -> tuple[str, ...]: ...


@dataclass
class SampleFolderSource:
    """A generated folder of empty, well-named video files: movies, and shows with seasons."""

    title: str = "A local folder of videos"
    expect_offline: tuple[str, ...] = ()
    movies: int = 120
    shows: int = 12
    seasons: int = 2
    episodes: int = 8
    path: Path = field(default_factory=Path)

    async def prepare(self, sandbox: Sandbox, stack: AsyncExitStack) -> str:
        from reeld.fakes.media_folder import make_sample_folder

        self.path = sandbox.root / "Videos"
        sample = await asyncio.to_thread(
            make_sample_folder,
            self.path,
            movies=self.movies,
            shows=self.shows,
            seasons=self.seasons,
            episodes=self.episodes,
            seed=0,
        )
        return (
            f"Generated {len(sample.files)} files in {self.path}:\n"
            f"  {sample.movies} movies, {sample.episodes} episodes of {sample.shows} shows, {sample.others} extras,\n"
            f"  and {sample.ignored} files a scan must skip (samples, subtitles, hidden files)."
        )

    async def add(self, client: ReeldClient) -> str:
        account: str = await client.manager("AddLocalFolder", "s", str(self.path))
        return account


@dataclass
class FakeJellyfinSource:
    """The project's fake Jellyfin server on loopback with a sample catalog of a few thousand items.

    The token reeld gets must go to a keyring: the demo's bus gets its own gnome-keyring-daemon.
    """

    title: str = "A Jellyfin server (the project's fake, on loopback)"
    expect_offline: tuple[str, ...] = ()
    user: str = "demo"
    password: str = "demo-password"
    url: str = ""

    async def prepare(self, sandbox: Sandbox, stack: AsyncExitStack) -> str:
        from reeld.fakes.jellyfin import FakeJellyfin, FakeJellyfinServer

        await start_keyring(sandbox, stack)
        fake = await asyncio.to_thread(
            FakeJellyfin.generate,
            movies=800,
            series=40,
            seasons=3,
            episodes=10,
            user=self.user,
            password=self.password,
        )
        server = await stack.enter_async_context(FakeJellyfinServer(fake))
        self.url = server.url
        return (
            f"Started a fake Jellyfin server at {self.url} with {len(fake.items)} items\n"
            f"  (user {self.user!r}), and a keyring for its token on the demo's bus."
        )

    async def add(self, client: ReeldClient) -> str:
        account: str = await client.manager("AddJellyfinAccount", "sss", self.url, self.user, self.password)
        return account


@dataclass
class FakePlexSource:
    """A Plex account on the project's fake plex.tv, with two servers: "Home" answers on its
    remote address (its LAN one refuses), "Cabin" is switched off, so reeld shows it offline and why."""

    title: str = "A Plex account with two servers (the project's fake plex.tv and servers, on loopback)"
    expect_offline: tuple[str, ...] = ("Cabin",)
    token: str = field(default_factory=lambda: secrets.token_urlsafe(15))

    async def prepare(self, sandbox: Sandbox, stack: AsyncExitStack) -> str:
        from reeld.fakes.plex import CatalogSpec, ConnectionSpec, FakePlexCluster, ServerSpec

        await start_keyring(sandbox, stack)
        home = ServerSpec(
            "Home",
            catalog=CatalogSpec(movies=400, shows=30, seasons=3, episodes=8),
            connections=(ConnectionSpec.refused(local=True), ConnectionSpec.live(local=False)),
        )
        cabin = ServerSpec(
            "Cabin",
            owned=False,
            catalog=CatalogSpec(seed=2, movies=50, shows=2),
            connections=(ConnectionSpec.live(local=True), ConnectionSpec.timeout(local=False)),
            running=False,
        )
        cluster = await asyncio.to_thread(
            FakePlexCluster, [home, cabin], token=self.token, port=sandbox.plex_tv_port
        )
        await stack.enter_async_context(cluster)
        return (
            f"Started a fake plex.tv at {cluster.url} (reeld was told to use it instead of plex.tv),\n"
            "  listing two servers: Home (400 movies, 30 shows) and Cabin (switched off)."
        )

    async def add(self, client: ReeldClient) -> str:
        account: str = await client.manager("AddPlexAccount", "s", self.token)
        return account


async def start_keyring(sandbox: Sandbox, stack: AsyncExitStack) -> None:
    """gnome-keyring-daemon on the demo's bus, its login keyring unlocked, as a desktop session has."""
    if sandbox.keyring_running:
        return
    sandbox.keyring_running = True
    process = await asyncio.create_subprocess_exec(
        "gnome-keyring-daemon",
        "--foreground",
        "--unlock",
        "--components=secrets",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        env=sandbox.daemon_env(),
    )
    stack.push_async_callback(_stop_process, process)
    assert process.stdin is not None
    process.stdin.write(b"demo-keyring-password")
    process.stdin.close()
    bus = await MessageBus(bus_address=sandbox.bus_address).connect()
    try:
        deadline = asyncio.get_running_loop().time() + 15
        while True:
            reply = await bus.call(
                Message(
                    destination="org.freedesktop.DBus",
                    path="/org/freedesktop/DBus",
                    interface="org.freedesktop.DBus",
                    member="NameHasOwner",
                    signature="s",
                    body=["org.freedesktop.secrets"],
                )
            )
            if reply is not None and reply.body and reply.body[0] is True:
                return
            if process.returncode is not None or asyncio.get_running_loop().time() > deadline:
                raise DemoError("gnome-keyring-daemon did not start on the demo's bus")
            await asyncio.sleep(0.05)  # no signal to wait on before the name exists: poll, bounded
    finally:
        bus.disconnect()


async def _stop_process(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        await process.wait()


def default_sources() -> list[DemoSource]:
    sources: list[DemoSource] = [SampleFolderSource()]
    if shutil.which("gnome-keyring-daemon"):
        sources.append(FakeJellyfinSource())
        sources.append(FakePlexSource())
    return sources


# -- the demo ------------------------------------------------------------------------------------------


class Demo:
    def __init__(self, once: bool, verbose: bool, sources: Sequence[DemoSource]) -> None:
        self.once = once
        self.verbose = verbose
        self.sources = list(sources)
        self.out = Output()
        self.bold = self.out.is_tty
        self.search_term = "a"

    # -- printing ----------------------------------------------------------------------------------

    def say(self, text: str = "") -> None:
        self.out.line(text)

    def heading(self, text: str) -> None:
        self.say()
        self.say(f"\x1b[1m{text}\x1b[0m" if self.bold else text)
        self.say("-" * len(text))

    def command(self, argv: Sequence[str]) -> None:
        self.say()
        self.say(f"$ {shlex.join(argv)}")

    # -- running -------------------------------------------------------------------------------------

    async def run(self) -> int:
        self.say("reeld demo: the daemon on sample data, and what a user sees of it.")
        self.say(
            "It runs in a sandbox on a private D-Bus bus: your own reeld, config and cache are untouched."
        )
        async with AsyncExitStack() as stack:
            root = Path(tempfile.mkdtemp(prefix="reeld-demo-"))
            stack.callback(shutil.rmtree, root, ignore_errors=True)
            sandbox = Sandbox(root)
            try:
                daemon = await self._start(sandbox, stack)
                client = await ReeldClient.connect(sandbox.bus_address)
                stack.callback(client.disconnect)
                for number, source in enumerate(self.sources, start=1):
                    await self._add_source(number, source, sandbox, client, stack)
                await self._show_reelctl(sandbox, client)
                await self._show_artwork(sandbox, client)
                await self._show_bus(sandbox)
                if not self.once:
                    return await self._wait_for_ctrl_c(daemon)
            except (DemoError, ReelctlError) as exc:
                self.say()
                self.say(f"The demo failed: {exc}")
                self._print_log_tail(sandbox)
                return 1
            finally:
                self.say()
                self.say("Cleaning up: stopping reeld and the private bus, removing the sandbox.")
        return 0

    async def _start(self, sandbox: Sandbox, stack: AsyncExitStack) -> asyncio.subprocess.Process:
        self.heading("1. Start a private bus and the daemon")
        sandbox.bus_address = await self._start_bus(sandbox, stack)
        self.say(f"Private D-Bus bus: {sandbox.bus_address}")
        started = time.monotonic()
        daemon = await self._start_daemon(sandbox, stack)
        self.say(
            f"reeld is on the bus as {BUS_NAME} after {time.monotonic() - started:.1f} s "
            f"(its log: {sandbox.log_file})"
        )
        return daemon

    async def _start_bus(self, sandbox: Sandbox, stack: AsyncExitStack) -> str:
        if shutil.which("dbus-daemon") is None:
            raise DemoError("dbus-daemon is not installed (Debian package: dbus-daemon)")
        socket_dir = sandbox.root / "bus"
        socket_dir.mkdir(mode=0o700)
        config = sandbox.root / "bus.conf"
        config.write_text(BUS_CONFIG.format(socket_dir=socket_dir))
        bus = await asyncio.create_subprocess_exec(
            "dbus-daemon",
            f"--config-file={config}",
            "--print-address",
            "--nofork",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            process_group=0,  # Ctrl-C is the demo's to handle: it stops the bus last
        )
        stack.push_async_callback(stop_process, bus)
        assert bus.stdout is not None
        try:
            line = await asyncio.wait_for(bus.stdout.readline(), BUS_START_TIMEOUT_S)
        except TimeoutError:
            raise DemoError(f"dbus-daemon printed no address within {BUS_START_TIMEOUT_S:.0f} s") from None
        address = line.decode().strip()
        if not address:
            raise DemoError(f"dbus-daemon exited (code {await bus.wait()}) without starting a bus")
        return address

    async def _start_daemon(self, sandbox: Sandbox, stack: AsyncExitStack) -> asyncio.subprocess.Process:
        watcher = await ReeldClient.connect(sandbox.bus_address)
        stack.callback(watcher.disconnect)
        queue = await watcher.subscribe()
        log = stack.enter_context(sandbox.log_file.open("ab"))
        argv = [sys.executable, "-m", "reeld.cli.daemon", *(["--verbose"] if self.verbose else [])]
        daemon = await asyncio.create_subprocess_exec(
            *argv,
            env=sandbox.daemon_env(),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            process_group=0,  # Ctrl-C is the demo's to handle: it stops the daemon cleanly
        )
        stack.push_async_callback(stop_process, daemon)
        owned = asyncio.ensure_future(_name_owned(watcher, queue))
        exited = asyncio.ensure_future(daemon.wait())
        try:
            done, _ = await asyncio.wait(
                {owned, exited}, timeout=DAEMON_START_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            owned.cancel()
            exited.cancel()
        if owned in done and not owned.cancelled() and owned.exception() is None:
            return daemon
        if exited in done:
            raise DemoError(f"reeld exited with code {daemon.returncode} before it was on the bus")
        raise DemoError(f"reeld was not on the bus within {DAEMON_START_TIMEOUT_S:.0f} s")

    async def _add_source(
        self, number: int, source: DemoSource, sandbox: Sandbox, client: ReeldClient, stack: AsyncExitStack
    ) -> None:
        self.heading(f"{number + 1}. Add a source: {source.title}")
        self.say(await source.prepare(sandbox, stack))
        queue = await client.subscribe()
        started = time.monotonic()
        account = await source.add(client)
        self.say(f"Added account {account}; waiting for its first sync:")
        try:
            results = await asyncio.wait_for(
                wait_for_account(client, queue, self.out, account), FIRST_SYNC_TIMEOUT_S
            )
        except TimeoutError:
            raise DemoError(f"the first sync did not finish within {FIRST_SYNC_TIMEOUT_S:.0f} s") from None
        failed = [r for r in results if not r.success and r.name not in source.expect_offline]
        if failed:
            raise DemoError("; ".join(f"{result.name}: {result.message}" for result in failed))
        for result in results:
            if not result.success:
                self.say(f"{result.name} is unreachable, as this demo means it to be. reeld says why:")
                self.say(f"  {result.message}")
        self.say(f"First sync done {time.monotonic() - started:.1f} s after adding the account.")

    async def _show_reelctl(self, sandbox: Sandbox, client: ReeldClient) -> None:
        self.heading(f"{len(self.sources) + 2}. What a user sees: reelctl")
        self.say("reelctl is reeld's command-line client; it only talks to the daemon over D-Bus.")
        tree = Tree(await client.objects())
        shows, movies = _library_name(tree, "TV Shows"), _library_name(tree, "Movies")
        first_show = await _first_item(client, tree, "TV Shows")
        commands = [["status"], ["libraries"]]
        if shows:
            commands.append(["ls", shows])
        if first_show:
            commands.append(["show", str(first_show["id"])])
        if movies:
            commands.append(["ls", movies, "--limit", "10"])
        with_tracks = await _item_with_tracks(client, tree)
        if with_tracks:
            commands.append(["info", with_tracks])  # audio and subtitle tracks, chapters, markers
        term = _search_term(first_show or await _first_item(client, tree, "Movies"))
        if term:
            self.search_term = term
            commands.append(["search", term, "--limit", "10"])
        for argv in commands:
            self.command(["reelctl", *argv])
            code = await run_command(["--address", sandbox.bus_address, *argv], self.out)
            if code != 0:
                raise DemoError(f"'reelctl {shlex.join(argv)}' failed with exit status {code}")

    async def _show_artwork(self, sandbox: Sandbox, client: ReeldClient) -> None:
        """A film's poster as a file, as a GTK or Qt frontend gets it (the first film that has one)."""
        for library in Tree(await client.objects()).libraries:
            if library.get("Title") != "Movies" or not library.get("ItemCount"):
                continue
            (items,) = await client.call(library["path"], LIBRARY_IFACE, "ListItems", "uus", (0, 1, "title"))
            try:
                path = (
                    await client.manager("GetArtwork", "ssu", items[0]["id"], "poster", 320)
                    if items
                    else None
                )
            except ReelctlError:
                continue  # a film with no poster (a local file with no image beside it)
            argv = [
                "busctl", f"--address={sandbox.bus_address}", "call", BUS_NAME, ROOT_PATH, MANAGER_IFACE,
                "GetArtwork", "ssu", str(items[0]["id"]), "poster", "320",
            ]  # fmt: skip
            self.say()
            self.say(
                f"The poster of {items[0]['title']}, as a file a frontend hands to Gdk.Texture or QPixmap:"
            )
            self.command(argv)
            self.say(f"  {path}")
            return

    async def _show_bus(self, sandbox: Sandbox) -> None:
        self.heading(f"{len(self.sources) + 3}. The D-Bus API, for frontends and scripts")
        address = sandbox.bus_address
        tree_argv = ["busctl", f"--address={address}", "tree", BUS_NAME]
        self.command(tree_argv)
        if shutil.which("busctl"):
            self.say(await _output_of(tree_argv))
        else:
            self.say("(busctl is not installed here: it comes with systemd)")
        search = [
            "busctl", f"--address={address}", "call", BUS_NAME, ROOT_PATH, MANAGER_IFACE,
            "Search", "su", self.search_term, "5",
        ]  # fmt: skip
        self.say()
        self.say("Search the cache as a frontend would:")
        self.say(f"  {shlex.join(search)}")
        if self.once:
            return  # the bus goes away with the demo: an address to explore would be a dead end
        self.say()
        self.say("Explore it from another terminal while this runs:")
        self.say(f"  export DBUS_SESSION_BUS_ADDRESS={shlex.quote(address)}")
        self.say(
            f"  {reelctl_command()} status   # or: watch, search TEXT, ls LIBRARY; busctl --user tree {BUS_NAME}"
        )

    async def _wait_for_ctrl_c(self, daemon: asyncio.subprocess.Process) -> int:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        self.say()
        self.say("The demo keeps running until you press Ctrl-C.")
        stopped = asyncio.ensure_future(stop.wait())
        exited = asyncio.ensure_future(daemon.wait())
        try:
            await asyncio.wait({stopped, exited}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
            exited.cancel()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
        if not stop.is_set():
            raise DemoError(f"reeld stopped on its own (exit code {daemon.returncode})")
        return 0

    def _print_log_tail(self, sandbox: Sandbox, lines: int = 20) -> None:
        with contextlib.suppress(OSError):
            tail = sandbox.log_file.read_text(errors="replace").splitlines()[-lines:]
            if tail:
                self.say("The end of reeld's log:")
                for line in tail:
                    self.say(f"  {line}")


# -- helpers -----------------------------------------------------------------------------------------


async def _name_owned(client: ReeldClient, queue: "asyncio.Queue[Signal]") -> None:
    """Return once reeld owns its bus name (subscribe ``queue`` first, so the change is not missed)."""
    if await client.daemon_running():
        return
    while True:
        signal = await queue.get()
        if signal.is_name_owner_change and signal.args[2]:
            return


def _library_name(tree: Tree, title: str) -> str | None:
    """How to name the library called ``title`` on reelctl's command line: the title if unique."""
    matches = [library for library in tree.libraries if library.get("Title") == title]
    if not matches:
        return None
    return title if len(matches) == 1 else tree.library_label(matches[0])


async def _first_item(client: ReeldClient, tree: Tree, title: str) -> dict[str, Any] | None:
    """The first item (by title) of the first library called ``title`` that has any."""
    for library in tree.libraries:
        if library.get("Title") == title and library.get("ItemCount"):
            (items,) = await client.call(library["path"], LIBRARY_IFACE, "ListItems", "uus", (0, 1, "title"))
            if items:
                return dict(items[0])
    return None


async def _item_with_tracks(client: ReeldClient, tree: Tree) -> str | None:
    """The id of the first movie whose server or file tells its tracks and markers."""
    for library in tree.libraries:
        if library.get("Title") == "Movies" and library.get("ItemCount"):
            (items,) = await client.call(library["path"], LIBRARY_IFACE, "ListItems", "uus", (0, 1, "title"))
            info = await client.manager("GetPlaybackInfo", "s", items[0]["id"]) if items else {}
            if info.get("markers"):
                return str(items[0]["id"])
    return None


def _search_term(item: dict[str, Any] | None) -> str | None:
    """A word that finds something: the first real word of an item's title."""
    words = [word for word in str(item.get("title", "")).split() if len(word) > 2] if item else []
    return words[0] if words else None


async def _output_of(argv: Sequence[str]) -> str:
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), 10)
    except TimeoutError:
        process.kill()
        await process.wait()
        return f"({argv[0]} did not answer)"
    return output.decode(errors="replace").rstrip()


async def stop_process(process: asyncio.subprocess.Process) -> None:
    """SIGTERM, a bounded wait, then SIGKILL."""
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    try:
        await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


def reelctl_command() -> str:
    """How to run reelctl from another terminal: by name when it is on PATH, else by its full path
    (``make demo`` runs from the project's virtual environment, which no other shell has activated)."""
    beside = Path(sys.executable).parent / "reelctl"
    on_path = shutil.which("reelctl")
    if on_path and Path(on_path).resolve() == beside.resolve():
        return "reelctl"
    return (
        shlex.quote(str(beside)) if beside.exists() else f"{shlex.quote(sys.executable)} -m reeld.cli.reelctl"
    )


def run_demo(once: bool = False, verbose: bool = False, sources: Sequence[DemoSource] | None = None) -> int:
    """Run the demo; its exit status. ``once`` exits after showing everything instead of waiting for Ctrl-C."""
    # The daemon logs to its own file; here only the fake servers run, and they speak up only when
    # something is wrong (or with --verbose).
    configure_logging(json=False, level=logging.DEBUG if verbose else logging.WARNING)
    demo = Demo(once=once, verbose=verbose, sources=default_sources() if sources is None else sources)
    try:
        return asyncio.run(demo.run())
    except KeyboardInterrupt:
        return 130
