"""A fake Jellyfin server for tests, the demo and benchmarks.

It answers what reeld uses the way a Jellyfin 10.11 server does (checked against the OpenAPI
document in ../shared/specs): MediaBrowser authorization, password and Quick Connect logins,
views, paged and filtered /Items listings with totals, watch state and session reports, streams,
and the /socket websocket with keep-alives and change messages. A control API (Python methods,
and HTTP under ``/__control``) changes the catalog as another device would and injects faults.

    async with FakeJellyfinServer(FakeJellyfin.generate(movies=10, ...)) as server: server.url
    python -m reeld.fakes.jellyfin --port 8096 --movies N --series N --seasons N --episodes N --user U --password P
"""

from reeld.fakes.jellyfin.catalog import FakeJellyfin, Item, UserState
from reeld.fakes.jellyfin.server import FakeJellyfinServer

__all__ = ["FakeJellyfin", "FakeJellyfinServer", "Item", "UserState"]
