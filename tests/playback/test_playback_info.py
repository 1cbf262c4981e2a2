"""GetPlaybackInfo and GetStreamUrlWith as a player uses them: a daemon on a private bus, the fake
servers over loopback HTTP, a real Matroska file on disk.

What the daemon answers is compared with what the fakes serve (their own tracks, chapters,
segments and markers), and the transcode URLs it hands out are fetched, as a player would."""

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from dbus_fast import Variant

from reeld.fakes.jellyfin import FakeJellyfin, FakeJellyfinServer
from reeld.fakes.jellyfin import media as jellyfin_media
from reeld.fakes.matroska import write_matroska
from reeld.fakes.plex import CatalogSpec, ConnectionSpec, FakePlexCluster, ServerSpec
from reeld.fakes.plex import streams as plex_streams
from reeld.fakes.plex.catalog import EPISODE, MOVIE
from reeld.fakes.plex.metadata import media_of
from tests.conftest import StartReeld
from tests.support.bus import PrivateBus
from tests.support.cli import reelctl_process as reelctl
from tests.support.keyring import KeyringDaemon
from tests.test_daemon_e2e import Client

TICKS_PER_MS = 10_000
MARKER_TYPES = {
    "Intro": "intro",
    "Outro": "credits",
    "Recap": "recap",
    "Preview": "preview",
    "Commercial": "commercial",
}


def plain(value: Any) -> Any:
    """A D-Bus answer with its variants unwrapped."""
    if isinstance(value, Variant):
        return plain(value.value)
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def without_none(entry: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in entry.items() if value is not None}


@pytest.fixture
async def client(private_bus: PrivateBus) -> AsyncIterator[Client]:
    client = await Client.connect(private_bus.address)
    yield client
    client.bus.disconnect()


async def info_of(client: Client, item_id: str) -> dict[str, Any]:
    (info,) = await client.manager("GetPlaybackInfo", "s", item_id)
    result: dict[str, Any] = plain(info)
    return result


async def url_with(client: Client, item_id: str, **options: Variant) -> str:
    (url,) = await client.manager("GetStreamUrlWith", "sa{sv}", item_id, options)
    return str(url)


async def add_and_sync(private_bus: PrivateBus, client: Client, *add: str, stdin: str) -> None:
    """An account added with reelctl (``add`` is its command line), and its first sync done: the
    one a source starts once connected (a Plex server is found after the account is added, so a
    ``reelctl sync`` right after the add may find no source yet)."""
    added = reelctl(private_bus, *add, stdin=stdin)
    assert added.returncode == 0, added.stderr
    finished = await client.sync_finished()
    assert finished.body[1], finished.body


def source_id(private_bus: PrivateBus) -> str:
    (source,) = json.loads(reelctl(private_bus, "--json", "sources").stdout)
    return str(source["path"].rsplit("/", 1)[1])


# -- Jellyfin ---------------------------------------------------------------------------------------


