"""Browsing the way a UI does, with a 100k-item cache (issue 12 targets).

Seeds a cache with one local source: a Movies library (60,000 films with genres, years, dates,
a third watched, some with a resume point) and a TV library (800 shows x 5 seasons x 10 episodes,
every fourth show begun), about 105,000 items; starts the daemon on a private bus; then, over D-Bus
from this process:

- ``Library.Query`` of 200 with a filter (watched, genre, years, in progress, text, several at
  once…), random sorts (reversed too) and offsets: p50 / p99 (target p99 <= 20 ms), in two phases:
  **cold**, each combination asked once right after start, answered by SQL (the library's facets
  not built yet); **steady**, once the facets are built (the daemon builds them in the background
  a moment after the first Query of a library, once the cache is quiet);
- ``ListItems`` of 200 shows, which now carry child, episode and unwatched counts, next to a page
  of 200 films, as the baseline of a page without counts;
- ``Manager.NextUp(50)`` with 200 shows under way;
- the daemon's RSS after it all.

Run: ``.venv/bin/python bench/bench_query.py [--movies 60000 --shows 800]``. Nothing outside a temp
dir is touched.
"""

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_core import call, percentiles, start_bus
from common import freeze_client_heap, thread_cpu_seconds
from dbus_fast import MessageType, Variant
from dbus_fast.aio import MessageBus

from reeld.cache import queries
from reeld.cache.db import Database
from reeld.models.media import ItemKind, Library, LibraryKind, MediaItem, WatchState
from reeld.models.source import ConnectionKind, Source

SOURCE = "local_bench000000000000"
LIBRARY = f"/io/github/reeld/Reeld1/sources/{SOURCE}/libraries/"
IFACE = "io.github.reeld.Reeld1.Library"
GENRES = ["Drama", "Comedy", "Thriller", "Science Fiction", "Documentary", "Animation", "Crime", "Romance"]
WORDS = ["Silent", "Crimson", "Harbor", "Winter", "Garden", "Broken", "Arrow", "Distant", "Echo", "Iron"]
FILTERS: list[dict[str, Variant]] = [
    {"watched": Variant("b", False)},
    {"watched": Variant("b", True)},
    {"in_progress": Variant("b", True)},
    {"genre": Variant("s", "drama")},
    {"genre": Variant("s", "Science Fiction"), "watched": Variant("b", False)},
    {"year_min": Variant("u", 1990), "year_max": Variant("u", 1999)},
    {"added_since": Variant("t", 1_600_030_000)},
    {"text": Variant("s", "crimson")},
    {"genre": Variant("s", "Comedy"), "year_min": Variant("u", 1970), "watched": Variant("b", False)},
]
SORTS = ["title", "-title", "added", "-added", "year", "rating", "-rating", "last_viewed", "random"]


