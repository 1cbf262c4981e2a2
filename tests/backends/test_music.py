"""Music: a local folder of real audio files (MP3, FLAC, Opus, Ogg Vorbis, M4A) and the Jellyfin and
Plex fakes' music libraries, as a client sees them over a real bus: albums at the top level, artists
by ``Query``, ``GetChildren`` from artist to albums to tracks, with numbers, durations and covers."""

import asyncio
import multiprocessing
import os
import re
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from dbus_fast import Variant
from structlog.testing import capture_logs

from reeld.backends.base import SyncContext
from reeld.backends.jellyfin.mapping import FIELDS, INCLUDE_TYPES
from reeld.backends.local import backend as backend_module
from reeld.backends.local import fast_tags
from reeld.backends.local import music as music_module
from reeld.backends.local.backend import LocalBackend
from reeld.backends.local.music import read_tags, read_tags_with_mutagen
from reeld.backends.local.scan import MUSIC
from reeld.fakes.audio import FORMATS, AudioTags, MusicFolder, make_music_folder, write_audio
from reeld.fakes.images import jpeg, picture
from reeld.fakes.jellyfin import FakeJellyfin, FakeJellyfinServer
from reeld.fakes.plex import CatalogSpec, ConnectionSpec, FakePlexCluster, ServerSpec
from reeld.models.media import ItemKind, LibraryKind, MediaItem
from tests.backends.test_local_backend import touch
from tests.bus.test_query import PASSWORD, USER, add_jellyfin, add_plex, plain, query
from tests.conftest import StartReeld
from tests.fakes.test_fake_jellyfin import auth, schema  # noqa: F401  (schema: a fixture)
from tests.support.bus import PrivateBus
from tests.support.keyring import KeyringDaemon
from tests.test_daemon_e2e import IFACE, Client, add_folder, libraries, list_all

#: MP3 durations come from whole frames of 1152 samples (26 ms at 44.1 kHz).
DURATION_SLACK_MS = 30


async def children(client: Client, item_id: str) -> list[dict[str, Any]]:
    (found,) = await client.manager("GetChildren", "s", item_id)
    return [plain(item) for item in found]


def server_id(item: dict[str, Any]) -> str:
    """The server's own id of an item (a bus id is ``source:id``)."""
    return str(item["id"]).split(":", 1)[1]


COVER = jpeg(picture("folder cover", "poster", 60, 60))
EMBEDDED = jpeg(picture("embedded cover", "poster", 50, 50))


def sample_music(root: Path) -> MusicFolder:
    """Ten albums of four tracks over the five formats (the tenth on two discs), a compilation's
    track with a cover in it, an untagged file in an Artist/Album folder, a file that is not audio
    at all, and a ``cover.jpg`` in the first album's folder."""
    music = make_music_folder(root, artists=2, albums_per_artist=5, tracks_per_album=4)
    write_audio(
        root / "Music" / "Mixes" / "Summer Hits" / "07.flac",
        AudioTags(
            title="Sunny",
            artist="Solo Singer",
            album="Summer Hits",
            track=7,
            compilation=True,
            cover=EMBEDDED,
        ),
    )
    (root / music.tracks[0].relpath).parent.joinpath("cover.jpg").write_bytes(COVER)
    write_audio(root / "Music" / "Loose Band" / "Demo Tape" / "03 - Basement Song.mp3", AudioTags())
    touch(root / "Music" / "broken.mp3", b"\x00not an mp3 at all" * 10)
    return music


