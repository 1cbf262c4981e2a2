"""Playback info in the cache: kept per item with the item's etag, gone with the item, and a row
this version cannot read is as good as none (fetched again), never an error."""

from pathlib import Path

import pytest
from sqlalchemy import text

from reeld.cache import queries
from reeld.cache.db import Database
from reeld.cache.playback import load_playback, store_playback
from reeld.models.media import ItemKind, Library, LibraryKind, MediaItem
from reeld.models.playback import Chapter, Marker, MarkerType, PlaybackInfo, Stream, StreamType
from reeld.models.source import Source

INFO = PlaybackInfo(
    container="mkv",
    bitrate=4_500_000,
    size=2**33,
    duration_ms=5_400_000,
    streams=(
        Stream(StreamType.VIDEO, 0, "h264", width=1280, height=720),
        Stream(StreamType.AUDIO, 1, "aac", "eng", key="71"),
    ),
    chapters=(Chapter("Opening", 0),),
    markers=(Marker(MarkerType.CREDITS, 5_000_000, 5_400_000),),
    media_id="src1",
)


@pytest.fixture
async def db(tmp_path: Path) -> Database:
    database = Database(tmp_path / "cache.db")
    await database.open()
    await database.write(queries.save_source, Source("s", "a", "jellyfin", "Server"))
    await database.write(queries.replace_libraries, "s", [Library("lib", "Movies", LibraryKind.MOVIES)])
    await database.write(
        queries.upsert_items, "s", [MediaItem("m1", "lib", ItemKind.MOVIE, "Film", etag="v1")]
    )
    return database


async def test_kept_with_the_items_etag_and_gone_with_the_item(db: Database) -> None:
    assert await db.write(store_playback, "s", [("m1", INFO), ("not-cached", INFO)], 100) == 1
    cached = await db.read(load_playback, "s", "m1")
    assert cached is not None and cached.info == INFO and cached.current
    await db.write(queries.upsert_items, "s", [MediaItem("m1", "lib", ItemKind.MOVIE, "Film", etag="v2")])
    cached = await db.read(load_playback, "s", "m1")
    assert cached is not None and not cached.current  # the file changed since: fetched again when online
    await db.write(queries.delete_items, "s", ["m1"])
    assert await db.read(load_playback, "s", "m1") is None
    await db.close()


@pytest.mark.parametrize(
    "stored",
    [
        '{"container": "mkv", "streams": [{"type": "audio", "index": 1, "loudness": 3}], "hdr": true}',
        "not json",
        '{"streams": [{"type": "hologram", "index": 1}]}',
        '{"streams": [{"index": 1}]}',
        "[1, 2]",
    ],
)
async def test_a_row_of_another_version_is_read_or_ignored(db: Database, stored: str) -> None:
    await db.write(store_playback, "s", [("m1", INFO)], 100)

    def overwrite(conn: object) -> None:
        conn.execute(text("UPDATE playback_info SET info = :info"), {"info": stored})  # type: ignore[attr-defined]

    await db.write(overwrite)
    cached = await db.read(load_playback, "s", "m1")
    if stored.startswith('{"container"'):
        assert cached is not None and cached.info.streams == (Stream(StreamType.AUDIO, 1),)
    else:
        assert cached is None
    await db.close()
