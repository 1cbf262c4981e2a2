"""A local folder of 50k audio tracks through the whole daemon: AddLocalFolder → SyncFinished.

The tracks are real, tiny files of the five formats in turn by album (MP3, FLAC, Opus, Ogg Vorbis,
M4A; ``reeld/fakes/audio.py``), tagged as a tagger leaves them, in ``Artist/Album (year)/NN - Title``
folders. Prints, from one run: the tag reading alone (one thread, then the listing as the backend
does it, worker processes included), the first sync through the daemon (target ≤ 20 s), a
no-change rescan (no file read again), and the daemon's RSS after.

Run: ``.venv/bin/python bench/bench_music.py [--artists 1000 --albums 5 --tracks 10]``.
"""

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path

from bench_core import start_bus
from bench_local_sync import through_daemon

from reeld.backends.base import SyncContext
from reeld.backends.local import music
from reeld.backends.local.backend import LocalBackend
from reeld.backends.local.music import read_tags_chunk
from reeld.backends.local.scan import MUSIC, walk_folder
from reeld.fakes.audio import make_music_folder


async def listing_only(path: Path, processes: bool) -> float:
    """The music library's listing as a sync consumes it: walk, tags (worker processes or one
    thread), items."""
    music.PROCESS_POOL_MIN_FILES = 2000 if processes else 1 << 40
    backend = LocalBackend("bench", str(path))
    started = time.perf_counter()
    await backend.initialize()
    count = 0
    async for page in backend.list_items(MUSIC, SyncContext(full=True)):
        count += len(page.items)
    await backend.aclose()
    assert count, "no items listed"
    return time.perf_counter() - started


def one_thread(path: Path) -> tuple[float, dict[str, tuple[int, float]]]:
    """The walk and every file's tags in one thread; per format, how many files and their time."""
    started = time.perf_counter()
    files = walk_folder(str(path)).audio
    by_format: dict[str, list[str]] = {}
    for file in files:
        by_format.setdefault(file.path.rpartition(".")[2], []).append(file.path)
    costs = {}
    for fmt, paths in by_format.items():
        begun = time.perf_counter()
        read_tags_chunk(paths)
        costs[fmt] = (len(paths), time.perf_counter() - begun)
    return time.perf_counter() - started, costs


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--artists", type=int, default=1000, help="artists (default 1000)")
    parser.add_argument("--albums", type=int, default=5, help="albums per artist (default 5)")
    parser.add_argument("--tracks", type=int, default=10, help="tracks per album (default 10)")
    parser.add_argument(
        "--formats",
        default="mp3,flac,mp3,flac,m4a,mp3,flac,opus,mp3,ogg",
        help="the albums' formats in turn (default: a library mostly of MP3 and FLAC, some M4A, Opus, Ogg)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        started = time.perf_counter()
        folder = make_music_folder(
            tmp / "media",
            artists=args.artists,
            albums_per_artist=args.albums,
            tracks_per_album=args.tracks,
            formats=tuple(args.formats.split(",")),
        )
        written = time.perf_counter() - started
        size = sum(f.stat().st_size for f in (tmp / "media").rglob("*") if f.is_file())
        serial, costs = one_thread(folder.root)
        in_thread = asyncio.run(listing_only(folder.root, processes=False))
        in_processes = asyncio.run(listing_only(folder.root, processes=True))
        env = {
            **os.environ,
            "XDG_CONFIG_HOME": str(tmp / "config"),
            "XDG_STATE_HOME": str(tmp / "state"),
            "HOME": str(tmp),
        }
        bus, address = start_bus(tmp)
        env["DBUS_SESSION_BUS_ADDRESS"] = address
        env.pop("DBUS_SYSTEM_BUS_ADDRESS", None)
        try:
            figures = asyncio.run(through_daemon(address, env, folder.root))
        finally:
            bus.terminate()
        # The daemon logs each listing's time (JSON lines): the first is the first sync's.
        listed = [
            json.loads(line)["seconds"]
            for line in (tmp / "daemon.log").read_text().splitlines()
            if '"local_music_listing"' in line
        ]
    tracks = len(folder.tracks)
    print(
        f"folder: {tracks} tracks, {len(folder.albums)} albums, {len(folder.artists)} artists, "
        f"{size / 1e6:.0f} MB (written in {written:.1f} s); {os.cpu_count()} CPUs"
    )
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    for fmt, (count, seconds) in sorted(costs.items()):
        print(f"  .{fmt}: {count} files, {seconds / count * 1e6:.0f} µs a file")
    print(
        f"walk + tags in one thread                          {serial:.2f} s ({serial / tracks * 1e6:.0f} µs a file)"
    )
    print(f"music listing (walk, tags, items), tags in a thread     {in_thread:.2f} s")
    print(f"music listing (walk, tags, items), tags in processes    {in_processes:.2f} s")
    print(
        f"first sync through the daemon (AddLocalFolder → SyncFinished)  {figures['full']:.2f} s (target <= 20 s)"
    )
    if listed:
        print(f"  of which the music listing (walk, tags, items) in the daemon  {listed[0]:.2f} s")
    print(f"no-change rescan (Sync false)                          {figures['incremental']:.2f} s")
    print(f"daemon RSS after: {figures['rss']:.0f} MB, peak {figures['peak']:.0f} MB")


if __name__ == "__main__":
    main()