async def test_a_folder_of_audio_files_is_a_music_library_of_albums_artists_and_tracks(
    private_bus: PrivateBus, daemon: StartReeld, client_for: Any, tmp_path: Path
) -> None:
    music = sample_music(tmp_path / "media")
    daemon()
    client = await client_for(private_bus)
    _, source = await add_folder(client, music.root)
    library = (await libraries(client, source))["Music"]
    assert await client.prop(library, "Library", "Kind") == "music"

    # The top level is the albums, each with its album artist and year.
    albums = [plain(item) for item in await list_all(client, library)]
    assert {item["kind"] for item in albums} == {"album"}
    expected = music.albums | {("Various Artists", "Summer Hits"), ("Loose Band", "Demo Tape")}
    assert {(item["artist"], item["title"]) for item in albums} == expected
    assert await client.prop(library, "Library", "ItemCount") == len(expected)

    # Artists by Query; each one's children are its albums.
    artists, total = await query(client, library, {"kind": Variant("s", "artist")})
    assert total == len(artists) == 4
    assert {item["title"] for item in artists} == music.artists | {"Various Artists", "Loose Band"}
    first_artist = next(item for item in artists if item["title"] == "Artist 00001")
    assert {item["title"] for item in await children(client, first_artist["id"])} == {
        album for artist, album in music.albums if artist == "Artist 00001"
    }

    # An album's children are its tracks, by disc then number, as the tags say.
    by_title = {item["title"]: item for item in albums}
    for artist, title in music.albums:
        tracks = await children(client, by_title[title]["id"])
        written = sorted(
            (t for t in music.tracks if t.album == title and t.album_artist == artist),
            key=lambda t: (t.disc, t.track),
        )
        assert [(t["title"], t["index"], t["parent_index"]) for t in tracks] == [
            (t.title, t.track, t.disc) for t in written
        ]
        for shown, track in zip(tracks, written, strict=True):
            assert shown["kind"] == "track" and shown["artist"] == artist
            assert abs(shown["duration_ms"] - track.duration_ms) <= DURATION_SLACK_MS, track.relpath
        assert (
            abs(by_title[title]["duration_ms"] - sum(t.duration_ms for t in written)) <= 4 * DURATION_SLACK_MS
        )
    two_discs = [
        title for _, title in music.albums if {t.disc for t in music.tracks if t.album == title} == {1, 2}
    ]
    assert len(two_discs) == 1

    # Untagged: placed by its folders and name. The file that is not audio is left out.
    (demo,) = await children(client, by_title["Demo Tape"]["id"])
    assert (demo["title"], demo["index"], demo["artist"]) == ("Basement Song", 3, "Loose Band")
    (sunny,) = await children(client, by_title["Summer Hits"]["id"])
    assert (sunny["title"], sunny["artist"]) == ("Sunny", "Solo Singer")
    tracks, total = await query(client, library, {"kind": Variant("s", "track")}, page=50)
    assert total == len(music.tracks) + 2
    assert "Music/broken.mp3" not in {item["id"] for item in tracks}

    # Covers: the album folder's cover.jpg, or the picture in a track, copied into the artwork cache.
    async def poster(title: str) -> bytes:
        (path,) = await client.manager("GetArtwork", "ssu", by_title[title]["id"], "poster", 0)
        assert "/reeld/artwork/" in path  # a copy in the artwork cache, not the file in the folder
        return Path(path).read_bytes()

    assert await poster(music.tracks[0].album) == COVER
    assert await poster("Summer Hits") == EMBEDDED
    with pytest.raises(RuntimeError, match="NotFound"):
        await poster("Demo Tape")


