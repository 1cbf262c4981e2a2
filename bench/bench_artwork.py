"""Artwork (issue 12 targets): posters of 2,000 top-level items cached from the fake Jellyfin while
a client keeps listing, GetArtwork answered from the cache, and the daemon's idle memory after.

Starts ``python -m reeld.fakes.jellyfin`` (2,000 movies and their albums by default), a private bus,
a real gnome-keyring and the daemon, then in one run:

- **posters**: from ``AddJellyfinAccount`` returning until the poster of every top-level item is a
  file in the artwork cache (the folder is counted every 0.2 s), with ``ListItems(0, 200)`` on every
  library sampled over D-Bus all the while (the sync and the prefetch must never block the loop);
- **GetArtwork from the cache**: ``GetArtwork(item, "poster", 320)`` for random items, p50 / p99;
- **idle RSS** of the daemon a few seconds after everything settled.

Run: ``.venv/bin/python bench/bench_artwork.py [--movies 2000] [--calls 2000]``.
"""

import argparse
import asyncio
import os
import random
import subprocess
import sys
import time
from pathlib import Path

from dbus_fast.aio import MessageBus

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from common import (  # noqa: E402
    NAME,
    ROOT,
    call,
    cpu_seconds,
    freeze_client_heap,
    memory_mb,
    percentiles_ms,
    sample_list_items,
    sync_finished_queue,
    thread_cpu_line,
    thread_cpu_seconds,
)

from tests.support.bus import start_bus  # noqa: E402
from tests.support.keyring import start_keyring_daemon  # noqa: E402
from tests.support.reeld import start_reeld  # noqa: E402

USER, PASSWORD = "bench", "bench-password"


def start_fake(movies: int, port: int) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "reeld.fakes.jellyfin", "--port", str(port), "--movies", str(movies)]
    command += ["--series", "0", "--user", USER, "--password", PASSWORD]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    assert url.startswith("http"), url
    return proc, url


def posters_cached(folder: Path, kind: str = "poster") -> int:
    """Poster files in the artwork cache (temporary files are not counted)."""
    if not folder.is_dir():
        return 0
    count = 0
    with os.scandir(folder) as subfolders:
        for sub in subfolders:
            if sub.is_dir():
                with os.scandir(sub.path) as files:
                    count += sum(
                        1 for entry in files if ".poster." in entry.name and not entry.name.startswith(".")
                    )
    return count


def backdrops_cached(folder: Path) -> int:
    return posters_cached(folder, "backdrop")


