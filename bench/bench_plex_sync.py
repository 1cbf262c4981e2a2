"""Plex sync against the fake plex.tv and server (issue 4 targets).

Starts ``python -m reeld.fakes.plex --servers 1`` with ~100k items (20k movies, 2k shows x 4 seasons
x 10 episodes). Its one server lists a LAN address that refuses and a live remote one. In the same
run, on the same server:

- the **floor**: the listing pages a full sync fetches (same page size and concurrency), fetched and
  JSON-decoded, with no mapping and no cache writes;
- **reeld**: the daemon (a subprocess on a private bus, with a real gnome-keyring) adds the account
  by token, discovers the server, chooses its address and runs the first, full sync; wall time from
  ``AddPlexAccount`` returning to ``SyncFinished``, with ``ListItems(…, 200)`` sampled over D-Bus;
- peak daemon RSS (VmHWM) and a no-change incremental sync (time, and bytes against the full sync's);
- **the plexapi way**: ``section.all()`` for movies and shows, then ``show.episodes()`` for each
  show, mapped with reeld's own mapping into a cache of the same schema (same write path);
- **address choice**: a server whose LAN address never answers (black hole) and whose remote one
  does, chosen by ``PlexBackend.initialize`` several times; the target is the grace period + 0.5 s.

Run: ``.venv/bin/python bench/bench_plex_sync.py [--movies 20000 --shows 2000 --seasons 4 --episodes 10]``
(``--skip-plexapi`` leaves out the slow baseline).
"""

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import msgspec
from dbus_fast.aio import MessageBus

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from common import (  # noqa: E402
    NAME,
    ROOT,
    call,
    capacity_line,
    cpu_seconds,
    first_and_no_change_sync,
    thread_cpu_line,
)

from reeld.backends.plex import connection as plex_connection  # noqa: E402
from reeld.backends.plex.backend import CONCURRENT_PAGES, PAGE_SIZE, PlexBackend, ServerSettings  # noqa: E402
from reeld.backends.plex.dto import MetadataDto, decode_listing  # noqa: E402
from reeld.backends.plex.mapping import item_from_metadata  # noqa: E402
from reeld.backends.plex.plextv import PlexConnection, identity_headers  # noqa: E402
from reeld.cache import queries  # noqa: E402
from reeld.cache.db import Database  # noqa: E402
from reeld.fakes.plex import CatalogSpec, ConnectionSpec, FakePlexCluster, ServerSpec  # noqa: E402
from reeld.models.media import Library, LibraryKind  # noqa: E402
from reeld.models.source import Source  # noqa: E402
from tests.support.bus import start_bus  # noqa: E402
from tests.support.keyring import start_keyring_daemon  # noqa: E402
from tests.support.reeld import start_reeld  # noqa: E402

TOKEN = "bench-plex-token"
PAGE, CONCURRENCY = PAGE_SIZE, CONCURRENT_PAGES  # the floor fetches the pages the daemon fetches
LISTINGS = ((1, 1), (2, 2), (2, 3), (2, 4))  # (section, type): movies; shows, seasons, episodes
PLEX_HEADERS = {"X-Plex-Token": TOKEN, "Accept": "application/json", **identity_headers("bench")}


