"""Daemon core figures with a 100k-item cache (issue 2 targets).

Prints, for one run on this machine:
- cold start: process start → bus name owned and ``ListItems(0, 100)`` answered (target ≤ 0.6 s),
  next to the bare-interpreter baseline of importing the stack (same run);
- ``ListItems`` pages of 200 over D-Bus: p50 / p99 (targets ≤ 5 ms / ≤ 20 ms), and a
  ``Version`` property read as the bus round-trip baseline. Timed by two clients: dbus-fast in this
  process, and GDBus from C (``list_items_client.c``, built when cc and GLib's headers are there),
  the library a GNOME frontend uses. Each is also timed against a bare dbus-fast service sending
  200 ready-made items (the floor);
- idle daemon RSS (target ≤ 80 MB).

Run: ``.venv/bin/python bench/bench_core.py [--items 100000]``. Nothing outside a temp dir is touched.
"""

import argparse
import asyncio
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import freeze_client_heap
from dbus_fast import Message, MessageType
from dbus_fast.aio import MessageBus

from reeld.cache import queries
from reeld.cache.db import Database
from reeld.models.media import ItemKind, Library, LibraryKind, MediaItem, WatchState
from reeld.models.source import ConnectionKind, Source

BUS_NAME = "io.github.reeld.Reeld1"
SOURCE = "local_bench000000000000"


def seed_cache(state_dir: Path, config_dir: Path, items: int) -> str:
    """A cache with one local source holding ``items`` movies, and a config naming its account."""
    media = state_dir.parent.parent / "media"
    media.mkdir(parents=True)
    config_dir.mkdir(parents=True)
    (config_dir / "config.toml").write_text(
        f'[sync]\nsync_on_start = false\n\n[[accounts]]\nid = "{SOURCE}"\nkind = "local"\n'
        f'display_name = "Bench"\nidentity = "{media}"\npath = "{media}"\n'
    )

    async def fill() -> None:
        db = Database(state_dir / "cache.db")
        await db.open()
        source = Source(
            SOURCE, SOURCE, "local", "Bench", media.as_uri(), ConnectionKind.FILE, {"path": str(media)}
        )
        await db.write(queries.save_source, source)
        await db.write(queries.replace_libraries, SOURCE, [Library("movies", "Movies", LibraryKind.MOVIES)])
        for start in range(0, items, 5000):
            page = [
                MediaItem(
                    remote_id=f"Movies/Film {n}.mkv",
                    library_id="movies",
                    kind=ItemKind.MOVIE,
                    title=f"Film number {n}",
                    year=1950 + n % 70,
                    added_at=1_600_000_000 + n,
                    duration_ms=5_400_000,
                    rating=n % 10 / 1.0,
                    etag=str(n),
                    watch=WatchState(f"Movies/Film {n}.mkv", watched=n % 3 == 0),
                )
                for n in range(start, min(items, start + 5000))
            ]
            await db.write(queries.upsert_items, SOURCE, page)
        # Synced before: the daemon does not rescan the (empty) folder while we measure.
        await db.write(queries.mark_source_synced, SOURCE, int(time.time()), True)
        await db.close()

    asyncio.run(fill())
    return SOURCE


def start_bus(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    bus = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--print-address=1"], stdout=subprocess.PIPE, cwd=tmp
    )
    assert bus.stdout is not None
    return bus, bus.stdout.readline().decode().strip()


async def call(
    bus: MessageBus, path: str, iface: str, member: str, sig: str = "", body: list[object] | None = None
) -> Message:
    destination = "org.freedesktop.DBus" if iface == "org.freedesktop.DBus" else BUS_NAME
    reply = await bus.call(
        Message(
            destination=destination, path=path, interface=iface, member=member, signature=sig, body=body or []
        )
    )
    assert reply is not None
    return reply