async def test_a_rescan_reads_only_new_files_and_keeps_albums_whole(
    private_bus: PrivateBus, daemon: StartReeld, client_for: Any, tmp_path: Path
) -> None:
    music = make_music_folder(tmp_path / "media", artists=1, albums_per_artist=2, tracks_per_album=3)
    reeld = daemon()
    client = await client_for(private_bus)
    _, source = await add_folder(client, music.root)
    library = (await libraries(client, source))["Music"]
    albums = {item["title"]: item for item in map(plain, await list_all(client, library))}
    first = sorted(albums)[0]
    first_tracks = [t for t in music.tracks if t.album == first]

    # A fourth track arrives, a track of the other album goes.
    folder = (music.root / first_tracks[0].relpath).parent
    write_audio(
        folder / "04 - Bonus.opus",
        AudioTags(title="Bonus", artist="Guest", album=first, track=4, album_artist="Artist 00001"),
    )
    gone = next(t for t in music.tracks if t.album != first)
    os.unlink(music.root / gone.relpath)
    await client.call(source, f"{IFACE}.Source", "Sync", "b", False)
    finished = await client.sync_finished(source)
    assert finished.body[1], finished.body[2]

    tracks = await children(client, albums[first]["id"])
    assert [(t["title"], t["index"]) for t in tracks] == [(t.title, t.track) for t in first_tracks] + [
        ("Bonus", 4)
    ]
    assert tracks[-1]["artist"] == "Guest"
    other = next(title for title in albums if title != first)
    assert gone.relpath not in {server_id(t) for t in await children(client, albums[other]["id"])}
    # Both albums are whole again: their lengths count the track that came and not the one gone.
    after = {item["title"]: item for item in map(plain, await list_all(client, library))}
    lengths = {title: sum(t.duration_ms for t in music.tracks if t.album == title) for title in albums}
    assert abs(after[first]["duration_ms"] - (lengths[first] + 180_000)) <= 4 * DURATION_SLACK_MS
    assert abs(after[other]["duration_ms"] - (lengths[other] - gone.duration_ms)) <= 4 * DURATION_SLACK_MS
    # The new file's tags were read, and those of its album's and the shrunk album's other tracks.
    log = reeld.stderr_text()
    assert re.search(r'"read": 1\b.*"album_mates": 5\b|album_mates=5 .*read=1\b', log), log[-2000:]


# -- servers -----------------------------------------------------------------------------------------


async def test_a_plex_music_library_lists_albums_with_their_artists_and_tracks(
    private_bus: PrivateBus, keyring_daemon: KeyringDaemon, daemon: StartReeld, client_for: Any
) -> None:
    home = ServerSpec(
        "Home",
        catalog=CatalogSpec(movies=2, shows=1, seasons=1, episodes=1, artists=2, albums=2, tracks=3),
        connections=(ConnectionSpec.live(local=True),),
    )
    cluster = FakePlexCluster([home])
    catalog = cluster.server("Home").catalog
    with cluster.run_in_thread() as url:
        daemon(env={"REELD_PLEX_TV_URL": url})
        client = await client_for(private_bus)
        source = await add_plex(client, cluster.token, "")
        library = (await libraries(client, source))["Music"]

        section = next(s for s in catalog.sections.values() if s.type == "artist")
        artists = {str(item.rating_key): item for item in catalog.of_type(section.id, "artist")}
        albums = {str(item.rating_key): item for item in catalog.of_type(section.id, "album")}
        listed = [plain(item) for item in await list_all(client, library)]
        assert {(server_id(item), item["kind"], item["title"]) for item in listed} == {
            (key, "album", album.title) for key, album in albums.items()
        }
        assert all(item["artist"] == albums[server_id(item)].parent.title for item in listed)
        ids = {server_id(item): item["id"] for item in listed}

        found, total = await query(client, library, {"kind": Variant("s", "artist")})
        assert total == 2 and {(server_id(item), item["title"]) for item in found} == {
            (key, artist.title) for key, artist in artists.items()
        }
        ids.update((server_id(item), item["id"]) for item in found)
        for key, artist in artists.items():
            assert {server_id(item) for item in await children(client, ids[key])} == {
                str(album.rating_key) for album in artist.children.values()
            }
        for key, album in albums.items():
            tracks = await children(client, ids[key])
            written = sorted(album.children.values(), key=lambda track: track.index)
            assert [(t["title"], t["index"], t["parent_index"], t["duration_ms"]) for t in tracks] == [
                (track.title, track.index, 1, track.duration) for track in written
            ]
            assert [t["watched"] for t in tracks] == [track.view_count > 0 for track in written]
        _, total = await query(client, library, {"kind": Variant("s", "track")})
        assert total == 12


# -- the fast path ---------------------------------------------------------------------------------