async def library_ids(client: MessageBus) -> tuple[list[str], list[str]]:
    """(library paths, every top-level item id)."""
    (objects,) = await call(client, ROOT, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects")
    libraries = [path for path, interfaces in objects.items() if f"{NAME}.Library" in interfaces]
    ids: list[str] = []
    for library in libraries:
        offset = 0
        while True:
            (page,) = await call(client, library, f"{NAME}.Library", "ListItems", "uus", offset, 500, "")
            ids += [item["id"].value for item in page]
            if len(page) < 500:
                break
            offset += 500
    return libraries, ids


async def posters_phase(address: str, url: str, folder: Path, pid: int, fake_pid: int) -> dict[str, float]:
    """A new account: its sync, then every poster, with ListItems sampled all the while."""
    freeze_client_heap()
    client = await MessageBus(bus_address=address).connect()
    finished = await sync_finished_queue(client)
    started = time.perf_counter()
    fake_before = cpu_seconds(fake_pid)
    await call(client, ROOT, f"{NAME}.Manager", "AddJellyfinAccount", "sss", url, USER, PASSWORD)
    latencies: list[float] = []
    sampler = asyncio.get_running_loop().create_task(sample_list_items(client, latencies))
    message = await asyncio.wait_for(finished.get(), 300)
    synced = time.perf_counter() - started
    assert message.body[1], message.body[2]
    during_sync = len(latencies)
    threads_before = thread_cpu_seconds(pid)
    _, ids = await library_ids(client)
    while posters_cached(folder) < len(ids):
        if time.perf_counter() - started > 300:
            raise AssertionError(f"only {posters_cached(folder)} of {len(ids)} posters after 300 s")
        await asyncio.sleep(0.2)
    posters = time.perf_counter() - started
    sampler.cancel()
    by_thread = {
        f"cpu:{name}": seconds - threads_before.get(name, 0.0)
        for name, seconds in thread_cpu_seconds(pid).items()
        if seconds - threads_before.get(name, 0.0) >= 0.05
    }
    p50, p99 = percentiles_ms(latencies[during_sync:])
    fake_cpu = cpu_seconds(fake_pid) - fake_before
    while backdrops_cached(folder) < len(ids) and time.perf_counter() - started < 600:
        await asyncio.sleep(0.5)  # then the backdrops (not timed)
    # The same calls with the daemon at rest, as long as the posters took: the machine's own p99.
    rest: list[float] = []
    sampler = asyncio.get_running_loop().create_task(sample_list_items(client, rest))
    await asyncio.sleep(posters - synced)
    sampler.cancel()
    rest_p50, rest_p99 = percentiles_ms(rest)
    rss = memory_mb(pid)
    client.disconnect()
    return {
        "items": float(len(ids)),
        "synced": synced,
        "posters": posters,
        **by_thread,
        "fake_cpu": fake_cpu,
        "during_p50": p50,
        "during_p99": p99,
        "samples": float(len(latencies) - during_sync),
        "rest_p50": rest_p50,
        "rest_p99": rest_p99,
        "rest_samples": float(len(rest)),
        "after_rss": rss["VmRSS"],
        "after_peak": rss["VmHWM"],
    }


async def cached_phase(address: str, pid: int, calls: int, artwork: bool, prefix: str) -> dict[str, float]:
    """A daemon started on the cache, its server away: GetItem of random items (the floor) and,
    with ``artwork``, GetArtwork of their posters; then its RSS at rest."""
    freeze_client_heap()
    client = await MessageBus(bus_address=address).connect()
    _, ids = await library_ids(client)
    rng = random.Random(1)
    timed: dict[str, list[float]] = {"GetArtwork": [], "GetItem": []}
    for _ in range(calls):
        item = rng.choice(ids)
        for member, signature, body in (
            ("GetItem", "s", [item]),
            ("GetArtwork", "ssu", [item, "poster", 320]),
        ):
            if member == "GetArtwork" and not artwork:
                continue
            begun = time.perf_counter()
            await call(client, ROOT, f"{NAME}.Manager", member, signature, *body)
            timed[member].append(time.perf_counter() - begun)
    await asyncio.sleep(5)
    rss = memory_mb(pid)
    client.disconnect()
    figures = dict(zip(("item_p50", "item_p99"), percentiles_ms(timed["GetItem"]), strict=True))
    if artwork:
        figures |= dict(zip(("get_p50", "get_p99"), percentiles_ms(timed["GetArtwork"]), strict=True))
    figures["idle_rss"] = rss["VmRSS"]
    return {f"{prefix}{key}": value for key, value in figures.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--movies", type=int, default=2_000, help="movies in the fake catalog (default 2000)")
    parser.add_argument("--calls", type=int, default=2_000, help="GetArtwork calls timed (default 2000)")
    parser.add_argument("--port", type=int, default=18097, help="port of the fake server (default 18097)")
    args = parser.parse_args()
    fake, url = start_fake(args.movies, args.port)
    bus = start_bus("session")
    keyring = start_keyring_daemon(bus)
    daemon = start_reeld(bus)
    try:
        folder = bus.cache_home / "reeld" / "artwork"
        figures = asyncio.run(posters_phase(bus.address, url, folder, daemon.proc.pid, fake.pid))
        daemon.stop()
        fake.terminate()  # from here on the server is away: nothing is fetched, everything is cached
        daemon = start_reeld(bus, number=1)
        figures |= asyncio.run(cached_phase(bus.address, daemon.proc.pid, args.calls, True, "with_"))
        daemon.stop()
        folder.rename(folder.with_name("artwork-aside"))
        daemon = start_reeld(bus, number=2)
        figures |= asyncio.run(cached_phase(bus.address, daemon.proc.pid, args.calls, False, "without_"))
    finally:
        daemon.stop()
        keyring.stop()
        bus.stop()
        fake.terminate()
    print(f"catalog: {figures['items']:,.0f} top-level items (movies and albums), one poster each")
    print(f"first sync (AddJellyfinAccount → SyncFinished)   {figures['synced']:.2f} s")
    print(f"every poster cached (from AddJellyfinAccount)   {figures['posters']:.2f} s (target <= 30 s)")
    print(
        thread_cpu_line(figures).replace("  by thread", "  daemon CPU after the sync until then, by thread")
    )
    print(f"  the fake server's CPU meanwhile: {figures['fake_cpu']:.2f} s")
    print(
        f"ListItems(0, 200) after the sync, while the posters came: p50 {figures['during_p50']:.1f} ms, "
        f"p99 {figures['during_p99']:.1f} ms over {figures['samples']:.0f} calls (target p99 <= 50 ms)"
    )
    print(
        f"ListItems(0, 200) with the daemon at rest, as long: p50 {figures['rest_p50']:.1f} ms, "
        f"p99 {figures['rest_p99']:.1f} ms over {figures['rest_samples']:.0f} calls (the machine's own)"
    )
    print(
        f"daemon RSS once the backdrops came too: {figures['after_rss']:.1f} MB (peak {figures['after_peak']:.1f} MB)"
    )
    print("a daemon restarted on that cache, the server away:")
    print(
        f"  GetArtwork(item, poster, 320) from the cache: p50 {figures['with_get_p50']:.2f} ms, "
        f"p99 {figures['with_get_p99']:.2f} ms over {args.calls} calls (target p99 <= 5 ms)"
    )
    print(
        f"  GetItem of the same items (the floor): p50 {figures['with_item_p50']:.2f} ms, "
        f"p99 {figures['with_item_p99']:.2f} ms"
    )
    print(f"  RSS at rest after that: {figures['with_idle_rss']:.1f} MB (target <= 80 MB)")
    print(
        f"the same daemon without its artwork folder (GetItem only): RSS at rest {figures['without_idle_rss']:.1f} MB; "
        f"GetItem p50 {figures['without_item_p50']:.2f} ms, p99 {figures['without_item_p99']:.2f} ms"
    )


if __name__ == "__main__":
    main()