def seed_cache(state_dir: Path, config_dir: Path, movies: int, shows: int) -> int:
    """The cache and a config naming its account; returns how many items it holds."""
    media = state_dir.parent.parent / "media"
    media.mkdir(parents=True)
    config_dir.mkdir(parents=True)
    (config_dir / "config.toml").write_text(
        f'[sync]\nsync_on_start = false\n\n[[accounts]]\nid = "{SOURCE}"\nkind = "local"\n'
        f'display_name = "Bench"\nidentity = "{media}"\npath = "{media}"\n'
    )
    rng = random.Random(12)
    count = 0

    async def fill() -> None:
        nonlocal count
        db = Database(state_dir / "cache.db")
        await db.open()
        source = Source(
            SOURCE, SOURCE, "local", "Bench", media.as_uri(), ConnectionKind.FILE, {"path": str(media)}
        )
        await db.write(queries.save_source, source)
        found = [
            Library("movies", "Movies", LibraryKind.MOVIES),
            Library("shows", "TV Shows", LibraryKind.SHOWS),
        ]
        await db.write(queries.replace_libraries, SOURCE, found)
        page: list[MediaItem] = []

        async def flush(at_least: int) -> None:
            nonlocal count
            if len(page) >= at_least:
                await db.write(queries.upsert_items, SOURCE, page)
                count += len(page)
                page.clear()

        for n in range(movies):
            rid = f"Movies/Film {n}.mkv"
            roll = rng.random()
            page.append(
                MediaItem(
                    remote_id=rid,
                    library_id="movies",
                    kind=ItemKind.MOVIE,
                    title=f"{rng.choice(WORDS)} {rng.choice(WORDS)} {n}",
                    year=1950 + n % 70,
                    added_at=1_600_000_000 + n,
                    duration_ms=5_400_000,
                    rating=n % 10 / 1.0,
                    genres=rng.sample(GENRES, rng.randrange(1, 3)),
                    etag=str(n),
                    watch=WatchState(
                        rid,
                        watched=roll < 0.33,
                        position_ms=600_000 if 0.33 <= roll < 0.4 else 0,
                        last_viewed_at=1_650_000_000 + n if roll < 0.4 else None,
                    ),
                )
            )
            await flush(5000)
        for s in range(shows):
            show = f"TV/Show {s}"
            page.append(
                MediaItem(
                    show,
                    "shows",
                    ItemKind.SHOW,
                    f"Show {s}",
                    year=1990 + s % 30,
                    added_at=1_500_000_000 + s,
                    genres=rng.sample(GENRES, 2),
                )
            )
            for season in range(1, 6):
                season_id = f"{show}/Season {season}"
                page.append(
                    MediaItem(
                        season_id, "shows", ItemKind.SEASON, f"Season {season}", parent_id=show, index=season
                    )
                )
                for e in range(1, 11):
                    rid = f"{season_id}/E{e}.mkv"
                    seen = s % 4 == 0 and (season, e) <= (2, 3)
                    page.append(
                        MediaItem(
                            rid,
                            "shows",
                            ItemKind.EPISODE,
                            f"Episode {e}",
                            parent_id=season_id,
                            index=e,
                            parent_index=season,
                            show_title=f"Show {s}",
                            watch=WatchState(
                                rid,
                                watched=True,
                                view_count=1,
                                last_viewed_at=1_700_000_000 + s * 100 + season * 10 + e,
                            )
                            if seen
                            else None,
                        )
                    )
            await flush(5000)
        await flush(1)
        # Synced before: the daemon does not rescan the (empty) folder while we measure.
        await db.write(queries.mark_source_synced, SOURCE, int(time.time()), True)
        await db.close()

    asyncio.run(fill())
    return count


async def timed(
    client: MessageBus, path: str, iface: str, member: str, sig: str, body: list[object]
) -> tuple[float, list[object]]:
    started = time.perf_counter()
    reply = await call(client, path, iface, member, sig, body)
    elapsed = time.perf_counter() - started
    assert reply.message_type == MessageType.METHOD_RETURN, reply.body
    return elapsed, reply.body


async def query_round(
    client: MessageBus, combos: list[tuple[dict[str, Variant], str]], rng: random.Random
) -> tuple[list[float], list[int], list[float]]:
    """Each combination's first page, then a page further down: (all times, totals, first pages' times)."""
    times, totals, firsts = [], [], []
    for flt, sort in combos:
        first_total = None
        for _ in range(2):  # a first page, then one further down the same result
            offset = 0 if first_total is None else rng.randrange(0, max(1, first_total - 200))
            elapsed, (items, total) = await timed(
                client, LIBRARY + "movies", IFACE, "Query", "a{sv}uus", [flt, offset, 200, sort]
            )
            assert len(items) == min(200, max(0, total - offset)), (flt, sort, offset, total, len(items))
            if first_total is None:
                firsts.append(elapsed)
            first_total = total
            times.append(elapsed)
            totals.append(total)
    return times, totals, firsts


