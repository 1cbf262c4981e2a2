"""20 busy clients against the daemon, idle and during a 110k-item full sync (issue 11, item 9).

Starts the fake server (``--backend jellyfin`` or ``plex``, or ``both`` one after the other) with
~110k items, a private bus, a real gnome-keyring and the daemon, then ``--clients`` client
processes (dbus-fast, each its own process as frontends are) that together make about ``--rate``
calls a second: ``ListItems(offset, 200, sort)`` on a library they found, ``Search`` for one or two
words of a title they saw (limit 50) and ``GetItem`` of an id they saw. Each client waits for its
answer before its next call and keeps its own pace otherwise (no catch-up bursts).

Phases, timed in one run against one daemon:

- **first sync**: from ``Add…Account`` to ``SyncFinished``: the cache fills while clients read it;
- **idle**: ``--idle-s`` seconds with the cache full and nothing syncing (after the paging orders
  are rebuilt);
- **sync beside** (with ``--beside COMMAND``): the daemon idle while COMMAND runs, such as a full
  sync of the same size in another process at the lowest priority: what a sync costs the clients
  when it does not share the daemon's GIL;
- **full resync**: ``Sync(true)`` on the source to ``SyncFinished``: every page fetched and
  written again.

For each phase: calls answered, errors, p50 / p99 / max latency as the clients saw it, per method
and overall, the daemon's CPU by thread, and the machine's load average (other work on the machine
moves these figures: compare phases within a run). Target: p99 <= 50 ms in every phase.

Run: ``.venv/bin/python bench/bench_bus_load.py [--backend jellyfin|plex|both] [--clients 20]
[--rate 200] [--idle-s 15] [--movies 20000 --shows 2000 --seasons 4 --episodes 10]``; with
``--keep-cache DIR`` it keeps each backend's cache, and ``--collector DIR/jellyfin.sqlite`` then
measures, in process, what the cycle collector costs pages with CPython's thresholds and the daemon's.
"""

import argparse
import asyncio
import contextlib
import json
import os
import random
import shlex
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from common import (  # noqa: E402
    NAME,
    ROOT,
    call,
    cpu_seconds_of,
    freeze_client_heap,
    percentiles_ms,
    sync_finished_queue,
    thread_cpu_seconds,
)
from dbus_fast import Message, MessageType  # noqa: E402
from dbus_fast.aio import MessageBus  # noqa: E402

LIBRARY_IFACE = f"{NAME}.Library"
MANAGER_IFACE = f"{NAME}.Manager"
JELLYFIN_USER, JELLYFIN_PASSWORD = "bench", "bench-password"
PLEX_TOKEN = "bench-plex-token"
SORTS = ("title", "added", "year", "rating")


# -- one client process ---------------------------------------------------------------------------


@dataclass
class ClientState:
    """What a client has seen so far, to make its next call with: libraries, ids and title words."""

    rng: random.Random
    libraries: list[tuple[str, int]] = field(default_factory=list)  # (path, item count)
    ids: list[str] = field(default_factory=list)
    words: list[str] = field(default_factory=list)

    def learn(self, items: list[dict[str, Any]]) -> None:
        for item in self.rng.sample(items, min(5, len(items))):
            self.ids.append(item["id"].value)
            if "title" in item:
                self.words.extend(item["title"].value.split())
        del self.ids[:-200], self.words[:-200]


