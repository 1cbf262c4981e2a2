"""Playback info figures: what it would cost to cache it during syncs, and how fast it answers once cached.

Prints, for one run on this machine (all compared within the run):
- Jellyfin: a 1,000-movie listing page from the fake server, with the fields a sync asks for and
  with ``MediaSources,MediaStreams,Chapters`` added: bytes, and the client's decode and map time.
  (The fake computes streams for nothing; a real server reads them from its database per item.)
- local files: per file, the probe a sync already makes (the duration) against reading the whole
  playback info from the same file (every track, the chapters, sidecar subtitles).
- answers from the cache: ``load_playback`` of one item among 10,000 kept, p50 and p99.

Run: ``.venv/bin/python bench/bench_playback.py``. Only temp dirs are touched.
"""

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import orjson

from reeld.backends.jellyfin.client import authorization
from reeld.backends.jellyfin.dto import decode_items
from reeld.backends.jellyfin.mapping import FIELDS, item_from_dto
from reeld.backends.jellyfin.playback import playback_from_dto
from reeld.backends.local.playback import read_playback_info
from reeld.backends.local.scan import FileStat, read_duration_ms
from reeld.cache import queries
from reeld.cache.db import Database
from reeld.cache.playback import load_playback, store_playback
from reeld.fakes.jellyfin import FakeJellyfin, FakeJellyfinServer
from reeld.fakes.jellyfin.media import chapters, media_source, segments
from reeld.fakes.matroska import write_matroska
from reeld.models.media import ItemKind, Library, LibraryKind, MediaItem
from reeld.models.playback import PlaybackInfo
from reeld.models.source import Source

PLAYBACK_FIELDS = ",MediaSources,MediaStreams,Chapters"


async def jellyfin_listing() -> None:
    fake = FakeJellyfin.generate(movies=1000, series=0, seasons=0, episodes=0, user="u", password="p")
    async with FakeJellyfinServer(fake) as server, httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        login = await http.post(
            "/Users/AuthenticateByName",
            json={"Username": "u", "Pw": "p"},
            headers={"Authorization": authorization("b")},
        )
        headers = {"Authorization": authorization("b", login.json()["AccessToken"])}
        view = next(v["Id"] for v in fake.views if v["CollectionType"] == "movies")
        for label, fields in (("as a sync asks", FIELDS), ("with playback fields", FIELDS + PLAYBACK_FIELDS)):
            params = {
                "ParentId": view,
                "Recursive": "true",
                "IncludeItemTypes": "Movie",
                "Fields": fields,
                "Limit": 1000,
            }
            body = (await http.get("/Items", params=params, headers=headers)).content
            decode_items(body)  # warm
            started = time.perf_counter()
            for _ in range(5):
                page = decode_items(body)
                items = [item_from_dto(dto, view, server.url) for dto in page.items]
            decode_ms = (time.perf_counter() - started) / 5 * 1000
            line = f"jellyfin page of {len(items)} movies {label}: {len(body) / 1e6:.2f} MB, decode+map {decode_ms:.1f} ms"
            if fields != FIELDS:
                started = time.perf_counter()
                dtos = orjson.loads(body)["Items"]
                infos = [playback_from_dto(dto, [], dto["Id"]) for dto in dtos]
                line += f" (+ {(time.perf_counter() - started) * 1000:.1f} ms to read {len(infos)} playback infos)"
            print(line)


def local_files(count: int = 200) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for n in range(count):
            path = write_matroska(Path(tmp) / f"Film {n} (2001).mkv")
            with path.open("ab") as out:  # past the size under which a sync does not probe
                out.write(b"\0" * 70_000)
            stat = path.stat()
            files.append(FileStat(path.name, str(path), stat.st_size, stat.st_mtime_ns, int(stat.st_ctime)))
        read_duration_ms(files[0])  # loads libmediainfo
        started = time.perf_counter()
        durations = [read_duration_ms(file) for file in files]
        duration_ms = (time.perf_counter() - started) / count * 1000
        started = time.perf_counter()
        infos = [read_playback_info(file.path) for file in files]
        info_ms = (time.perf_counter() - started) / count * 1000
        assert all(durations) and all(info.streams for info in infos)
        print(
            f"local file ({count} files): duration probe {duration_ms:.2f} ms/file, "
            f"whole playback info {info_ms:.2f} ms/file ({info_ms / duration_ms:.2f}x)"
        )


async def cached_answers(rows: int = 10_000, asks: int = 1000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "cache.db")
        await db.open()
        await db.write(queries.save_source, Source("s", "a", "jellyfin", "S"))
        library = Library("lib", "Movies", LibraryKind.MOVIES)
        await db.write(queries.replace_libraries, "s", [library])
        items = [MediaItem(f"m{n}", "lib", ItemKind.MOVIE, f"Movie {n}", etag="e") for n in range(rows)]
        for start in range(0, rows, 1000):
            await db.write(queries.upsert_items, "s", items[start : start + 1000])
        fake = FakeJellyfin.generate(movies=1, series=0, seasons=0, episodes=0)
        movie = next(iter(fake.items.values()))
        info: PlaybackInfo = playback_from_dto(
            {"MediaSources": [media_source(movie)], "Chapters": chapters(movie)}, segments(movie), movie.id
        )
        await db.write(store_playback, "s", [(item.remote_id, info) for item in items], 0)
        latencies = []
        for n in range(asks):
            started = time.perf_counter()
            cached = await db.read(load_playback, "s", f"m{(n * 7919) % rows}")
            latencies.append((time.perf_counter() - started) * 1000)
            assert cached is not None and cached.current
        latencies.sort()
        p99 = latencies[int(len(latencies) * 0.99) - 1]
        print(
            f"load_playback among {rows} kept: p50 {statistics.median(latencies):.2f} ms, p99 {p99:.2f} ms "
            f"({len(info.streams)} streams, {len(info.chapters)} chapters, {len(info.markers)} markers)"
        )
        await db.close()


def main() -> None:
    asyncio.run(jellyfin_listing())
    local_files()
    asyncio.run(cached_answers())


if __name__ == "__main__":
    main()