def start_fake(args: argparse.Namespace) -> tuple[subprocess.Popen[str], str, str]:
    """The fake plex.tv on ``--port`` and its server on the port after; (process, plex.tv URL, server URL)."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reeld.fakes.plex",
            *("--port", str(args.port), "--servers", "1", "--token", TOKEN),
            *("--movies", str(args.movies), "--shows", str(args.shows)),
            *("--seasons", str(args.seasons), "--episodes", str(args.episodes)),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    assert url.startswith("http"), url
    return proc, url, f"http://127.0.0.1:{args.port + 1}"


async def floor(server: str) -> tuple[float, int, int]:
    """Fetch and decode what a full sync fetches: (seconds, items, bytes)."""
    async with httpx.AsyncClient(base_url=server, timeout=60, headers=PLEX_HEADERS) as http:
        semaphore = asyncio.Semaphore(CONCURRENCY)

        async def page(section: int, plex_type: int, start: int, size: int) -> tuple[int, int]:
            async with semaphore:
                response = await http.get(
                    f"/library/sections/{section}/all",
                    params={"type": plex_type, "includeGuids": 1},
                    headers={"X-Plex-Container-Start": str(start), "X-Plex-Container-Size": str(size)},
                )
                # Decoded as the daemon decodes a listing (typed, the fields it reads).
                return len(response.content), decode_listing(response.content).total_size or 0

        started = time.perf_counter()
        total_bytes = items = 0
        for section, plex_type in LISTINGS:
            _, total = await page(section, plex_type, 0, 0)
            results = await asyncio.gather(
                *(page(section, plex_type, s, PAGE) for s in range(0, total, PAGE))
            )
            total_bytes += sum(r[0] for r in results)
            items += total
        return time.perf_counter() - started, items, total_bytes


async def through_daemon(address: str, server: str, pid: int, server_pid: int) -> dict[str, float]:
    async def add_account(client: MessageBus) -> object:
        return await call(client, ROOT, f"{NAME}.Manager", "AddPlexAccount", "s", TOKEN)

    async with httpx.AsyncClient(base_url=server) as control:

        async def bytes_sent() -> int:
            return int((await control.get("/__control/requests")).json()["bytesSent"])

        async def reset_bytes() -> None:
            await control.delete("/__control/requests")

        return await first_and_no_change_sync(address, pid, add_account, bytes_sent, reset_bytes, server_pid)


def as_metadata(attributes: Mapping[str, str]) -> MetadataDto:
    """An XML element's attributes (all strings) as the entry a JSON listing gives."""
    return msgspec.convert(dict(attributes), MetadataDto, strict=False)


def plexapi_way(server: str) -> tuple[float, int]:
    """What a client built on plexapi does: every movie and show, then each show's episodes, into the cache."""
    from plexapi.server import PlexServer

    async def run() -> tuple[float, int]:
        with tempfile.TemporaryDirectory() as folder:
            db = Database(Path(folder) / "cache.sqlite")
            await db.open()
            source = Source("plex_bench", "plextv_bench", "plex", "Bench")
            await db.write(queries.save_source, source)
            libraries = [
                Library("1", "Movies", LibraryKind.MOVIES),
                Library("2", "TV Shows", LibraryKind.SHOWS),
            ]
            await db.write(queries.replace_libraries, source.id, libraries)
            started = time.perf_counter()
            plex = await asyncio.to_thread(PlexServer, server, TOKEN)
            written = 0

            async def store(objects: list[Any], library_id: str) -> None:
                nonlocal written
                page = [
                    item
                    for obj in objects
                    if (item := item_from_metadata(as_metadata(obj._data.attrib), library_id, server))
                    is not None
                ]
                await db.write(queries.upsert_items, source.id, page)
                written += len(page)

            for section_id in ("1", "2"):
                section = await asyncio.to_thread(plex.library.sectionByID, int(section_id))
                top = await asyncio.to_thread(section.all)
                await store(top, section_id)
                if section.type == "show":
                    for show in top:
                        await store(await asyncio.to_thread(show.episodes), section_id)
            elapsed = time.perf_counter() - started
            await db.close()
            return elapsed, written

    return asyncio.run(run())


async def address_choice(rounds: int) -> list[float]:
    """Seconds to choose an address for a server whose LAN address is a black hole and remote one answers."""
    spec = ServerSpec(
        "Choice",
        catalog=CatalogSpec(movies=1, shows=0),
        connections=(ConnectionSpec.timeout(local=True), ConnectionSpec.live(local=False)),
    )
    async with FakePlexCluster([spec], token=TOKEN) as cluster:
        fake = cluster.servers[0]
        settings = ServerSettings(
            fake.machine_identifier,
            fake.name,
            tuple(
                PlexConnection(c.uri, c.spec.local, c.spec.relay, c.spec.protocol) for c in fake.connections
            ),
        )
        elapsed = []
        for _ in range(rounds):
            backend = PlexBackend("plex_choice", settings, _token, _headers)
            started = time.perf_counter()
            await backend.initialize()
            elapsed.append(time.perf_counter() - started)
            assert backend.address == fake.url, backend.address
            await backend.aclose()
        return elapsed