def id3_shapes(folder: Path) -> list[Path]:
    """MP3s tagged by mutagen in the shapes taggers leave: ID3v2.3 and 2.4, UTF-16 and Latin-1
    text, numeric genres, several artists, a LAME header, a tag that needs mutagen (unsynchronised)."""
    from mutagen.id3 import APIC, ID3, TALB, TCON, TDRC, TIT2, TPE1, TPOS, TRCK

    paths = []
    for number, (version, encoding, genre) in enumerate(
        [(3, 1, "(17)"), (4, 3, "Jazz"), (3, 0, "17"), (4, 1, "(17)(20)Remix"), (3, 3, "Post-Rock")]
    ):
        path = folder / f"shape{number}.mp3"
        write_audio(path, AudioTags(duration_s=61.5 + number))
        tags = ID3()
        tags.add(TIT2(encoding=encoding, text=[f"Tïtle {number}"]))
        tags.add(TPE1(encoding=encoding, text=["One", "Two"]))
        tags.add(TALB(encoding=encoding, text="Ålbum"))
        tags.add(TRCK(encoding=encoding, text=f"{number + 1}/9"))
        tags.add(TPOS(encoding=encoding, text="2/2"))
        tags.add(TDRC(encoding=encoding, text="1999-05-01"))
        tags.add(TCON(encoding=encoding, text=genre))
        if number == 1:
            tags.add(APIC(encoding=3, mime="image/jpeg", type=3, desc="", data=EMBEDDED))
        tags.save(path, v2_version=version)
        paths.append(path)
    return paths


def test_the_fast_path_reads_what_mutagen_reads(tmp_path: Path) -> None:
    paths = id3_shapes(tmp_path)
    for fmt in FORMATS:
        path = tmp_path / f"plain.{fmt}"
        write_audio(
            path,
            AudioTags(
                title="T", artist="A", album="B", track=2, disc=1, year=2001, genre="Rock", cover=EMBEDDED
            ),
        )
        paths.append(path)
    # A LAME header after the Xing one: its encoder delay and padding are not part of the length.
    lame = tmp_path / "lame.mp3"
    write_audio(lame, AudioTags(title="L", duration_s=100))
    data = bytearray(lame.read_bytes())
    at = data.index(b"Xing") + 12
    data[at : at + 24] = b"LAME3.100" + bytes(12) + ((576 << 12) | 1200).to_bytes(3)
    lame.write_bytes(bytes(data))
    paths.append(lame)
    for path in paths:
        fast, slow = read_tags(str(path)), read_tags_with_mutagen(str(path))
        assert fast is not None and slow is not None
        assert fast == slow, path.name
    assert read_tags(str(paths[1])).has_cover  # type: ignore[union-attr]
    assert read_tags(str(paths[0])).genres == ("Rock",)  # type: ignore[union-attr]
    # 3828 frames of 1152 samples at 44.1 kHz, less 1776 samples of delay and padding: 99.956 s
    assert read_tags(str(lame)).duration_ms == 99_956  # type: ignore[union-attr]


