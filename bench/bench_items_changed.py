"""``Library.ItemsChanged`` after its cause, with a 100k-item cache (issue 12: <= 500 ms), and what
recording changes costs a first sync's writes.

1. Seeds the cache ``bench_query.py`` seeds (about 105,000 items of one local source), starts the
   daemon on a private bus and, from one client, marks films watched and reports progress while a
   second client listens: the time from the call to the second client's ``ItemsChanged`` naming the
   item, p50 / p99 / max. Calls are spaced past the 250 ms coalescing window, so each is a first
   change after a quiet spell (the case a person sees); a burst inside a window waits for it.
2. Writes 100,000 items into a fresh cache in transactions of 5,000 (a first sync's batches), with
   the change triggers and without, alternately, three times each: the triggers' cost, in one run.

Run: ``.venv/bin/python bench/bench_items_changed.py [--samples 100]``.
"""

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_core import call, start_bus
from bench_query import SOURCE, seed_cache
from common import freeze_client_heap
from dbus_fast import Message, MessageType
from dbus_fast.aio import MessageBus

from reeld.cache import queries
from reeld.cache.changes import install_triggers, take_changes
from reeld.cache.db import WRITER_CACHE_KIB, create_cache_engine, migrate
from reeld.models.media import ItemKind, Library, LibraryKind, MediaItem, WatchState
from reeld.models.source import Source

NAME = "io.github.reeld.Reeld1"
MANAGER = ("/io/github/reeld/Reeld1", "io.github.reeld.Reeld1.Manager")


async def signal_latencies(address: str, env: dict[str, str], samples: int) -> dict[str, list[float]]:
    freeze_client_heap()
    actor = await MessageBus(bus_address=address).connect()
    listener = await MessageBus(bus_address=address).connect()
    log = Path(env["HOME"], "daemon.log").open("w")  # noqa: SIM115 - lives as long as the daemon
    daemon = subprocess.Popen([sys.executable, "-m", "reeld.cli.daemon"], env=env, stderr=log)
    try:
        while not (
            await call(actor, "/org/freedesktop/DBus", "org.freedesktop.DBus", "NameHasOwner", "s", [NAME])
        ).body[0]:
            await asyncio.sleep(0.01)
        arrived: dict[str, float] = {}
        waiting: dict[str, asyncio.Event] = {}

        def on_message(message: Message) -> bool:
            if message.message_type == MessageType.SIGNAL and message.member == "ItemsChanged":
                for item_id in message.body[0]:
                    if item_id in waiting:
                        arrived[item_id] = time.perf_counter()
                        waiting[item_id].set()
            return False

        listener.add_message_handler(on_message)
        await call(
            listener,
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "AddMatch",
            "s",
            [f"type='signal',sender='{NAME}',member='ItemsChanged'"],
        )
        figures: dict[str, list[float]] = {"SetWatched": [], "ReportProgress": []}
        for n in range(samples):
            for member, signature, args in (
                ("SetWatched", "sb", [True]),
                ("ReportProgress", "sts", [60_000 + n, "paused"]),
            ):
                item_id = f"{SOURCE}:Movies/Film {n * 7 + (member == 'ReportProgress')}.mkv"
                waiting[item_id] = asyncio.Event()
                started = time.perf_counter()
                reply = await call(actor, *MANAGER, member, signature, [item_id, *args])
                assert reply.message_type != MessageType.ERROR, reply.body
                async with asyncio.timeout(10):
                    await waiting.pop(item_id).wait()
                figures[member].append(arrived.pop(item_id) - started)
                await asyncio.sleep(0.3)  # past the coalescing window: the next is a first change again
        return figures
    finally:
        daemon.terminate()
        daemon.wait(10)
        log.close()
        actor.disconnect()
        listener.disconnect()


def write_cost(tracked: bool, items: list[MediaItem]) -> float:
    """Seconds to write ``items`` into a fresh cache, 5,000 a transaction, as the sync's writer does."""
    with tempfile.TemporaryDirectory() as name:
        engine = create_cache_engine(
            Path(name) / "cache.db", cache_kib=WRITER_CACHE_KIB, pool_size=1, writer=True
        )
        migrate(engine)
        source = "local_bench_writes"
        with engine.begin() as conn:
            queries.save_source(conn, Source(id=source, account_id="b", kind="local", name="Bench"))
            queries.replace_libraries(conn, source, [Library("movies", "Movies", LibraryKind.MOVIES)])
        started = time.perf_counter()
        for start in range(0, len(items), 5000):
            with engine.begin() as conn:
                if tracked and not conn.info.get("tracks_changes"):
                    install_triggers(conn)
                    conn.info["tracks_changes"] = True
                queries.upsert_items(conn, source, items[start : start + 5000])
                if tracked:
                    take_changes(conn)
        elapsed = time.perf_counter() - started
        engine.dispose()
        return elapsed


def synthetic_items(count: int) -> list[MediaItem]:
    return [
        MediaItem(
            remote_id=f"id{n}",
            library_id="movies",
            kind=ItemKind.EPISODE if n % 10 else ItemKind.MOVIE,
            title=f"Title number {n}",
            year=2000 + n % 20,
            summary="A summary of some length. " * 8,
            etag=str(n),
            watch=WatchState(f"id{n}", watched=n % 7 == 0, view_count=int(n % 7 == 0)),
        )
        for n in range(count)
    ]


def line(name: str, timings: list[float]) -> str:
    ordered = sorted(timings)
    p99 = ordered[max(0, int(len(ordered) * 0.99) - 1)]
    return (
        f"  {name}: p50 {statistics.median(ordered) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
        f"max {ordered[-1] * 1000:.1f} ms over {len(ordered)} calls (target <= 500 ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--samples", type=int, default=100, help="calls of each kind (default 100)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        env = {
            **os.environ,
            "XDG_CONFIG_HOME": str(tmp / "config"),
            "XDG_STATE_HOME": str(tmp / "state"),
            "XDG_CACHE_HOME": str(tmp / "cache"),
            "HOME": str(tmp),
        }
        items = seed_cache(tmp / "state" / "reeld", tmp / "config" / "reeld", 60_000, 800)
        bus, address = start_bus(tmp)
        env["DBUS_SESSION_BUS_ADDRESS"] = address
        env.pop("DBUS_SYSTEM_BUS_ADDRESS", None)
        try:
            figures = asyncio.run(signal_latencies(address, env, args.samples))
        except Exception:
            print((tmp / "daemon.log").read_text()[-3000:])
            raise
        finally:
            bus.terminate()
    print(f"cache: {items:,} items; ItemsChanged seen by a second client, from the call:")
    for member, timings in figures.items():
        print(line(member, timings))
    written = synthetic_items(100_000)
    plain, tracked = [], []
    for _ in range(3):
        plain.append(write_cost(False, written))
        tracked.append(write_cost(True, written))
    ratio = statistics.median(tracked) / statistics.median(plain)
    print(
        f"100,000 items written in 5,000-item transactions: without change triggers "
        f"{', '.join(f'{s:.2f}' for s in plain)} s; with them {', '.join(f'{s:.2f}' for s in tracked)} s "
        f"(median {ratio:.2f}x)"
    )
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