async def _token() -> str:
    return TOKEN


async def _headers() -> dict[str, str]:
    return identity_headers("bench")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--movies", type=int, default=20_000, help="movies in the fake catalog (default 20000)"
    )
    parser.add_argument("--shows", type=int, default=2_000, help="shows (default 2000)")
    parser.add_argument("--seasons", type=int, default=4, help="seasons per series or show (default 4)")
    parser.add_argument("--episodes", type=int, default=10, help="episodes per season (default 10)")
    parser.add_argument(
        "--port",
        type=int,
        default=18400,
        help="port of the fake plex.tv; its servers take the ports after it (default 18400)",
    )
    parser.add_argument(
        "--skip-plexapi", action="store_true", help="skip the slow plexapi comparison (about 150 s)"
    )
    args = parser.parse_args()
    fake, plex_tv, server = start_fake(args)
    bus = start_bus("session")
    keyring = start_keyring_daemon(bus)
    daemon = start_reeld(bus, env={"REELD_PLEX_TV_URL": plex_tv})
    try:
        # Once to warm the fake (it renders an item's JSON once and keeps it; its listings are
        # sorted once): the sync that follows finds it warm, so the floor must too.
        asyncio.run(floor(server))
        server_before = cpu_seconds(fake.pid)
        floor_s, floor_items, floor_bytes = asyncio.run(floor(server))
        floor_server_cpu = cpu_seconds(fake.pid) - server_before
        figures = asyncio.run(through_daemon(bus.address, server, daemon.proc.pid, fake.pid))
        baseline = None if args.skip_plexapi else plexapi_way(server)
    finally:
        daemon.stop()
        keyring.stop()
        bus.stop()
        fake.terminate()
    choices = asyncio.run(address_choice(5))
    print(f"catalog: {floor_items:,} listed items ({floor_bytes / 1e6:.1f} MB of JSON)")
    print(
        f"floor: fetch + decode the same pages              {floor_s:.2f} s ({floor_items / floor_s:,.0f} items/s)"
    )
    print(
        f"reeld full sync (AddPlexAccount → SyncFinished)   {figures['full']:.2f} s "
        f"({figures['items'] / figures['full']:,.0f} items/s; {figures['full'] / floor_s:.2f}x the floor; "
        f"targets <= 10 s and <= 1.5x)"
    )
    if baseline is not None:
        plexapi_s, plexapi_items = baseline
        print(
            f"plexapi way (all() + episodes() per show)          {plexapi_s:.2f} s for {plexapi_items:,} items; "
            f"reeld is {plexapi_s / figures['full']:.1f}x faster (target >= 5x)"
        )
    print(f"peak daemon RSS                                   {figures['peak_mb']:.0f} MB (target <= 200 MB)")
    print(
        f"daemon CPU during the full sync                   {figures['full_cpu']:.2f} s "
        f"({1e6 * figures['full_cpu'] / figures['items']:.0f} µs per item)"
    )
    print(thread_cpu_line(figures))
    print(capacity_line(floor_s, floor_server_cpu, figures))
    print(
        f"ListItems(0, 200) during the sync: p50 {figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms "
        f"over {figures['samples']:.0f} calls"
    )
    print(
        f"no-change incremental sync                        {figures['incremental']:.2f} s (target <= 1 s), "
        f"{figures['incremental_bytes'] / 1e3:.0f} kB = {100 * figures['bytes_ratio']:.1f} % of the full sync's bytes"
    )
    grace = plex_connection.GRACE_S
    print(
        f"address choice, LAN dead (no answer) + remote live: median {statistics.median(choices):.2f} s, "
        f"max {max(choices):.2f} s over {len(choices)} (target <= grace {grace:g} s + 0.5 s)"
    )


if __name__ == "__main__":
    main()
