"""Requests against servers that refuse websockets, and how soon a server back is noticed (issue 11,
items 3 and 4).

In one run, in process (the daemon core on a private bus with a real gnome-keyring, the fakes on
loopback):

- a fake Jellyfin and a fake Plex Media Server whose websockets answer HTTP 404, as a proxy
  without websocket support does. After both first syncs, every request each server sees
  (websocket handshakes included, artwork fetched once after the first sync excluded) is counted
  per minute for ``--minutes`` minutes. Target: at most 10 a minute after the first minute.
- another Jellyfin server, its live updates working, away for ``--outage`` seconds (47 in the
  issue) and back on the same port: how soon reeld says it is away, what the status says
  meanwhile, and the time from its return to the source being connected again, with no network
  change to help (a network change tries at once).

Run: ``.venv/bin/python bench/bench_live_refused.py [--minutes 3 --outage 47]``.
"""

import argparse
import asyncio
import logging
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from keyring.backends.SecretService import Keyring  # noqa: E402

from reeld.backends.jellyfin.kind import JellyfinKind  # noqa: E402
from reeld.backends.local.kind import LocalKind  # noqa: E402
from reeld.backends.plex.kind import PlexKind, plex_source_id  # noqa: E402
from reeld.config import Paths  # noqa: E402
from reeld.daemon import Daemon  # noqa: E402
from reeld.fakes.jellyfin import FakeJellyfin, FakeJellyfinServer  # noqa: E402
from reeld.fakes.plex.cluster import FakePlexCluster  # noqa: E402
from reeld.fakes.plex.generate import CatalogSpec  # noqa: E402
from reeld.fakes.plex.pms import ConnectionSpec, ServerSpec  # noqa: E402
from reeld.fakes.plex.wire import Wire  # noqa: E402
from reeld.logs import configure_logging  # noqa: E402
from reeld.models.source import SourceStatus  # noqa: E402
from reeld.services import events as ev  # noqa: E402
from reeld.services.secrets import SecretStore  # noqa: E402
from tests.support.bus import start_bus  # noqa: E402
from tests.support.events import Recorder, running  # noqa: E402
from tests.support.keyring import start_keyring_daemon  # noqa: E402

USER, PASSWORD = "bench", "bench-password"


def asked(wire: Wire) -> int:
    return sum(1 for r in wire.requests if "/Images/" not in r.path and "/photo/" not in r.path)


async def synced(recorder: Recorder, source_id: str) -> None:
    finished = await recorder.wait(lambda e: isinstance(e, ev.SyncFinished) and e.source_id == source_id, 60)
    assert isinstance(finished, ev.SyncFinished) and finished.success, finished


async def outage(core: Daemon, recorder: Recorder, away_s: float) -> None:
    fake = FakeJellyfin.generate(movies=50, series=2, user=USER, password=PASSWORD, seed=1)
    fake.server_name = "Other Jellyfin"
    server = FakeJellyfinServer(fake)
    await server.start()
    source_id = await core.add_jellyfin_account(server.url, USER, PASSWORD)
    await synced(recorder, source_id)
    await asyncio.wait_for(fake.socket_connected.wait(), 30)
    print(f"a Jellyfin server with live updates away for {away_s:.0f} s, then back on the same port:")
    recorder.events.clear()
    gone = time.monotonic()
    await server.stop()
    await recorder.wait(lambda e: core.coordinator.get(source_id).state.status is SourceStatus.OFFLINE, 60)
    print(f"  offline {time.monotonic() - gone:.1f} s after it went away")
    await asyncio.sleep(max(0.0, away_s - (time.monotonic() - gone)))
    print(f"  its status then: {core.coordinator.get(source_id).state.message}")
    server = FakeJellyfinServer(fake, port=server.port)
    await server.start()
    back = time.monotonic()
    recorder.events.clear()
    await recorder.wait(lambda e: isinstance(e, ev.SourceConnected) and e.source_id == source_id, 300)
    print(f"  connected {time.monotonic() - back:.1f} s after it came back")
    await server.stop()


async def main(args: argparse.Namespace) -> None:
    fake = FakeJellyfin.generate(movies=200, series=10, seasons=2, episodes=6, user=USER, password=PASSWORD)
    fake.socket_refusal = 404
    jellyfin = FakeJellyfinServer(fake)
    await jellyfin.start()
    spec = ServerSpec(
        "Home",
        owned=True,
        catalog=CatalogSpec(movies=200, shows=10),
        connections=(ConnectionSpec.live(local=True),),
    )
    async with FakePlexCluster([spec]) as cluster:
        os.environ["REELD_PLEX_TV_URL"] = cluster.url
        plex = cluster.server("Home")
        plex.notifier.refusal = 404
        core = Daemon(
            Paths.from_env(),
            secrets=SecretStore(Keyring()),
            kinds=[LocalKind(), JellyfinKind(), PlexKind()],
            watch_network=False,
        )
        async with running(core) as recorder:
            jellyfin_id = await core.add_jellyfin_account(jellyfin.url, USER, PASSWORD)
            await synced(recorder, jellyfin_id)
            await core.add_plex_account(cluster.token)
            plex_id = plex_source_id(plex.machine_identifier)
            await synced(recorder, plex_id)
            print("statuses:")
            for source_id in (jellyfin_id, plex_id):
                state = core.coordinator.get(source_id).state
                print(f"  {source_id[:20]}…: {state.status} — {state.message}")
            counters = {
                "Jellyfin": lambda: asked(jellyfin.wire) + fake.socket_attempts,
                "Plex": lambda: asked(plex.wire) + plex.notifier.attempts,
            }
            print("requests per minute after the first syncs (websocket handshakes included):")
            for minute in range(1, args.minutes + 1):
                start = {name: count() for name, count in counters.items()}
                await asyncio.sleep(60)
                figures = ", ".join(f"{name} {count() - start[name]}" for name, count in counters.items())
                print(f"  minute {minute}: {figures}")
            for source_id in (jellyfin_id, plex_id):
                assert core.coordinator.get(source_id).state.status is SourceStatus.CONNECTED

            await outage(core, recorder, args.outage)
        await jellyfin.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=int, default=3)
    parser.add_argument("--outage", type=float, default=47.0)
    arguments = parser.parse_args()
    configure_logging(level=logging.WARNING)
    bus = start_bus("session")
    keyring = start_keyring_daemon(bus)
    os.environ.update(bus.vars())
    try:
        asyncio.run(main(arguments))
    finally:
        keyring.stop()
        bus.stop()