async def measure(address: str, env: dict[str, str], items: int, c_client: Path | None) -> dict[str, float]:
    freeze_client_heap()
    client = await MessageBus(bus_address=address).connect()
    lib = f"/io/github/reeld/Reeld1/sources/{SOURCE}/libraries/movies"
    iface = "io.github.reeld.Reeld1.Library"
    started = time.perf_counter()
    log = Path(env["HOME"], "daemon.log").open("w")  # noqa: SIM115 - lives as long as the daemon
    daemon = subprocess.Popen([sys.executable, "-m", "reeld.cli.daemon"], env=env, stderr=log)
    while True:  # poll the name at 2 ms: the cost of the poll is far below what is measured
        reply = await call(
            client, "/org/freedesktop/DBus", "org.freedesktop.DBus", "NameHasOwner", "s", [BUS_NAME]
        )
        if reply.body[0]:
            break
        await asyncio.sleep(0.002)
    owned = time.perf_counter() - started
    reply = await call(client, lib, iface, "ListItems", "uus", [0, 100, ""])
    assert reply.message_type == MessageType.METHOD_RETURN, reply.body
    first_page = time.perf_counter() - started

    # Steady state: a daemon that has been up a few seconds (paging orders built in the background).
    await asyncio.sleep(3.0)
    timings = []
    for _ in range(300):
        offset = random.randrange(0, max(1, items - 200))
        sort = random.choice(["title", "added", "year", "rating"])
        t0 = time.perf_counter()
        reply = await call(client, lib, iface, "ListItems", "uus", [offset, 200, sort])
        timings.append(time.perf_counter() - t0)
        assert len(reply.body[0]) == 200
    baseline = []
    for _ in range(300):
        t0 = time.perf_counter()
        await call(
            client,
            "/io/github/reeld/Reeld1",
            "org.freedesktop.DBus.Properties",
            "Get",
            "ss",
            ["io.github.reeld.Reeld1.Manager", "Version"],
        )
        baseline.append(time.perf_counter() - t0)
    c_timings = await c_client_timings(c_client, address, BUS_NAME, lib, iface, "ListItems", str(items))
    await asyncio.sleep(0.5)  # let it settle: "idle" RSS
    rss_kb = int(
        next(
            line
            for line in Path(f"/proc/{daemon.pid}/status").read_text().splitlines()
            if line.startswith("VmRSS")
        ).split()[1]
    )
    daemon.terminate()
    daemon.wait(10)
    log.close()
    client.disconnect()
    return {
        "owned_s": owned,
        "first_page_s": first_page,
        **percentiles("py", timings),
        "rtt_p50_ms": statistics.median(baseline) * 1000,
        "rss_mb": rss_kb / 1024,
        **percentiles("c", c_timings),
    }


# The floor of a ListItems page over D-Bus: a bare dbus-fast service (its own process, as the daemon
# is) answering with 200 ready-made items of the same keys and types, no database and no conversion.
FLOOR_SERVICE = """
import asyncio, sys
from typing import Annotated
from dbus_fast import Variant
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import DBusSignature
from dbus_fast.service import ServiceInterface, method

def item(n):
    s = lambda v: Variant("s", v)
    return {"id": s(f"local_bench:Movies/Film {n}.mkv"), "source": Variant("o", "/io/github/reeld/Reeld1/sources/x"),
            "library": Variant("o", "/io/github/reeld/Reeld1/sources/x/libraries/movies"), "watched": Variant("b", False),
            "kind": s("movie"), "title": s(f"Film number {n}"), "year": Variant("u", 1990), "duration_ms": Variant("t", 5400000),
            "added_at": Variant("t", 1600000000 + n), "rating": Variant("d", 7.0), "view_count": Variant("u", 0),
            "position_ms": Variant("t", 0)}

ITEMS = [item(n) for n in range(200)]

class Floor(ServiceInterface):
    @method()
    def Page(self) -> Annotated[list, DBusSignature("aa{sv}")]:
        return ITEMS

async def main():
    bus = await MessageBus(bus_address=sys.argv[1]).connect()
    bus.export("/floor", Floor("bench.Floor"))
    await bus.request_name("bench.Floor")
    print("ready", flush=True)
    await bus.wait_for_disconnect()

asyncio.run(main())
"""


