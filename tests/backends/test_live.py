"""A live-updates connection that cannot be made says why in words."""

import pytest

from reeld.backends.live import LiveUpdatesRefused, open_live_updates
from reeld.fakes.plex.network import HOST, refusing_socket


async def test_a_refused_live_updates_connection_says_so_in_words() -> None:
    refused = refusing_socket()
    try:
        with pytest.raises(LiveUpdatesRefused) as raised:
            await open_live_updates(f"ws://{HOST}:{refused.getsockname()[1]}/socket", "Home")
    finally:
        refused.close()
    assert str(raised.value) == "Home: the connection was refused"
