"""Local-folder scan figures on a generated folder of ~20k files (target: full scan ≤ 5 s).

Prints, for one run on this machine (whole-run figures, nothing extrapolated):
- the full scan: ``get_libraries`` and a full listing of every library by a fresh backend;
- an incremental rescan with nothing changed, by the same backend (the scheduled sync);
- the same rescan by a fresh backend (the first sync after a daemon restart), and the same again
  with ``SyncContext.known`` holding the whole source's items rather than one library's;
- files per second for each, the CPU time the process spent (all threads: on a loaded machine the
  steadier figure), and how many names needed guessit;
- the classification alone of every name (CPU seconds, caches cleared first): the part a naming
  change costs, measurable on a loaded machine where the scans' wall times swing.

Run: ``.venv/bin/python bench/bench_local_scan.py [--files 20000]``. Only a temp dir is touched.
"""

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from reeld.backends.base import KnownItem, SyncContext
from reeld.backends.local import classify
from reeld.backends.local.backend import LocalBackend
from reeld.backends.local.scan import is_video_name
from reeld.fakes.media_folder import make_sample_folder


async def sync_all(
    backend: LocalBackend, known: dict[str, dict[str, KnownItem]] | None
) -> dict[str, dict[str, KnownItem]]:
    """One sync as the SyncManager runs it; returns what the cache would then know, per library."""
    seen: dict[str, dict[str, KnownItem]] = {}
    for library in await backend.get_libraries():
        lib_known = (known or {}).get(library.remote_id, {})
        ctx = SyncContext(full=known is None, known=lib_known)
        listed = seen.setdefault(library.remote_id, {})
        async for page in backend.list_items(library, ctx):
            for item in page.items:
                listed[item.remote_id] = KnownItem(item.etag, item.parent_id)
            for remote_id in page.unchanged:
                listed[remote_id] = lib_known[remote_id]
    return seen


async def timed(
    label: str, files: int, backend: LocalBackend, known: dict[str, dict[str, KnownItem]] | None
) -> dict[str, dict[str, KnownItem]]:
    started, cpu = time.perf_counter(), time.process_time()
    seen = await sync_all(backend, known)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    items = sum(len(listed) for listed in seen.values())
    guessed, GUESSIT_CALLS[0] = GUESSIT_CALLS[0], 0
    print(
        f"{label:<34} {seconds:6.2f} s (CPU {cpu:5.2f} s)  {files / seconds:9.0f} files/s  "
        f"{items} items  {guessed} names via guessit"
    )
    return seen


GUESSIT_CALLS = [0]


def count_guessit_calls() -> None:
    """Count the names that reach guessit (the slow path), run by run."""
    real = classify.classify_guessit

    def counted(relpath: str, size: int = 0) -> classify.Classification:
        GUESSIT_CALLS[0] += 1
        return real(relpath, size)

    classify.classify_guessit = counted


def classify_all(relpaths: list[str]) -> None:
    """Every name classified once, from cold caches, by CPU time (what the scan's parse costs)."""
    for value in vars(classify).values():
        if hasattr(value, "cache_clear"):
            value.cache_clear()
    started, cpu = time.perf_counter(), time.process_time()
    decided = sum(classify.classify_fast(path, 1 << 30) is not None for path in relpaths)
    fast_cpu = time.process_time() - cpu
    for path in relpaths:
        classify.classify(path, 1 << 30)
    GUESSIT_CALLS[0] = 0
    print(
        f"{'classify every name (cold)':<34} {time.perf_counter() - started:6.2f} s  "
        f"CPU {time.process_time() - cpu:.2f} s (fast path alone {fast_cpu:.2f} s); "
        f"the fast path decides {decided} of {len(relpaths)} ({100 * decided / len(relpaths):.1f}%)"
    )


async def main(target: int) -> None:
    count_guessit_calls()
    shows = max(1, target // 70)
    movies = max(1, target - shows * 60)
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        sample = make_sample_folder(Path(folder), movies=movies, shows=shows, seasons=4, episodes=15)
        print(
            f"generated {len(sample.files)} files ({sample.listed} video files to list: {sample.movies} movies, "
            f"{sample.episodes} episodes of {sample.shows} shows, {sample.others} extras) "
            f"in {time.perf_counter() - started:.2f} s"
        )
        files = sample.listed
        first = LocalBackend("bench", folder)
        known = await timed("full scan (fresh backend)", files, first, None)
        await timed("incremental, no change (same)", files, first, known)
        await timed("incremental, no change (restart)", files, LocalBackend("bench", folder), known)
        # What a restart would cost if the SyncManager passed the whole source's known items to each listing.
        merged = {rid: item for listed in known.values() for rid, item in listed.items()}
        whole = {library: merged for library in known}
        await timed("same, known items of whole source", files, LocalBackend("bench", folder), whole)
        classify_all([f.relpath for f in sample.files if is_video_name(f.relpath)])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--files",
        type=int,
        default=20_000,
        help="about how many files the generated folder holds (default 20000)",
    )
    asyncio.run(main(parser.parse_args().files))