async def floor_latency(address: str, c_client: Path | None) -> dict[str, float]:
    proc = subprocess.Popen([sys.executable, "-c", FLOOR_SERVICE, address], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    freeze_client_heap()
    client = await MessageBus(bus_address=address).connect()
    timings = []
    for _ in range(300):
        t0 = time.perf_counter()
        reply = await client.call(
            Message(destination="bench.Floor", path="/floor", interface="bench.Floor", member="Page")
        )
        timings.append(time.perf_counter() - t0)
        assert reply is not None and len(reply.body[0]) == 200
    client.disconnect()
    c_timings = await c_client_timings(
        c_client, address, "bench.Floor", "/floor", "bench.Floor", "Page", "200"
    )
    proc.terminate()
    proc.wait(10)
    return {**percentiles("py", timings), **percentiles("c", c_timings)}


C_CLIENT = Path(__file__).with_name("list_items_client.c")


def build_c_client(tmp: Path) -> Path | None:
    """The GDBus (C) timing client, built into ``tmp``; None without a compiler or GLib's headers."""
    binary = tmp / "list_items_client"
    try:
        flags = subprocess.run(
            ["pkg-config", "--cflags", "--libs", "gio-2.0"], capture_output=True, text=True, check=True
        ).stdout.split()
        subprocess.run(["cc", "-O2", "-o", str(binary), str(C_CLIENT), *flags], check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return binary


async def c_client_timings(c_client: Path | None, address: str, *call: str) -> list[float]:
    """Seconds per call (300 calls) as timed by the C client; [] when it could not be built.

    ``call``: destination, path, interface, method and the number of items to page through.
    """
    if c_client is None:
        return []
    proc = await asyncio.create_subprocess_exec(
        str(c_client), address, *call[:4], "300", call[4], stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"{c_client.name} exited with {proc.returncode}")
    return [float(line) for line in out.split()]


def percentiles(prefix: str, timings: list[float]) -> dict[str, float]:
    """p50 and p99 in ms under ``{prefix}_p50_ms`` / ``{prefix}_p99_ms``; NaN for no timings."""
    if not timings:
        return {f"{prefix}_p50_ms": math.nan, f"{prefix}_p99_ms": math.nan}
    ordered = sorted(timings)
    return {
        f"{prefix}_p50_ms": statistics.median(ordered) * 1000,
        f"{prefix}_p99_ms": ordered[int(len(ordered) * 0.99) - 1] * 1000,
    }


def import_baseline() -> float:
    code = "import sqlalchemy, httpx, dbus_fast, structlog, apscheduler, keyring"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--items", type=int, default=100_000, help="items seeded into the cache (default 100000)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        env = {
            **os.environ,
            "XDG_CONFIG_HOME": str(tmp / "config"),
            "XDG_STATE_HOME": str(tmp / "state"),
            "HOME": str(tmp),
        }
        t0 = time.perf_counter()
        seed_cache(tmp / "state" / "reeld", tmp / "config" / "reeld", args.items)
        seeded = time.perf_counter() - t0
        bus, address = start_bus(tmp)
        env["DBUS_SESSION_BUS_ADDRESS"] = address
        env.pop("DBUS_SYSTEM_BUS_ADDRESS", None)
        c_client = build_c_client(tmp)
        try:
            baseline = import_baseline()
            try:
                figures = asyncio.run(measure(address, env, args.items, c_client))
                floor = asyncio.run(floor_latency(address, c_client))
            except Exception:
                print((tmp / "daemon.log").read_text()[-3000:])
                raise
        finally:
            bus.terminate()
    print(f"cache seeded with {args.items} items in {seeded:.2f} s ({args.items / seeded:,.0f} rows/s)")
    print(f"baseline: python + stack imports          {baseline:.3f} s")
    print(f"cold start: bus name owned                 {figures['owned_s']:.3f} s")
    print(
        f"cold start: ListItems(0, 100) answered      {figures['first_page_s']:.3f} s   (target <= 0.6 s; "
        f"{figures['first_page_s'] / baseline:.2f}x the import baseline)"
    )
    print(f"bus round trip (a property read), p50       {figures['rtt_p50_ms']:.2f} ms")
    print("ListItems(200) over D-Bus, p50 / p99 (targets 5 / 20 ms), and the floor: a bare dbus-fast")
    print("service answering 200 ready-made items of the same shape:")
    clients = [("py", "dbus-fast client (Python)")]
    if c_client is None:
        print("  (GDBus client in C not built: it needs cc, pkg-config and libglib2.0-dev)")
    else:
        clients.append(("c", "GDBus client (C)"))
    for prefix, name in clients:
        p50, p99 = figures[f"{prefix}_p50_ms"], figures[f"{prefix}_p99_ms"]
        floor_p50, floor_p99 = floor[f"{prefix}_p50_ms"], floor[f"{prefix}_p99_ms"]
        print(
            f"  {name:27} ListItems {p50:5.2f} / {p99:5.2f} ms   floor {floor_p50:5.2f} / {floor_p99:5.2f} ms"
            f"   ({p50 / floor_p50:.1f}x / {p99 / floor_p99:.1f}x)"
        )
    print(f"idle daemon RSS                             {figures['rss_mb']:.1f} MB (target <= 80 MB)")


if __name__ == "__main__":
    main()
