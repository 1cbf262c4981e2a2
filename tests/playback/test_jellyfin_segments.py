"""Media segments came with Jellyfin 10.10: an older server (no such route) gives an item's tracks
and chapters without markers; one whose route fails says so, and nothing incomplete is kept."""

import pytest

from reeld.backends.jellyfin.client import JellyfinClient
from reeld.backends.jellyfin.playback import fetch_playback_info
from reeld.errors import BackendUnavailable
from reeld.fakes.jellyfin import FakeJellyfin, FakeJellyfinServer
from reeld.fakes.plex.wire import Fault, FaultKind
from reeld.models.media import ItemKind, MediaItem


async def test_a_server_without_segments_and_one_whose_segments_fail() -> None:
    fake = FakeJellyfin.generate(movies=1, series=0, seasons=0, episodes=0, user="anna", password="pw")
    movie = next(item for item in fake.items.values() if item.type == "Movie")
    user = fake.users["anna"].id
    item = MediaItem(movie.id, "lib", ItemKind.MOVIE, movie.name)
    async with FakeJellyfinServer(fake) as server:
        client = JellyfinClient(server.url, "test-device", fake.issue_token(user))
        try:
            full = await fetch_playback_info(client, user, item)
            assert full.markers and full.streams and full.chapters
            server.wire.add_fault(Fault(FaultKind.STATUS, path="/MediaSegments", status=404, times=1))
            older = await fetch_playback_info(client, user, item)
            assert older.markers == () and older.streams == full.streams and older.chapters == full.chapters
            server.wire.add_fault(Fault(FaultKind.STATUS, path="/MediaSegments", status=503, times=1))
            with pytest.raises(BackendUnavailable, match="failed"):
                await fetch_playback_info(client, user, item)
        finally:
            await client.aclose()