async def test_a_jellyfin_music_library_lists_albums_with_their_artists_and_tracks(
    private_bus: PrivateBus, keyring_daemon: KeyringDaemon, daemon: StartReeld, client_for: Any
) -> None:
    fake = FakeJellyfin.generate(
        movies=150, series=0, seasons=0, episodes=0, user=USER, password=PASSWORD, tracks=3
    )
    albums = {item.id: item for item in fake.items.values() if item.type == "MusicAlbum"}
    artists = {item.id: item for item in fake.items.values() if item.type == "MusicArtist"}
    tracks = [item for item in fake.items.values() if item.type == "Audio"]
    played = tracks[1]
    fake.set_played(USER, played.id, True)
    with FakeJellyfinServer(fake).run_in_thread() as url:
        daemon()
        client = await client_for(private_bus)
        source = await add_jellyfin(client, url)
        library = (await libraries(client, source))["Music"]

        listed = [plain(item) for item in await list_all(client, library)]
        assert {(server_id(item), item["kind"], item["title"], item["artist"]) for item in listed} == {
            (key, "album", album.name, album.album_artist) for key, album in albums.items()
        }
        ids = {server_id(item): item["id"] for item in listed}
        found, total = await query(client, library, {"kind": Variant("s", "artist")})
        assert total == len(artists) == 3
        assert {(server_id(item), item["title"]) for item in found} == {
            (key, artist.name) for key, artist in artists.items()
        }
        ids.update((server_id(item), item["id"]) for item in found)
        for key, artist in artists.items():
            assert {server_id(item) for item in await children(client, ids[key])} == {
                album_id for album_id, album in albums.items() if album.album_artist == artist.name
            }
        for key in albums:
            shown = await children(client, ids[key])
            written = sorted((t for t in tracks if t.album_id == key), key=lambda t: t.index or 0)
            assert [(t["title"], t["index"], t["parent_index"], t["duration_ms"]) for t in shown] == [
                (t.name, t.index, 1, (t.runtime_ticks or 0) // 10_000) for t in written
            ]
            assert [t["watched"] for t in shown] == [t.id == played.id for t in written]
        _, total = await query(client, library, {"kind": Variant("s", "track")})
        assert total == len(tracks) == 9


async def test_the_fake_jellyfins_music_answers_match_the_openapi_document(schema: Any) -> None:  # noqa: F811
    """The shapes reeld reads of a music library: its albums and tracks, and its album artists."""
    fake = FakeJellyfin.generate(
        movies=100, series=0, seasons=0, episodes=0, user=USER, password=PASSWORD, tracks=2
    )
    token, user = fake.login(USER, PASSWORD), fake.users[USER].id
    music = next(view["Id"] for view in fake.views if view["CollectionType"] == "music")
    async with (
        FakeJellyfinServer(fake) as server,
        httpx.AsyncClient(base_url=server.url, headers=auth(token)) as http,
    ):
        common = {"userId": user, "ParentId": music, "Fields": FIELDS}
        listing = (
            await http.get(
                "/Items",
                params={**common, "Recursive": "true", "IncludeItemTypes": INCLUDE_TYPES[LibraryKind.MUSIC]},
            )
        ).json()
        schema("BaseItemDtoQueryResult", listing)
        assert {item["Type"] for item in listing["Items"]} == {"MusicAlbum", "Audio"}
        artists = (await http.get("/Artists/AlbumArtists", params=common)).json()
        schema("BaseItemDtoQueryResult", artists)
        assert {item["Type"] for item in artists["Items"]} == {"MusicArtist"}
        album_artists = {
            a["Id"] for item in listing["Items"] if item["Type"] == "MusicAlbum" for a in item["AlbumArtists"]
        }
        assert album_artists == {item["Id"] for item in artists["Items"]}


async def test_tracks_added_and_removed_in_the_folder_reach_clients_without_a_sync(
    private_bus: PrivateBus, daemon: StartReeld, client_for: Any, tmp_path: Path
) -> None:
    music = make_music_folder(tmp_path / "media", artists=1, albums_per_artist=2, tracks_per_album=2)
    daemon()
    client = await client_for(private_bus)
    _, source = await add_folder(client, music.root)
    library = (await libraries(client, source))["Music"]
    albums = {item["title"]: item for item in map(plain, await list_all(client, library))}
    first, second = sorted(albums)

    async def changed() -> None:
        await client.wait_signal(lambda m: m.member == "ItemsChanged" and m.path == library, timeout=30)

    # A track copied into an album's folder is one of its tracks moments later.
    folder = (music.root / next(t.relpath for t in music.tracks if t.album == first)).parent
    client.signals.clear()
    write_audio(
        folder / "03 - Late.mp3", AudioTags(title="Late", album_artist="Artist 00001", album=first, track=3)
    )
    async with asyncio.timeout(30):
        while "Late" not in [t["title"] for t in await children(client, albums[first]["id"])]:
            await changed()
    # A whole album folder deleted: the album and its tracks go.
    shutil.rmtree((music.root / next(t.relpath for t in music.tracks if t.album == second)).parent)
    async with asyncio.timeout(30):
        while second in {item["title"] for item in map(plain, await list_all(client, library))}:
            await changed()
    assert [t["title"] for t in await children(client, albums[first]["id"])][-1] == "Late"


async def listing_of(root: Path) -> dict[str, MediaItem]:
    items: dict[str, MediaItem] = {}
    async with LocalBackend("local_test", str(root)) as backend:
        async for page in backend.list_items(MUSIC, SyncContext(full=True)):
            items.update((item.remote_id, item) for item in page.items)
    return items


async def test_worker_processes_read_what_one_thread_reads_and_a_broken_pool_falls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_music_folder(tmp_path, artists=1, albums_per_artist=5, tracks_per_album=3)
    in_thread = await listing_of(tmp_path)
    assert len(in_thread) == 1 + 5 + 15
    monkeypatch.setattr(music_module, "PROCESS_POOL_MIN_FILES", 1)
    if music_module.tag_reader(15) is None:
        pytest.skip("one CPU: tags are always read in a thread")
    assert await listing_of(tmp_path) == in_thread

    def dying_pool(count: int) -> ProcessPoolExecutor:
        # Each worker exits as it starts, as one refused by a process limit would.
        return ProcessPoolExecutor(
            1, mp_context=multiprocessing.get_context("forkserver"), initializer=sys.exit
        )

    monkeypatch.setattr(backend_module, "tag_reader", dying_pool)
    with capture_logs() as logs:
        assert await listing_of(tmp_path) == in_thread
    assert any(entry["event"] == "local_music_workers_failed" for entry in logs)


async def test_an_unmarked_compilation_is_one_album_by_various_artists(tmp_path: Path) -> None:
    folder = tmp_path / "Music" / "Road Trip"
    for number, artist in enumerate(("Ann", "Bob", "Ann"), start=1):
        write_audio(
            folder / f"{number:02d}.mp3",
            AudioTags(title=f"Song {number}", artist=artist, album="Road Trip", track=number),
        )
    write_audio(
        tmp_path / "Music" / "Solo" / "01.flac", AudioTags(title="Alone", artist="Cy", album="Solo", track=1)
    )
    items = await listing_of(tmp_path)
    albums = {(item.artist, item.title) for item in items.values() if item.kind is ItemKind.ALBUM}
    assert albums == {("Various Artists", "Road Trip"), ("Cy", "Solo")}
    tracks = sorted(
        (item.index, item.artist)
        for item in items.values()
        if item.kind is ItemKind.TRACK and item.title != "Alone"
    )
    assert tracks == [(1, "Ann"), (2, "Bob"), (3, "Ann")]  # each track keeps its own artist


def test_the_fast_path_skips_a_large_cover_unread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cover of hundreds of kB before the text frames: the fast path seeks past it (a first sync of
    a real library would otherwise read every cover), and reads what mutagen reads."""

    def frame(frame_id: bytes, body: bytes) -> bytes:
        size = len(body)
        return (
            frame_id
            + bytes((size >> 21 & 0x7F, size >> 14 & 0x7F, size >> 7 & 0x7F, size & 0x7F))
            + b"\0\0"
            + body
        )

    cover = frame(b"APIC", b"\x00image/jpeg\x00\x03\x00" + EMBEDDED + bytes(300_000))
    frames = cover + frame(b"TIT2", b"\x03After the cover") + frame(b"TRCK", b"\x035")
    path = tmp_path / "big.mp3"
    write_audio(path, AudioTags(duration_s=30))
    audio = path.read_bytes()
    old_size = 10 + sum(b << (7 * (3 - i)) for i, b in enumerate(audio[6:10]))
    size = len(frames)
    header = b"ID3\x04\x00\x00" + bytes((size >> 21 & 0x7F, size >> 14 & 0x7F, size >> 7 & 0x7F, size & 0x7F))
    path.write_bytes(header + frames + audio[old_size:])

    read = 0
    real_open = open

    class Counted:
        def __init__(self, file: Any) -> None:
            self.file = file

        def __enter__(self) -> "Counted":
            return self

        def __exit__(self, *exc: object) -> None:
            self.file.close()

        def read(self, size: int = -1) -> bytes:
            nonlocal read
            data: bytes = self.file.read(size)
            read += len(data)
            return data

        def seek(self, *args: int) -> int:
            return int(self.file.seek(*args))

    monkeypatch.setattr(fast_tags, "open", lambda *args: Counted(real_open(*args)), raising=False)
    fast = read_tags(str(path))
    assert fast is not None and (fast.title, fast.track, fast.has_cover) == ("After the cover", 5, True)
    assert read < 20_000  # of a 300 kB file
    monkeypatch.undo()
    assert fast == read_tags_with_mutagen(str(path))