async def measure(address: str, env: dict[str, str], items: int) -> dict[str, object]:
    freeze_client_heap()
    client = await MessageBus(bus_address=address).connect()
    log = Path(env["HOME"], "daemon.log").open("w")  # noqa: SIM115 - lives as long as the daemon
    daemon = __import__("subprocess").Popen([sys.executable, "-m", "reeld.cli.daemon"], env=env, stderr=log)
    while not (
        await call(
            client,
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "NameHasOwner",
            "s",
            ["io.github.reeld.Reeld1"],
        )
    ).body[0]:
        await asyncio.sleep(0.01)
    rng = random.Random(3)
    combos = [(flt, sort) for flt in FILTERS for sort in SORTS]
    rng.shuffle(combos)
    # Cold: every combination right after start, before the facets exist (they wait for a quiet cache).
    cold_first = combos[:12]
    cold, _, _ = await query_round(client, cold_first, rng)
    await asyncio.sleep(4.0)  # the facets are built in the background meanwhile
    steady: list[float] = []
    totals: list[int] = []
    firsts: list[float] = []
    threads_before = thread_cpu_seconds(daemon.pid)
    for _ in range(3):
        rng.shuffle(combos)
        times, found, first_pages = await query_round(client, combos, rng)
        steady += times
        totals += found
        firsts += first_pages
    threads = {
        name: spent - threads_before.get(name, 0.0) for name, spent in thread_cpu_seconds(daemon.pid).items()
    }
    listing: dict[str, list[float]] = {"movies": [], "shows": []}
    for library, size in (("movies", 60_000), ("shows", 800)):
        for _ in range(100):
            offset = rng.randrange(0, max(1, size - 200))
            elapsed, _ = await timed(
                client,
                LIBRARY + library,
                IFACE,
                "ListItems",
                "uus",
                [offset, 200, rng.choice(["title", "added", "year"])],
            )
            listing[library].append(elapsed)
    next_up = []
    for _ in range(50):
        elapsed, (found_next,) = await timed(
            client, "/io/github/reeld/Reeld1", "io.github.reeld.Reeld1.Manager", "NextUp", "u", [50]
        )
        next_up.append(elapsed)
    await asyncio.sleep(0.5)
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
        "cold": percentiles("cold", cold),
        "cold_max_ms": max(cold) * 1000,
        "steady": percentiles("steady", steady),
        "steady_calls": len(steady),
        "firsts": percentiles("firsts", firsts),
        "threads": threads,
        "combos": len(combos),
        "median_total": statistics.median(totals),
        "movies": percentiles("movies", listing["movies"]),
        "shows": percentiles("shows", listing["shows"]),
        "next_up": percentiles("next_up", next_up),
        "next_up_found": len(found_next),
        "rss_mb": rss_kb / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--movies", type=int, default=60_000, help="films in the Movies library (default 60000)"
    )
    parser.add_argument("--shows", type=int, default=800, help="shows of 5 x 10 episodes (default 800)")
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
        items = seed_cache(tmp / "state" / "reeld", tmp / "config" / "reeld", args.movies, args.shows)
        bus, address = start_bus(tmp)
        env["DBUS_SESSION_BUS_ADDRESS"] = address
        env.pop("DBUS_SYSTEM_BUS_ADDRESS", None)
        try:
            figures = asyncio.run(measure(address, env, items))
        except Exception:
            print((tmp / "daemon.log").read_text()[-3000:])
            raise
        finally:
            bus.terminate()
    cold, steady = figures["cold"], figures["steady"]
    print(f"cache: {items:,} items ({args.movies:,} films; {args.shows} shows x 5 seasons x 10 episodes)")
    print(
        f"Query(filter, offset, 200, sort) on the films, {figures['combos']} filter x sort combinations, "
        f"a first page and one further down each (median total {figures['median_total']:,.0f} matches):"
    )
    print(
        f"  cold, by SQL before the facets exist: p50 {cold['cold_p50_ms']:.1f} ms, "
        f"max {figures['cold_max_ms']:.1f} ms (24 calls)"
    )
    print(
        f"  steady, with the facets: p50 {steady['steady_p50_ms']:.1f} ms, p99 {steady['steady_p99_ms']:.1f} ms "
        f"over {figures['steady_calls']} calls (target p99 <= 20 ms)"
    )
    firsts = figures["firsts"]
    print(
        f"    of which the first page of a combination: p50 {firsts['firsts_p50_ms']:.1f} ms, "
        f"p99 {firsts['firsts_p99_ms']:.1f} ms"
    )
    busy = sorted(figures["threads"].items(), key=lambda pair: -pair[1])[:6]
    print(
        "    daemon CPU meanwhile, by thread: " + ", ".join(f"{name} {spent:.2f} s" for name, spent in busy)
    )
    print(
        f"ListItems(200): films p50 {figures['movies']['movies_p50_ms']:.1f} / p99 {figures['movies']['movies_p99_ms']:.1f} ms; "
        f"shows, with child/episode/unwatched counts, p50 {figures['shows']['shows_p50_ms']:.1f} / p99 {figures['shows']['shows_p99_ms']:.1f} ms"
    )
    print(
        f"NextUp(50) with {args.shows // 4} shows under way: p50 {figures['next_up']['next_up_p50_ms']:.1f} / "
        f"p99 {figures['next_up']['next_up_p99_ms']:.1f} ms ({figures['next_up_found']} found)"
    )
    print(f"daemon RSS after all this: {figures['rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
