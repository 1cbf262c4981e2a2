"""Fake plex.tv and Plex Media Servers for tests, the demo and benchmarks.

They answer like the real services for what reeld (and plexapi) use: XML by default and JSON
with ``Accept: application/json`` from the same data, paging, media-query filters and sorts,
watch state, media files with ranges, websocket notifications, PIN login and the resources
list. A control API (Python, and HTTP under ``/__control``) changes the library "from another
device" and injects faults.

    async with FakePlexCluster([ServerSpec(...)]) as cluster: ...   # inside a running loop
    with FakePlexCluster().run_in_thread() as plex_tv_url: ...      # from blocking code
    python -m reeld.fakes.plex --port 32400 --servers 2 ...          # standalone
"""

from reeld.backends.plex.plextv import plex_tv_session  # reeld routes plex.tv the same way
from reeld.fakes.plex.catalog import Catalog, Item, Part, Section
from reeld.fakes.plex.cluster import FakePlexCluster, default_specs
from reeld.fakes.plex.generate import CatalogSpec
from reeld.fakes.plex.network import TlsFiles
from reeld.fakes.plex.plextv import FakeAccount, FakePlexTV, Pin, PlayerSpec
from reeld.fakes.plex.pms import LIVE, REFUSED, TIMEOUT, ConnectionSpec, FakePlexServer, ServerSpec
from reeld.fakes.plex.wire import Fault, FaultKind, RequestRecord

__all__ = [
    "LIVE",
    "REFUSED",
    "TIMEOUT",
    "Catalog",
    "CatalogSpec",
    "ConnectionSpec",
    "FakeAccount",
    "FakePlexCluster",
    "FakePlexServer",
    "FakePlexTV",
    "Fault",
    "FaultKind",
    "Item",
    "Part",
    "Pin",
    "PlayerSpec",
    "RequestRecord",
    "Section",
    "ServerSpec",
    "TlsFiles",
    "default_specs",
    "plex_tv_session",
]