def jellyfin_expected(fake: FakeJellyfin, remote_id: str) -> dict[str, Any]:
    """What the fake serves of an item, in GetPlaybackInfo's terms."""
    item = fake.items[remote_id]
    source = jellyfin_media.media_source(item)
    streams = [
        without_none(
            {
                "type": stream["Type"].lower(),
                "index": stream["Index"],
                "codec": stream["Codec"],
                "language": stream.get("Language"),
                "title": stream.get("Title") or stream["DisplayTitle"],
                "default": stream["IsDefault"],
                "forced": stream["IsForced"],
                "external": stream["IsExternal"],
                "channels": stream.get("Channels"),
                "width": stream.get("Width"),
                "height": stream.get("Height"),
            }
        )
        for stream in source["MediaStreams"]
    ]
    segments = sorted(jellyfin_media.segments(item), key=lambda segment: segment["StartTicks"])
    return {
        "container": "mkv",
        "bitrate": source["Bitrate"],
        "size": source["Size"],
        "duration_ms": source["RunTimeTicks"] // TICKS_PER_MS,
        "streams": streams,
        "chapters": [
            {"title": c["Name"], "start_ms": c["StartPositionTicks"] // TICKS_PER_MS}
            for c in jellyfin_media.chapters(item)
        ],
        "markers": [
            {
                "type": MARKER_TYPES[s["Type"]],
                "start_ms": s["StartTicks"] // TICKS_PER_MS,
                "end_ms": s["EndTicks"] // TICKS_PER_MS,
            }
            for s in segments
        ],
    }


async def test_jellyfin_tracks_markers_and_transcodes(
    private_bus: PrivateBus, keyring_daemon: KeyringDaemon, daemon: StartReeld, client: Client
) -> None:
    fake = FakeJellyfin.generate(movies=2, series=1, seasons=1, episodes=6, user="anna", password="pw-123")
    episodes = [item for item in fake.items.values() if item.type == "Episode"]
    # One with several audio tracks and a subtitle, and one never asked for before the server goes.
    episode = next(
        e for e in episodes if sum(s["Type"] == "Audio" for s in jellyfin_media.media_streams(e)) > 1
    )
    unseen = next(e for e in episodes if e.id != episode.id)
    series = next(item for item in fake.items.values() if item.type == "Series")
    reeld = daemon()
    with FakeJellyfinServer(fake).run_in_thread() as url:
        add = ("add-jellyfin", url, "--user", "anna", "--password-stdin")
        await add_and_sync(private_bus, client, *add, stdin="pw-123\n")
        source = source_id(private_bus)
        item_id = f"{source}:{episode.id}"

        info = await info_of(client, item_id)
        assert info == jellyfin_expected(fake, episode.id)
        assert {marker["type"] for marker in info["markers"]} >= {"credits", "preview"}

        # Direct play when the bitrate allows; the server's HLS transcode of the chosen track when not.
        (direct,) = await client.manager("GetStreamUrl", "s", item_id)
        assert await url_with(client, item_id, max_bitrate=Variant("u", info["bitrate"])) == direct
        assert await url_with(client, item_id) == direct  # a server on the LAN: no cap
        second_audio = [s["index"] for s in info["streams"] if s["type"] == "audio"][1]
        hls = await url_with(
            client,
            item_id,
            max_bitrate=Variant("u", 1_500_000),
            audio_index=Variant("u", second_audio),
            start_ms=Variant("t", 60_000),
        )
        assert hls.startswith(f"{url}/videos/{episode.id}/master.m3u8?") and "ApiKey=" in hls
        assert f"AudioStreamIndex={second_audio}" in hls and "StartTimeTicks=600000000" in hls
        # Another audio track with no cap: played as it is, the file would give its default one.
        chosen = await url_with(client, item_id, audio_index=Variant("u", second_audio))
        assert chosen != direct and f"AudioStreamIndex={second_audio}" in chosen
        async with httpx.AsyncClient() as http:
            playlist = await http.get(hls)  # no header: all a player has is the URL
        assert playlist.status_code == 200, playlist.text
        assert playlist.headers["content-type"].startswith("application/vnd.apple.mpegurl")
        assert playlist.text.startswith("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=")

        # Bad choices are named.
        for options, named in (
            ({"audio": Variant("u", 1)}, "'audio'"),
            ({"max_bitrate": Variant("s", "fast")}, "max_bitrate"),
            ({"audio_index": Variant("u", 99)}, "audio_index 99"),
        ):
            with pytest.raises(RuntimeError, match=f"InvalidArgument: .*{named}"):
                await url_with(client, item_id, **options)
        with pytest.raises(RuntimeError, match="NotFound"):
            await info_of(client, f"{source}:{'0' * 32}")
        with pytest.raises(
            RuntimeError, match=r"InvalidArgument: .* is a show: only what is played has tracks"
        ):
            await info_of(client, f"{source}:{series.id}")
        # A server that answers with an error of its own is there: Failed, not Offline.
        async with httpx.AsyncClient(base_url=url) as control:
            fault = {"kind": "status", "status": 500, "path": f"/Items/{unseen.id}", "times": 1}
            (await control.post("/__control/fault", json=fault)).raise_for_status()
        with pytest.raises(RuntimeError, match=r"Failed: .*failed \(HTTP 500\)"):
            await info_of(client, f"{source}:{unseen.id}")
        # The token is in the URL handed to the player, and nowhere else.
        token = next(iter(fake.tokens))
        assert token in hls and token not in reeld.stderr_text()

    # The server is gone: what was fetched answers from the cache, the rest is Offline.
    assert reelctl(private_bus, "sync").returncode != 0
    assert await info_of(client, item_id) == jellyfin_expected(fake, episode.id)
    with pytest.raises(RuntimeError, match=r"Offline: .*never fetched"):
        await info_of(client, f"{source}:{unseen.id}")
    with pytest.raises(RuntimeError, match="Offline"):
        await url_with(client, item_id)


# -- Plex -------------------------------------------------------------------------------------------


def plex_expected(cluster: FakePlexCluster, rating_key: str) -> dict[str, Any]:
    item = cluster.server("Home").catalog.get(rating_key)
    assert item is not None and item.part is not None
    media = media_of(item)
    raw_streams = plex_streams.streams(item, item.part, media)
    next_index = max(s["index"] for s in raw_streams if "index" in s) + 1
    streams = []
    for stream in raw_streams:
        index = stream.get("index")
        if index is None:
            index, next_index = next_index, next_index + 1
        kind = {1: "video", 2: "audio", 3: "subtitle"}[stream["streamType"]]
        streams.append(
            without_none(
                {
                    "type": kind,
                    "index": index,
                    "codec": stream["codec"],
                    "language": stream.get("languageCode"),
                    "title": stream.get("title") or stream["displayTitle"],
                    "default": bool(stream.get("default")),
                    "forced": bool(stream.get("forced")),
                    "external": "index" not in stream,
                    "channels": stream.get("channels"),
                    "width": stream.get("width"),
                    "height": stream.get("height"),
                }
            )
        )
    return {
        "container": item.part.container,
        "bitrate": media["bitrate"] * 1000,
        "size": item.part.size,
        "duration_ms": item.duration,
        "streams": streams,
        "chapters": [
            {"title": c["tag"], "start_ms": c["startTimeOffset"]}
            for c in plex_streams.chapters(item, item.part)
        ],
        "markers": sorted(
            (
                {"type": m["type"], "start_ms": m["startTimeOffset"], "end_ms": m["endTimeOffset"]}
                for m in plex_streams.markers(item, item.part)
            ),
            key=lambda marker: marker["start_ms"],
        ),
    }


async def test_plex_tracks_markers_and_transcodes(
    private_bus: PrivateBus, keyring_daemon: KeyringDaemon, daemon: StartReeld, client: Client
) -> None:
    home = ServerSpec(
        "Home",
        catalog=CatalogSpec(movies=2, shows=1, seasons=1, episodes=6),
        connections=(ConnectionSpec.live(local=True),),
    )
    cluster = FakePlexCluster([home])
    with cluster.run_in_thread() as url:
        daemon(env={"REELD_PLEX_TV_URL": url})
        await add_and_sync(private_bus, client, "add-plex-token", stdin=cluster.token + "\n")
        source = source_id(private_bus)
        catalog = cluster.server("Home").catalog
        parts = [(item, item.part) for item in catalog.items.values() if item.type == EPISODE and item.part]
        episode = next(
            e for e, part in parts if any(m["type"] == "intro" for m in plex_streams.markers(e, part))
        )
        item_id = f"{source}:{episode.rating_key}"

        info = await info_of(client, item_id)
        assert info == plex_expected(cluster, str(episode.rating_key))
        assert info["markers"][0]["type"] == "intro"

        subtitles = [s["index"] for s in info["streams"] if s["type"] == "subtitle"]
        options = {"max_bitrate": Variant("u", 700_000), "start_ms": Variant("t", 90_500)}
        if subtitles:
            options["subtitle_index"] = Variant("u", subtitles[-1])
        hls = await url_with(client, item_id, **options)
        server_url = cluster.server("Home").url
        assert hls.startswith(f"{server_url}/video/:/transcode/universal/start.m3u8?")
        assert "maxVideoBitrate=700" in hls and "offset=90.5" in hls and "X-Plex-Token=" in hls
        async with httpx.AsyncClient() as http:
            playlist = await http.get(hls)
            assert playlist.status_code == 200, playlist.text
            assert playlist.text.startswith("#EXTM3U\n#EXT-X-STREAM-INF:")
            media_playlist = await http.get(httpx.URL(hls).join(playlist.text.splitlines()[2]))
            assert media_playlist.status_code == 200 and "#EXTINF:" in media_playlist.text
        (direct,) = await client.manager("GetStreamUrl", "s", item_id)
        assert await url_with(client, item_id, max_bitrate=Variant("u", 0)) == direct


# -- local files ------------------------------------------------------------------------------------


async def test_local_file_tracks_chapters_and_sidecar_subtitles(
    private_bus: PrivateBus, tmp_path: Path, daemon: StartReeld, client: Client
) -> None:
    folder = tmp_path / "Videos"
    (folder / "Film (2001)").mkdir(parents=True)
    film = write_matroska(folder / "Film (2001)" / "Film (2001).mkv")
    (folder / "Film (2001)" / "Film (2001).es.srt").write_text("1\n00:00:01,000 --> 00:00:02,000\nHola\n")
    daemon()
    await client.manager("AddLocalFolder", "s", str(folder))
    assert reelctl(private_bus, "sync").returncode == 0
    item_id = f"{source_id(private_bus)}:Film (2001)/Film (2001).mkv"
    info = await info_of(client, item_id)
    assert (
        info["container"] == "mkv" and info["duration_ms"] == 120_000 and info["size"] == film.stat().st_size
    )
    assert [
        (s["type"], s["index"], s.get("language"), s["default"], s["forced"], s["external"])
        for s in info["streams"]
    ] == [
        ("video", 0, "eng", True, False, False),
        ("audio", 1, "eng", True, False, False),
        ("audio", 2, "ger", False, False, False),  # as servers write it (mediainfo: deu)
        ("subtitle", 3, "eng", False, False, False),
        ("subtitle", 4, "fre", False, True, False),
        ("subtitle", 5, "spa", False, False, True),  # Film (2001).es.srt
    ]
    assert [(s["codec"], s.get("channels"), s.get("width")) for s in info["streams"][:3]] == [
        ("h264", None, 1920),
        ("aac", 2, None),
        ("ac3", 6, None),
    ]
    assert info["chapters"] == [
        {"title": "Opening", "start_ms": 0},
        {"title": "The Middle", "start_ms": 30_000},
        {"title": "The End", "start_ms": 90_000},
    ]
    assert info["markers"] == []
    # A file plays as it is, whatever the choice.
    assert (
        await url_with(client, item_id, max_bitrate=Variant("u", 1000), audio_index=Variant("u", 2))
        == film.as_uri()
    )
    # reelctl shows the same, and hands out the same URL.
    shown = reelctl(private_bus, "info", item_id)
    assert shown.returncode == 0, shown.stderr
    assert "mkv, " in shown.stdout and "The Middle" in shown.stdout and "forced" in shown.stdout
    assert "Film (2001).es.srt" in shown.stdout and "1920x1080" in shown.stdout
    as_json = json.loads(reelctl(private_bus, "--json", "info", item_id).stdout)
    assert as_json["streams"] == info["streams"] and as_json["id"] == item_id
    played = reelctl(private_bus, "play", item_id, "--audio", "2", "--max-kbps", "1")
    assert played.returncode == 0 and played.stdout.strip() == film.as_uri(), played.stderr
    wrong = reelctl(private_bus, "play", item_id, "--subtitle", "9")
    assert wrong.returncode == 4 and "subtitle_index 9 is no subtitle track" in wrong.stderr, wrong.stderr
    not_played = reelctl(private_bus, "info", f"{source_id(private_bus)}:show:film")
    assert not_played.returncode in (3, 4) and "Traceback" not in not_played.stderr


# -- the default cap ---------------------------------------------------------------------------------


async def test_a_remote_server_streams_above_the_cap_as_a_transcode(
    private_bus: PrivateBus, keyring_daemon: KeyringDaemon, daemon: StartReeld, client: Client
) -> None:
    """Reached over the internet, a file above ``[playback] remote_max_kbps`` (default 8000) is
    transcoded to fit; one below plays as it is."""
    away = ServerSpec(
        "Away",
        catalog=CatalogSpec(movies=8, shows=0, seasons=0, episodes=0),
        connections=(ConnectionSpec.live(local=False),),
    )
    cluster = FakePlexCluster([away])
    with cluster.run_in_thread() as url:
        daemon(env={"REELD_PLEX_TV_URL": url})
        await add_and_sync(private_bus, client, "add-plex-token", stdin=cluster.token + "\n")
        (source,) = json.loads(reelctl(private_bus, "--json", "sources").stdout)
        assert source["ConnectionKind"] == "remote"
        catalog = cluster.server("Away").catalog.items.values()
        movies = [item for item in catalog if item.type == MOVIE and item.part is not None]
        by_bitrate = sorted(movies, key=lambda movie: media_of(movie)["bitrate"])
        small, large = by_bitrate[0], by_bitrate[-1]
        assert media_of(small)["bitrate"] <= 8000 < media_of(large)["bitrate"]
        source_path = source["path"].rsplit("/", 1)[1]
        (direct,) = await client.manager("GetStreamUrl", "s", f"{source_path}:{small.rating_key}")
        assert await url_with(client, f"{source_path}:{small.rating_key}") == direct
        capped = await url_with(client, f"{source_path}:{large.rating_key}")
        assert "/video/:/transcode/universal/start.m3u8?" in capped and "videoBitrate=8000" in capped
        uncapped = await url_with(client, f"{source_path}:{large.rating_key}", max_bitrate=Variant("u", 0))
        assert uncapped == (await client.manager("GetStreamUrl", "s", f"{source_path}:{large.rating_key}"))[0]


# -- fetched once, kept, fetched again when the file changed -----------------------------------------


async def test_info_is_fetched_once_and_again_only_when_the_item_changed(
    private_bus: PrivateBus, keyring_daemon: KeyringDaemon, daemon: StartReeld, client: Client
) -> None:
    fake = FakeJellyfin.generate(movies=3, series=0, seasons=0, episodes=0, user="anna", password="pw-123")
    movie = next(iter(item for item in fake.items.values() if item.type == "Movie"))
    server = FakeJellyfinServer(fake)
    daemon()
    with server.run_in_thread() as url:
        add = ("add-jellyfin", url, "--user", "anna", "--password-stdin")
        await add_and_sync(private_bus, client, *add, stdin="pw-123\n")
        item_id = f"{source_id(private_bus)}:{movie.id}"

        def fetches() -> int:
            return sum(1 for r in server.wire.requests if r.path == f"/Items/{movie.id}")

        # A stream URL with nothing to choose on a LAN needs no tracks: nothing is fetched for it.
        (direct,) = await client.manager("GetStreamUrl", "s", item_id)
        assert await url_with(client, item_id) == direct and fetches() == 0
        # Asked by three clients at once: one request to the server.
        answers = await asyncio.gather(*(info_of(client, item_id) for _ in range(3)))
        assert answers[0] == answers[1] == answers[2] == jellyfin_expected(fake, movie.id)
        assert fetches() == 1
        await info_of(client, item_id)
        assert fetches() == 1  # from the cache
        # The file changed on the server (a new version: its etag): the next ask fetches it again.
        fake.update_item(movie.id, runtime_ticks=(movie.runtime_ticks or 0) + 60 * 10_000_000)
        assert reelctl(private_bus, "sync").returncode == 0
        changed = await info_of(client, item_id)
        assert fetches() == 2 and changed == jellyfin_expected(fake, movie.id)
        assert changed["duration_ms"] == answers[0]["duration_ms"] + 60_000


async def test_a_sync_keeps_what_it_probed_so_it_answers_with_the_disk_gone(
    private_bus: PrivateBus, tmp_path: Path, daemon: StartReeld, client: Client
) -> None:
    """A sync probes a new file for its duration anyway; the tracks come from the same probe and
    are kept, so a file on a disk since unplugged still shows them. One too small to be probed is
    read when asked, and cannot be without its disk."""
    disk = tmp_path / "disk"
    (disk / "Film (2001)").mkdir(parents=True)
    film = write_matroska(disk / "Film (2001)" / "Film (2001).mkv")
    with film.open("ab") as out:
        out.write(b"\0" * 70_000)  # past the size under which a sync does not probe a file
    write_matroska(disk / "Small (2002).mkv")
    daemon()
    await client.manager("AddLocalFolder", "s", str(disk))
    assert reelctl(private_bus, "sync").returncode == 0
    source = source_id(private_bus)
    disk.rename(tmp_path / "unplugged")
    info = await info_of(client, f"{source}:Film (2001)/Film (2001).mkv")
    assert info["duration_ms"] == 120_000 and len(info["streams"]) == 5 and len(info["chapters"]) == 3
    with pytest.raises(RuntimeError, match=r"Offline: .*cannot be read"):
        await info_of(client, f"{source}:Small (2002).mkv")
