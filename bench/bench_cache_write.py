"""The cache write of a Plex first sync on its own, against the floor (why issue 4's 1.5x is out of reach).

Starts ``python -m reeld.fakes.plex`` with ~110k items, measures the floor as
``bench_plex_sync.py`` does (the pages fetched and decoded, against a warm server), then maps the
same pages into items and writes them into a fresh cache on one thread, as the daemon's writer
does (``_write_batch`` in transactions of ``WRITE_BATCH_ITEMS``):

- with the cache's schema as shipped (sort indexes, the parent and library indexes, search);
- with only the table and its unique key (every other index and the search trigger dropped).

If the write alone, with every core to itself, takes more than 1.5x the floor, no overlap of
fetching and writing can bring a whole sync under 1.5x the floor.

Run: ``.venv/bin/python bench/bench_cache_write.py [--movies 20000 --shows 2000 --seasons 4 --episodes 10]``.
"""

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench_plex_sync import LISTINGS, PAGE, PLEX_HEADERS, floor, start_fake  # noqa: E402

from reeld.backends.base import ItemPage  # noqa: E402
from reeld.backends.plex.dto import decode_listing  # noqa: E402
from reeld.backends.plex.mapping import item_from_metadata  # noqa: E402
from reeld.cache import queries  # noqa: E402
from reeld.cache.db import WRITER_CACHE_KIB, create_cache_engine, migrate  # noqa: E402
from reeld.models.media import Library, LibraryKind  # noqa: E402
from reeld.models.source import Source  # noqa: E402
from reeld.services.sync_manager import WRITE_BATCH_ITEMS, _write_batch  # noqa: E402

SOURCE = Source("plex_0123456789abcdef0123456789abcdef", "plextv_bench", "plex", "Bench")
LIBRARIES = [Library("1", "Movies", LibraryKind.MOVIES), Library("2", "TV Shows", LibraryKind.SHOWS)]
#: What a cache without them still needs: the table, its primary key and its unique (source, item) key.
SECONDARY = [
    "INDEX ix_items_top_by_title",
    "INDEX ix_items_top_by_added",
    "INDEX ix_items_top_by_year",
    "INDEX ix_items_top_by_rating",
    "INDEX ix_items_library",
    "INDEX ix_items_parent",
    "INDEX ix_items_added",
    "TRIGGER items_fts_insert",
]


async def mapped_pages(server: str) -> list[ItemPage]:
    """Every listing page, mapped into items as the daemon maps them."""
    pages = []
    async with httpx.AsyncClient(base_url=server, timeout=60, headers=PLEX_HEADERS) as http:
        for section, plex_type in LISTINGS:
            start, total = 0, 1
            while start < total:
                response = await http.get(
                    f"/library/sections/{section}/all",
                    params={"type": plex_type, "includeGuids": 1},
                    headers={"X-Plex-Container-Start": str(start), "X-Plex-Container-Size": str(PAGE)},
                )
                listing = decode_listing(response.content)
                total = listing.total_size or 0
                items = [i for m in listing.metadata if (i := item_from_metadata(m, str(section), server))]
                pages.append(ItemPage(items=items))
                start += PAGE
    return pages


def write_all(pages: list[ItemPage], folder: Path, drop: list[str]) -> tuple[float, float]:
    """Write every page into a fresh cache: (wall seconds, CPU seconds)."""
    engine = create_cache_engine(
        folder / "cache.sqlite", cache_kib=WRITER_CACHE_KIB, pool_size=1, writer=True
    )
    migrate(engine)
    with engine.begin() as conn:
        for thing in drop:
            conn.exec_driver_sql(f"DROP {thing}")
        queries.save_source(conn, SOURCE)
        queries.replace_libraries(conn, SOURCE.id, LIBRARIES)
    wall, cpu = time.perf_counter(), time.process_time()
    batch: list[ItemPage] = []
    for page in pages:
        batch.append(page)
        if page is pages[-1] or sum(len(p.items) for p in batch) >= WRITE_BATCH_ITEMS:
            with engine.begin() as conn:  # items carry their library; the argument is for watched ids
                _write_batch(conn, SOURCE.id, "1", batch)
            batch = []
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    engine.dispose()
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--movies", type=int, default=20_000, help="movies (default 20000)")
    parser.add_argument("--shows", type=int, default=2_000, help="shows (default 2000)")
    parser.add_argument("--seasons", type=int, default=4, help="seasons per show (default 4)")
    parser.add_argument("--episodes", type=int, default=10, help="episodes per season (default 10)")
    parser.add_argument("--port", type=int, default=18450, help="port of the fake plex.tv (default 18450)")
    args = parser.parse_args()
    fake, _, server = start_fake(args)
    try:
        asyncio.run(floor(server))  # warms the fake, as in bench_plex_sync.py
        floor_s, items, _ = asyncio.run(floor(server))
        pages = asyncio.run(mapped_pages(server))
    finally:
        fake.terminate()
    print(f"floor: fetch + decode the pages of {items:,} items  {floor_s:.2f} s")
    for label, drop in (("the cache as shipped", []), ("only the table and its unique key", SECONDARY)):
        with tempfile.TemporaryDirectory() as folder:
            wall, cpu = write_all(pages, Path(folder), drop)
        print(f"write, {label:35} {wall:.2f} s ({cpu:.2f} s CPU) = {wall / floor_s:.2f}x the floor")


if __name__ == "__main__":
    main()
