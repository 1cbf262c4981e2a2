"""What the API 1.1 item keys cost a Jellyfin sync: the listing with the fields and image tags asked
for since 1.1 against the listing of 1.0, in one run against one fake server.

Starts ``python -m reeld.fakes.jellyfin`` (default 20,000 movies, 2,000 series x 4 seasons x 10
episodes, as ``bench_jellyfin_sync.py``), then fetches every page of every library, the daemon's
page size and concurrency, once with each query, alternating, three rounds; each page is decoded and
mapped to items as the daemon does. Prints bytes, wall time and the client CPU of decoding and
mapping per variant (best of the rounds).

Run: ``.venv/bin/python bench/bench_jellyfin_fields.py [--movies 20000 --series 2000]``.
"""

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench_jellyfin_sync import CONCURRENCY, PAGE, PASSWORD, USER, start_fake  # noqa: E402

from reeld.backends.jellyfin.client import authorization  # noqa: E402
from reeld.backends.jellyfin.dto import decode_items  # noqa: E402
from reeld.backends.jellyfin.mapping import (  # noqa: E402
    FIELDS,
    IMAGE_TYPES,
    INCLUDE_TYPES,
    item_from_dto,
    library_from_view,
)

#: The listing's query before API 1.1 (reeld 1.0), and now.
VARIANTS = {
    "1.0": {
        "Fields": "Overview,ProviderIds,DateCreated,Etag,SortName,ParentId",
        "EnableImageTypes": "Primary",
    },
    "1.1": {"Fields": FIELDS, "EnableImageTypes": IMAGE_TYPES},
}


async def listing(url: str, variant: dict[str, str]) -> tuple[float, float, int, int]:
    """(wall s, decode + map CPU s, bytes, items) of every page of every library."""
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        auth = {"Authorization": authorization("bench-fields")}
        login = (
            await http.post(
                "/Users/AuthenticateByName", json={"Username": USER, "Pw": PASSWORD}, headers=auth
            )
        ).json()
        headers = {"Authorization": authorization("bench-fields", login["AccessToken"])}
        user = login["User"]["Id"]
        views = decode_items((await http.get("/UserViews", params={"userId": user}, headers=headers)).content)
        semaphore = asyncio.Semaphore(CONCURRENCY)
        cpu = 0.0
        sizes = items = 0
        started = time.perf_counter()

        async def page(library_id: str, types: str, start: int) -> int:
            nonlocal cpu, sizes, items
            params: dict[str, Any] = {
                "userId": user,
                "ParentId": library_id,
                "Recursive": "true",
                "IncludeItemTypes": types,
                "ImageTypeLimit": 1,
                "SortBy": "SortName",
                "SortOrder": "Ascending",
                "StartIndex": start,
                "Limit": PAGE,
                "EnableTotalRecordCount": "true",
                **variant,
            }
            async with semaphore:
                body = (await http.get("/Items", headers=headers, params=params)).content
            mapped = time.process_time()
            result = decode_items(body)
            found = [item_from_dto(dto, library_id, url) for dto in result.items]
            cpu += time.process_time() - mapped
            sizes += len(body)
            items += len(found)
            return result.total_record_count

        for view in views.items:
            library = library_from_view(view)
            types = INCLUDE_TYPES.get(library.kind)
            if types is None or not view.id:
                continue
            total = await page(view.id, types, 0)
            await asyncio.gather(*(page(view.id, types, start) for start in range(PAGE, total, PAGE)))
        return time.perf_counter() - started, cpu, sizes, items


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--movies", type=int, default=20_000)
    parser.add_argument("--series", type=int, default=2_000)
    parser.add_argument("--seasons", type=int, default=4)
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--port", type=int, default=18098)
    args = parser.parse_args()
    proc, url = start_fake(args, args.port)
    try:
        best: dict[str, tuple[float, float, int, int]] = {}
        for _ in range(3):
            for name, variant in VARIANTS.items():
                figures = asyncio.run(listing(url, variant))
                if name not in best or figures[0] < best[name][0]:
                    best[name] = figures
    finally:
        proc.terminate()
        proc.wait(10)
    old = best["1.0"]
    for name, (wall, cpu, size, items) in best.items():
        print(
            f"{name}: {items:,} items, {size / 1e6:6.1f} MB ({size / old[2]:.2f}x), fetched and mapped in "
            f"{wall:5.2f} s ({wall / old[0]:.2f}x), decode + map CPU {cpu:5.2f} s ({cpu / old[1]:.2f}x)"
        )


if __name__ == "__main__":
    main()
