"""Jellyfin sync against the fake server (issue 3 targets).

Starts ``python -m reeld.fakes.jellyfin`` with ~110k items (20k movies, 2k series x 4 seasons x 10
episodes), then in the same run:

- the **floor**: the same listing pages fetched (same page size and concurrency) and JSON-decoded,
  with no mapping and no cache writes;
- **reeld**: the daemon (a subprocess on a private bus, with a real gnome-keyring) adds the account
  and runs its first, full sync; wall time from ``AddJellyfinAccount`` returning to ``SyncFinished``,
  with ``ListItems(…, 200)`` sampled over D-Bus all the while (the loop must never block);
- peak daemon RSS (VmHWM) and a no-change incremental sync, time and bytes against the full sync's.

Run: ``.venv/bin/python bench/bench_jellyfin_sync.py [--movies 20000 --series 2000 --seasons 4 --episodes 10]``.
"""

import argparse
import asyncio
import subprocess
import sys
import time
from pathlib import Path

import httpx
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

from reeld.backends.jellyfin.backend import CONCURRENT_PAGES, PAGE_SIZE  # noqa: E402
from reeld.backends.jellyfin.client import authorization  # noqa: E402
from reeld.backends.jellyfin.dto import decode_items  # noqa: E402
from reeld.backends.jellyfin.mapping import FIELDS, IMAGE_TYPES, INCLUDE_TYPES, library_from_view  # noqa: E402
from tests.support.bus import start_bus  # noqa: E402
from tests.support.keyring import start_keyring_daemon  # noqa: E402
from tests.support.reeld import start_reeld  # noqa: E402

USER, PASSWORD = "bench", "bench-password"
PAGE, CONCURRENCY = PAGE_SIZE, CONCURRENT_PAGES  # the floor fetches the pages the daemon fetches


def start_fake(args: argparse.Namespace, port: int) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reeld.fakes.jellyfin",
            "--port",
            str(port),
            "--movies",
            str(args.movies),
            "--series",
            str(args.series),
            "--seasons",
            str(args.seasons),
            "--episodes",
            str(args.episodes),
            "--user",
            USER,
            "--password",
            PASSWORD,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    assert url.startswith("http"), url
    return proc, url


async def floor(url: str) -> tuple[float, int, int]:
    """Fetch and decode what a full sync fetches: (seconds, items, bytes)."""
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        auth = {"Authorization": authorization("bench-floor")}
        login = (
            await http.post(
                "/Users/AuthenticateByName", json={"Username": USER, "Pw": PASSWORD}, headers=auth
            )
        ).json()
        headers = {"Authorization": authorization("bench-floor", login["AccessToken"])}
        user = login["User"]["Id"]
        started = time.perf_counter()
        total_bytes = items = 0
        views = decode_items(
            (await http.get("/UserViews", params={"userId": user}, headers=headers)).content
        ).items
        semaphore = asyncio.Semaphore(CONCURRENCY)

        async def page(library_id: str, types: str, start: int) -> tuple[int, int]:
            async with semaphore:
                response = await http.get(
                    "/Items",
                    headers=headers,
                    params={
                        "userId": user,
                        "ParentId": library_id,
                        "Recursive": "true",
                        "IncludeItemTypes": types,
                        "Fields": FIELDS,
                        "EnableImageTypes": IMAGE_TYPES,
                        "ImageTypeLimit": 1,
                        "SortBy": "SortName",
                        "SortOrder": "Ascending",
                        "StartIndex": start,
                        "Limit": PAGE,
                        "EnableTotalRecordCount": "true",
                    },
                )
                # Decoded as the daemon decodes a listing (typed, the fields it reads).
                return len(response.content), decode_items(response.content).total_record_count

        for view in views:
            library = library_from_view(view)
            types = INCLUDE_TYPES.get(library.kind)
            if types is None:
                continue
            size, total = await page(library.remote_id, types, 0)
            results = await asyncio.gather(
                *(page(library.remote_id, types, s) for s in range(PAGE, total, PAGE))
            )
            total_bytes += size + sum(r[0] for r in results)
            items += total
        return time.perf_counter() - started, items, total_bytes


async def through_daemon(address: str, url: str, pid: int, server_pid: int) -> dict[str, float]:
    async def add_account(client: MessageBus) -> str:
        (account,) = await call(
            client, ROOT, f"{NAME}.Manager", "AddJellyfinAccount", "sss", url, USER, PASSWORD
        )
        return str(account).replace("/accounts/", "/sources/")

    async with httpx.AsyncClient(base_url=url) as control:

        async def bytes_sent() -> int:
            return int((await control.get("/__control/stats")).json()["bytes_sent"])

        async def reset_bytes() -> None:
            await control.post("/__control/reset")

        return await first_and_no_change_sync(address, pid, add_account, bytes_sent, reset_bytes, server_pid)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--movies", type=int, default=20_000, help="movies in the fake catalog (default 20000)"
    )
    parser.add_argument("--series", type=int, default=2_000, help="series (default 2000)")
    parser.add_argument("--seasons", type=int, default=4, help="seasons per series or show (default 4)")
    parser.add_argument("--episodes", type=int, default=10, help="episodes per season (default 10)")
    parser.add_argument("--port", type=int, default=18096, help="port of the fake server (default 18096)")
    args = parser.parse_args()
    fake, url = start_fake(args, args.port)
    bus = start_bus("session")
    keyring = start_keyring_daemon(bus)
    daemon = start_reeld(bus)
    try:
        # Once to warm the fake (it renders an item's JSON once and keeps it; its listings are
        # sorted once): the sync that follows finds it warm, so the floor must too.
        asyncio.run(floor(url))
        server_before = cpu_seconds(fake.pid)
        floor_s, floor_items, floor_bytes = asyncio.run(floor(url))
        floor_server_cpu = cpu_seconds(fake.pid) - server_before
        figures = asyncio.run(through_daemon(bus.address, url, daemon.proc.pid, fake.pid))
    finally:
        daemon.stop()
        keyring.stop()
        bus.stop()
        fake.terminate()
    print(f"catalog: {floor_items:,} listed items ({floor_bytes / 1e6:.1f} MB of JSON)")
    print(
        f"floor: fetch + decode the same pages            {floor_s:.2f} s ({floor_items / floor_s:,.0f} items/s)"
    )
    print(
        f"reeld full sync (AddJellyfinAccount → SyncFinished) {figures['full']:.2f} s "
        f"({figures['items'] / figures['full']:,.0f} items/s; {figures['full'] / floor_s:.2f}x the floor; "
        f"targets <= 10 s and <= 1.5x)"
    )
    print(f"peak daemon RSS                                 {figures['peak_mb']:.0f} MB (target <= 200 MB)")
    print(
        f"daemon CPU during the full sync                 {figures['full_cpu']:.2f} s "
        f"({1e6 * figures['full_cpu'] / figures['items']:.0f} µs per item)"
    )
    print(thread_cpu_line(figures))
    print(capacity_line(floor_s, floor_server_cpu, figures))
    print(
        f"ListItems(0, 200) during the sync: p50 {figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms "
        f"over {figures['samples']:.0f} calls (target p99 <= 50 ms)"
    )
    print(
        f"no-change incremental sync                      {figures['incremental']:.2f} s (target <= 1 s), "
        f"{figures['incremental_bytes'] / 1e3:.0f} kB = {100 * figures['bytes_ratio']:.1f} % of the full sync's "
        f"bytes (target <= 5 %)"
    )


if __name__ == "__main__":
    main()