async def client_main(
    address: str, calls_per_s: float, seed: int, search_share: float = 0.3, list_share: float = 0.4
) -> None:
    """Call the daemon at ``calls_per_s`` until stdin closes; then print each call as JSON:
    ``[started (CLOCK_MONOTONIC), seconds, method, ok]``."""
    bus = await MessageBus(bus_address=address).connect()
    freeze_client_heap()
    state = ClientState(random.Random(seed))
    records: list[tuple[float, float, str, bool]] = []
    errors: list[str] = []
    loop = asyncio.get_running_loop()
    stop: asyncio.Future[None] = loop.create_future()

    def stdin_closed() -> None:
        if not stop.done():
            stop.set_result(None)

    loop.add_reader(sys.stdin.fileno(), stdin_closed)

    async def timed_call(path: str, iface: str, member: str, sig: str = "", *body: Any) -> Any:
        started = time.monotonic()
        reply = await bus.call(
            Message(
                destination=NAME, path=path, interface=iface, member=member, signature=sig, body=list(body)
            )
        )
        ok = reply is not None and reply.message_type == MessageType.METHOD_RETURN
        records.append((started, time.monotonic() - started, member, ok))
        if not ok and reply is not None and len(errors) < 3:
            errors.append(f"{member}: {reply.error_name} {reply.body}")
        return reply.body if ok and reply is not None else None

    async def refresh_libraries() -> None:
        body = await timed_call(ROOT, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects")
        if body is not None:
            state.libraries = [
                (path, int(interfaces[LIBRARY_IFACE]["ItemCount"].value))
                for path, interfaces in body[0].items()
                if LIBRARY_IFACE in interfaces
            ]

    async def one_call() -> None:
        choice = state.rng.random()
        if choice < list_share and state.libraries:
            path, count = state.rng.choice(state.libraries)
            offset = state.rng.randrange(max(1, count - 200)) if count > 200 else 0
            body = await timed_call(
                path, LIBRARY_IFACE, "ListItems", "uus", offset, 200, state.rng.choice(SORTS)
            )
            if body:
                state.learn(body[0])
        elif choice < list_share + search_share and state.words:
            words = " ".join(state.rng.sample(state.words, state.rng.choice((1, 2))))
            body = await timed_call(ROOT, MANAGER_IFACE, "Search", "su", words, 50)
            if body:
                state.learn(body[0])
        elif state.ids:
            await timed_call(ROOT, MANAGER_IFACE, "GetItem", "s", state.rng.choice(state.ids))
        else:
            await refresh_libraries()

    interval = 1 / calls_per_s
    next_at = loop.time() + state.rng.random() * interval
    next_refresh = loop.time() + 2.0
    while not stop.done():
        await asyncio.sleep(max(0.0, next_at - loop.time()))
        if loop.time() >= next_refresh:
            next_refresh = loop.time() + 2.0
            await refresh_libraries()
        else:
            await one_call()
        next_at = max(loop.time(), next_at + interval)
    bus.disconnect()
    for error in errors:
        print(f"client {seed}: {error}", file=sys.stderr)
    json.dump(records, sys.stdout)


# -- the orchestrator ---------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    started: float
    ended: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    #: CPU of the processes beside the daemon: the clients together, dbus-daemon, the fake server.
    others: dict[str, float] = field(default_factory=dict)
    load: float = 0.0


@dataclass
class Backend:
    """How to run one backend's fake server and add its account."""

    name: str
    fake_command: list[str]
    daemon_env: Callable[[str], dict[str, str]]
    add_account: Callable[[Any, str], Awaitable[Any]]


def backends(args: argparse.Namespace) -> dict[str, Backend]:
    size = [
        *("--movies", str(args.movies)),
        *("--seasons", str(args.seasons)),
        *("--episodes", str(args.episodes)),
    ]
    return {
        "jellyfin": Backend(
            "jellyfin",
            [
                *(sys.executable, "-m", "reeld.fakes.jellyfin", "--port", str(args.port)),
                *size,
                *("--series", str(args.shows), "--user", JELLYFIN_USER, "--password", JELLYFIN_PASSWORD),
            ],
            lambda _url: {},
            add_jellyfin,
        ),
        "plex": Backend(
            "plex",
            [
                *(sys.executable, "-m", "reeld.fakes.plex", "--port", str(args.port + 10), "--servers", "1"),
                *size,
                *("--shows", str(args.shows), "--token", PLEX_TOKEN),
            ],
            lambda url: {"REELD_PLEX_TV_URL": url},
            add_plex,
        ),
    }


async def add_jellyfin(client: Any, url: str) -> Any:
    return await call(
        client, ROOT, MANAGER_IFACE, "AddJellyfinAccount", "sss", url, JELLYFIN_USER, JELLYFIN_PASSWORD
    )


async def add_plex(client: Any, _url: str) -> Any:
    return await call(client, ROOT, MANAGER_IFACE, "AddPlexAccount", "s", PLEX_TOKEN)


def start_clients(
    address: str, count: int, rate: float, search_share: float, list_share: float
) -> list[subprocess.Popen[str]]:
    return [
        subprocess.Popen(
            [
                *(sys.executable, __file__, "--client", address, "--rate", str(rate / count)),
                *("--seed", str(n), "--search-share", str(search_share), "--list-share", str(list_share)),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(count)
    ]


def collect(clients: list[subprocess.Popen[str]]) -> list[tuple[float, float, str, bool]]:
    for client in clients:
        assert client.stdin is not None
        client.stdin.close()
    records: list[tuple[float, float, str, bool]] = []
    for client in clients:
        assert client.stdout is not None
        out = client.stdout.read()
        client.wait(timeout=60)
        records.extend(tuple(record) for record in json.loads(out))
    return records


def processes_cpu(pids: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds so far of each group of processes (a process gone counts 0)."""
    totals: dict[str, float] = {}
    for name, group in pids.items():
        totals[name] = 0.0
        for pid in group:
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                totals[name] += cpu_seconds_of(Path(f"/proc/{pid}/stat"))
    return totals


async def run_phases(
    address: str,
    backend: Backend,
    url: str,
    pid: int,
    others: dict[str, list[int]],
    args: argparse.Namespace,
) -> list[Phase]:
    client = await MessageBus(bus_address=address).connect()
    finished = await sync_finished_queue(client)
    phases: list[Phase] = []

    def begin(name: str) -> Phase:
        phase = Phase(name, time.monotonic(), cpu=thread_cpu_seconds(pid), others=processes_cpu(others))
        phases.append(phase)
        return phase

    def end(phase: Phase) -> None:
        phase.ended = time.monotonic()
        after = thread_cpu_seconds(pid)
        phase.cpu = {name: seconds - phase.cpu.get(name, 0.0) for name, seconds in after.items()}
        now = processes_cpu(others)
        phase.others = {name: seconds - phase.others.get(name, 0.0) for name, seconds in now.items()}
        phase.load = os.getloadavg()[0]

    await asyncio.sleep(2)  # the clients connect and start calling
    phase = begin("first sync")
    await backend.add_account(client, url)
    message = await asyncio.wait_for(finished.get(), 900)
    end(phase)
    source, success, reason = message.body
    assert success, reason
    await asyncio.sleep(5)  # the paging orders are rebuilt once the cache has been quiet for 2 s
    phase = begin("idle")
    print(f"idle from {time.monotonic():.1f} (CLOCK_MONOTONIC)", flush=True)
    await asyncio.sleep(args.idle_s)
    end(phase)
    if args.beside:
        phase = begin("sync beside")
        beside = await asyncio.create_subprocess_exec(
            *shlex.split(args.beside), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        await beside.wait()
        end(phase)
    phase = begin("full resync")
    await call(client, source, f"{NAME}.Source", "Sync", "b", True)
    message = await asyncio.wait_for(finished.get(), 900)
    end(phase)
    client.disconnect()
    return phases


def bench_backend(backend: Backend, args: argparse.Namespace) -> None:
    from tests.support.bus import start_bus
    from tests.support.keyring import start_keyring_daemon
    from tests.support.reeld import start_reeld

    fake = subprocess.Popen(
        ["nice", "-n", str(args.fake_nice), *backend.fake_command], stdout=subprocess.PIPE, text=True
    )
    assert fake.stdout is not None
    url = fake.stdout.readline().strip()
    assert url.startswith("http"), url
    bus = start_bus("session")
    keyring = start_keyring_daemon(bus)
    daemon = start_reeld(bus, env=backend.daemon_env(url))
    print(f"{backend.name}: daemon pid {daemon.proc.pid}", flush=True)
    clients = start_clients(bus.address, args.clients, args.rate, args.search_share, args.list_share)
    try:
        others = {
            "clients": [client.pid for client in clients],
            "dbus-daemon": [bus.process.pid],
            "fake server": [fake.pid],
        }
        phases = asyncio.run(run_phases(bus.address, backend, url, daemon.proc.pid, others, args))
        records = collect(clients)
        alive = daemon.running()
        if args.keep_cache:
            keep_cache(bus.state_home / "reeld" / "cache.db", args.keep_cache / f"{backend.name}.sqlite")
    finally:
        for client in clients:
            client.kill()
        daemon.stop()
        keyring.stop()
        bus.stop()
        fake.terminate()
    report(backend.name, args, phases, records, alive)
    if args.records:
        spans = [(phase.name, phase.started, phase.ended) for phase in phases]
        args.records.write_text(json.dumps({"phases": spans, "calls": records}))


def keep_cache(source: Path, copy: Path) -> None:
    """A consistent copy of the daemon's cache (SQLite's backup), for profiling its reads later."""
    import sqlite3

    copy.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source) as live, sqlite3.connect(copy) as kept:
        live.backup(kept)


def collector_cost(cache: Path, pages: int = 600) -> None:
    """In process, on a kept cache: ``pages`` ListItems pages of 200 read, converted and marshalled
    as the daemon does, with CPython's collector thresholds and with the daemon's; the CPU and the
    collector's time and longest pass for each."""
    import gc

    from reeld.cache import browse
    from reeld.cache.db import create_cache_engine
    from reeld.cli.daemon import GC_THRESHOLDS

    engine = create_cache_engine(cache)
    with engine.connect() as conn:
        largest = conn.exec_driver_sql(
            "SELECT source_id, library_id, count(*) FROM items WHERE top_level = 1 GROUP BY 1, 2 ORDER BY 3 DESC"
        ).first()
        assert largest is not None, f"no items in {cache}"
        source, library, count = largest
        order = browse.PageIndex().order(conn, 0, True, source, library, "title")
        assert order is not None
        gc.collect()
        gc.freeze()  # as the daemon does once it runs
        for thresholds in ((700, 10, 10), GC_THRESHOLDS, (700, 10, 10), GC_THRESHOLDS):
            gc.set_threshold(*thresholds)
            cpu, passes = timed_pages(lambda offset: read(conn, source, library, offset, order), count, pages)
            print(
                f"collector thresholds {thresholds}: {pages} pages took {cpu:.2f} s of CPU; the collector ran "
                f"{len(passes)} times for {sum(passes) * 1000:.0f} ms (wall), the longest pass "
                f"{max(passes, default=0) * 1000:.1f} ms"
            )


def call_cost(cache: Path, calls: int = 3000) -> None:
    """In process, on a kept cache: the clients' mix of calls (20 clients' choices, each learning
    ids and title words from its answers as ``ClientState`` does) made one after another on this
    thread, each read and turned into what the daemon sends; the CPU a call of each method took.
    The calls' own cost, without the bus, the loop or other threads: steadier than the latencies
    (which follow the machine's load), so a change to a read shows here first."""
    from reeld.bus.convert import item_to_dbus, items_to_wire
    from reeld.cache import browse
    from reeld.cache.db import create_cache_engine

    engine = create_cache_engine(cache)
    with engine.connect() as conn:
        source = conn.exec_driver_sql("SELECT source_id FROM items LIMIT 1").scalar_one()
        libraries = conn.exec_driver_sql(
            "SELECT library_id, count(*) FROM items WHERE source_id = ? AND top_level = 1 GROUP BY 1",
            (source,),
        ).all()
        page_index, generation = browse.PageIndex(), 1
        for library, _count in libraries:
            for sort in SORTS:
                page_index.order(conn, generation, True, source, library, sort)
        recent = browse.RecentSearches()
        clients = [ClientState(random.Random(seed)) for seed in range(20)]
        cpu: dict[str, float] = {}
        made: dict[str, int] = {}
        for number in range(calls):
            state = clients[number % len(clients)]
            choice = state.rng.random()
            started = time.thread_time()
            if choice < 0.4:
                library, count = state.rng.choice(libraries)
                offset = state.rng.randrange(max(1, count - 200)) if count > 200 else 0
                sort = state.rng.choice(SORTS)
                order = page_index.order(conn, generation, False, source, library, sort)
                rows = browse.list_library(
                    conn, source, library, offset, 200, sort, order, page_index.counts(generation, source)
                )
                items_to_wire(rows)
                method = "ListItems"
            elif choice < 0.7 and state.words:
                words = " ".join(state.rng.sample(state.words, state.rng.choice((1, 2))))
                rows = browse.search(conn, words, 50, recent, generation, page_index.all_counts(generation))
                items_to_wire(rows)
                method = "Search"
            elif state.ids:
                found = browse.get_item(conn, *state.rng.choice(state.ids).split(":", 1))
                rows, method = [], "GetItem"
                item_to_dbus(found)
            else:
                continue
            cpu[method] = cpu.get(method, 0.0) + time.thread_time() - started
            made[method] = made.get(method, 0) + 1
            if rows:
                state.learn([item_to_dbus(row) for row in rows])
        for method in sorted(cpu):
            print(
                f"{method:10} {made[method]:5} calls  {cpu[method] / made[method] * 1000:6.2f} ms of CPU a call"
            )
        print(
            f"all        {sum(made.values()):5} calls  {sum(cpu.values()) / sum(made.values()) * 1000:6.2f} ms"
        )


def read(conn: Any, source: str, library: str, offset: int, order: Any) -> Any:
    from reeld.bus.convert import items_to_dbus
    from reeld.cache import browse

    return items_to_dbus(browse.list_library(conn, source, library, offset, 200, "title", order))


def timed_pages(page_at: Callable[[int], Any], count: int, pages: int) -> tuple[float, list[float]]:
    """CPU seconds for ``pages`` pages made and marshalled, and each collector pass's seconds."""
    import gc

    passes: list[float] = []
    started: list[float] = []

    def timed(phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            started.append(time.perf_counter())
        else:
            passes.append(time.perf_counter() - started.pop())

    gc.callbacks.append(timed)
    rng = random.Random(1)
    waiting: list[Any] = []  # a couple of pages wait for the event loop to marshal them
    cpu = time.thread_time()
    for _ in range(pages):
        waiting.append(page_at(rng.randrange(max(1, count - 200))))
        if len(waiting) > 2:
            body = [waiting.pop(0)]
            Message(
                destination=":1.1", path="/", interface="a.b", member="c", signature="aa{sv}", body=body
            )._marshall(False)
    cpu = time.thread_time() - cpu
    gc.callbacks.remove(timed)
    return cpu, passes


def report(
    backend: str,
    args: argparse.Namespace,
    phases: list[Phase],
    records: list[tuple[float, float, str, bool]],
    alive: bool,
) -> None:
    print(f"\n{backend}: {args.clients} clients at ~{args.rate:g} calls/s; daemon still running: {alive}")
    for phase in phases:
        inside = [r for r in records if phase.started <= r[0] < phase.ended]
        seconds = phase.ended - phase.started
        errors = sum(1 for r in inside if not r[3])
        p50, p99 = percentiles_ms([r[1] for r in inside])
        worst = max((r[1] for r in inside), default=float("nan")) * 1000
        print(
            f"  {phase.name:12} {seconds:6.1f} s  {len(inside) / seconds:5.0f} calls/s  errors {errors}  "
            f"p50 {p50:5.1f} ms  p99 {p99:6.1f} ms  max {worst:6.1f} ms  (target p99 <= 50 ms; load avg {phase.load:.2f})"
        )
        for method in sorted({r[2] for r in inside}):
            times = [r[1] for r in inside if r[2] == method]
            m50, m99 = percentiles_ms(times)
            print(f"      {method:18} {len(times):6} calls  p50 {m50:5.1f} ms  p99 {m99:6.1f} ms")
        busy = sorted(((name, s) for name, s in phase.cpu.items() if s >= 0.05), key=lambda pair: -pair[1])
        print("      daemon CPU by thread: " + ", ".join(f"{name} {s:.2f} s" for name, s in busy))
        daemon_cpu = sum(phase.cpu.values())
        beside = ", ".join(f"{name} {s:.2f} s" for name, s in phase.others.items())
        cores = (daemon_cpu + sum(phase.others.values())) / seconds
        print(
            f"      daemon {daemon_cpu:.2f} s ({daemon_cpu / max(len(inside), 1) * 1000:.1f} ms a call); "
            f"beside it: {beside}; {cores:.2f} cores busy in all of them"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=("jellyfin", "plex", "both"), default="both")
    parser.add_argument("--clients", type=int, default=20, help="client processes (default 20)")
    parser.add_argument("--rate", type=float, default=200, help="calls a second, all clients (default 200)")
    parser.add_argument(
        "--search-share",
        type=float,
        default=0.3,
        help="share of calls that are Search (default 0.3; ListItems 0.4, GetItem the rest)",
    )
    parser.add_argument(
        "--list-share",
        type=float,
        default=0.4,
        help="share of calls that are ListItems (default 0.4); with --search-share 0 and a small "
        "share here, nearly every call is a GetItem: the floor that the machine and a sync leave",
    )
    parser.add_argument("--idle-s", type=float, default=15, help="length of the idle phase (default 15 s)")
    parser.add_argument(
        "--movies", type=int, default=20_000, help="movies in the fake catalog (default 20000)"
    )
    parser.add_argument("--shows", type=int, default=2_000, help="shows or series (default 2000)")
    parser.add_argument("--seasons", type=int, default=4, help="seasons per show (default 4)")
    parser.add_argument("--episodes", type=int, default=10, help="episodes per season (default 10)")
    parser.add_argument("--port", type=int, default=18500, help="port of the fake servers (default 18500)")
    parser.add_argument(
        "--keep-cache", type=Path, help="copy each backend's cache into this folder at the end"
    )
    parser.add_argument(
        "--collector",
        type=Path,
        metavar="CACHE",
        help="only measure the cycle collector's cost for pages read from CACHE (a --keep-cache copy)",
    )
    parser.add_argument(
        "--beside",
        metavar="COMMAND",
        help="after the idle phase, run COMMAND as a phase of its own ('sync beside'), the daemon idle: "
        "with 'nice -n 19 .venv/bin/python bench/bench_jellyfin_sync.py', a full sync of the same size "
        "in another process (a second daemon, its fake server and its client), at the lowest priority",
    )
    parser.add_argument(
        "--call-cost",
        type=Path,
        metavar="CACHE",
        help="only measure, in process, the CPU a call of each method takes on CACHE (a --keep-cache copy)",
    )
    parser.add_argument(
        "--records",
        type=Path,
        help="write every call as JSON [started, seconds, method, ok] and the phases here",
    )
    parser.add_argument(
        "--fake-nice",
        type=int,
        default=0,
        help="run the fake server at this nice value: 10 stands for a server on another machine, whose "
        "work does not take this machine's cores from the daemon and its clients (default 0)",
    )
    parser.add_argument("--client", metavar="ADDRESS", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        asyncio.run(client_main(args.client, args.rate, args.seed, args.search_share, args.list_share))
        return
    if args.collector:
        collector_cost(args.collector)
        return
    if args.call_cost:
        call_cost(args.call_cost)
        return
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    chosen = backends(args)
    for name in ("jellyfin", "plex") if args.backend == "both" else (args.backend,):
        bench_backend(chosen[name], args)


if __name__ == "__main__":
    main()
