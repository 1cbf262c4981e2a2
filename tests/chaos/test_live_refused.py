"""A server whose websocket is refused (a proxy without websocket support, Jellyfin 12's refusal of
the legacy ``api_key``) is not a server gone: the source stays connected and says live updates
are unavailable and when they are tried again, client syncs run, and the server is left in peace."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import websockets
from keyring.backends.SecretService import Keyring
from websockets.exceptions import InvalidStatus

from reeld.backends.jellyfin.kind import JellyfinKind
from reeld.backends.local.kind import LocalKind
from reeld.backends.plex import connection
from reeld.backends.plex.kind import PlexKind, plex_source_id
from reeld.config import Paths
from reeld.daemon import Daemon
from reeld.fakes.jellyfin import FakeJellyfin, FakeJellyfinServer
from reeld.fakes.plex.cluster import FakePlexCluster
from reeld.fakes.plex.generate import CatalogSpec
from reeld.fakes.plex.pms import ConnectionSpec, ServerSpec
from reeld.fakes.plex.wire import RequestRecord, Wire
from reeld.models.source import SourceStatus
from reeld.services import events as ev
from reeld.services.secrets import SecretStore
from reeld.services.sync import live
from tests.support.bus import PrivateBus
from tests.support.events import Recorder, running
from tests.support.keyring import KeyringDaemon

USER, PASSWORD = "anna", "s3cret-pw"
#: How long a source refused its websocket is watched for requests it should not make.
QUIET_WINDOW_S = 3.0


@pytest.fixture
def paths(private_bus: PrivateBus, keyring_daemon: KeyringDaemon, monkeypatch: pytest.MonkeyPatch) -> Paths:
    for key, value in private_bus.vars().items():
        monkeypatch.setenv(key, value)
    return Paths.from_env()


@pytest.fixture
def fake() -> FakeJellyfin:
    return FakeJellyfin.generate(movies=10, series=1, seasons=1, episodes=2, user=USER, password=PASSWORD)


@pytest.fixture
async def server(fake: FakeJellyfin) -> AsyncIterator[FakeJellyfinServer]:
    async with FakeJellyfinServer(fake) as serving:
        yield serving


@pytest.fixture
async def daemon(paths: Paths) -> AsyncIterator[tuple[Daemon, Recorder]]:
    kinds = [LocalKind(), JellyfinKind(), PlexKind()]
    core = Daemon(paths, secrets=SecretStore(Keyring()), kinds=kinds, watch_network=False)
    async with running(core) as recorder:
        yield core, recorder


def asked(wire: Wire) -> list[RequestRecord]:
    """The requests a server saw, but for artwork: the posters fetched once after a first sync."""
    return [
        record for record in wire.requests if "/Images/" not in record.path and "/photo/" not in record.path
    ]


async def first_sync(recorder: Recorder, source_id: str) -> None:
    finished = await recorder.wait(lambda e: isinstance(e, ev.SyncFinished) and e.source_id == source_id, 30)
    assert isinstance(finished, ev.SyncFinished) and finished.success, finished


async def live_note(core: Daemon, recorder: Recorder, source_id: str, present: bool) -> str:
    """The source's status message once it says (or no longer says) that live updates are unavailable."""

    def says(_: ev.Event) -> bool:
        return ("live updates unavailable" in core.coordinator.get(source_id).state.message) is present

    if not says(ev.SourceChanged(source_id)):
        await recorder.wait(
            lambda e: isinstance(e, ev.SourceChanged) and e.source_id == source_id and says(e), 20
        )
    return core.coordinator.get(source_id).state.message


# -- the fakes are as strict as the servers -------------------------------------------------------------


async def test_fake_jellyfin_12_refuses_the_legacy_token_forms_on_the_socket_and_the_api(
    server: FakeJellyfinServer, fake: FakeJellyfin
) -> None:
    token = fake.login(USER, PASSWORD)
    assert token is not None
    socket = server.url.replace("http", "ws") + "/socket"
    async with httpx.AsyncClient(base_url=server.url) as client:
        assert (await client.get("/Users/Me", params={"api_key": token})).status_code == 200
        fake.version = "12.0.0"
        assert (await client.get("/System/Info/Public")).json()["Version"] == "12.0.0"
        assert (await client.get("/Users/Me", params={"api_key": token})).status_code == 401
        assert (await client.get("/Users/Me", headers={"X-Emby-Token": token})).status_code == 401
        assert (await client.get("/Users/Me", params={"ApiKey": token})).status_code == 200
    for legacy in (f"{socket}?api_key={token}", f"{socket}?X-Emby-Token={token}"):
        with pytest.raises(InvalidStatus) as refused:
            await websockets.connect(legacy)
        assert refused.value.response.status_code == 401
    async with websockets.connect(f"{socket}?ApiKey={token}"):
        pass
    header = {"Authorization": f'MediaBrowser Client="t", DeviceId="d", Token="{token}"'}
    async with websockets.connect(socket, additional_headers=header):
        pass


async def test_both_fakes_refuse_websockets_like_a_proxy_when_told(server: FakeJellyfinServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        answer = await client.post("/__control/socket", json={"refuse": 404})
        assert answer.json()["attempts"] == 0
        with pytest.raises(InvalidStatus) as refused:
            await websockets.connect(server.url.replace("http", "ws") + "/socket")
        assert refused.value.response.status_code == 404
        assert (await client.post("/__control/socket", json={"refuse": None})).json()["attempts"] == 1
    spec = ServerSpec("Home", owned=True, catalog=CatalogSpec(movies=2, shows=0))
    async with FakePlexCluster([spec]) as cluster:
        home = cluster.server("Home")
        async with httpx.AsyncClient(base_url=home.url) as client:
            await client.put("/__control/settings", json={"refuseWebsockets": 404})
            url = (
                home.url.replace("http", "ws")
                + f"/:/websockets/notifications?X-Plex-Token={home.access_token}"
            )
            with pytest.raises(InvalidStatus) as refused:
                await websockets.connect(url)
            assert refused.value.response.status_code == 404
            assert (await client.get("/__control/notifications")).json()["websocketAttempts"] == 1


# -- reeld -------------------------------------------------------------------------------------------------


async def test_jellyfin_12_keeps_the_source_connected_with_live_updates(
    daemon: tuple[Daemon, Recorder], server: FakeJellyfinServer, fake: FakeJellyfin
) -> None:
    fake.version = "12.0.0"  # api_key refused: the source turned needs-auth right after its first sync
    core, recorder = daemon
    source_id = await core.add_jellyfin_account(server.url, USER, PASSWORD)
    await first_sync(recorder, source_id)
    await asyncio.wait_for(fake.socket_connected.wait(), 10)
    movie = next(item for item in fake.items.values() if item.type == "Movie")
    fake.set_played(USER, movie.id, True)  # pushed on the socket
    await recorder.wait(lambda e: isinstance(e, ev.ItemsChanged) and e.source_id == source_id, 10)
    state = core.coordinator.get(source_id).state
    assert state.status is SourceStatus.CONNECTED and state.message == ""


async def test_a_websocket_refused_by_a_proxy_keeps_the_jellyfin_source_connected_and_quiet(
    daemon: tuple[Daemon, Recorder], server: FakeJellyfinServer, fake: FakeJellyfin
) -> None:
    fake.socket_refusal = 404
    core, recorder = daemon
    source_id = await core.add_jellyfin_account(server.url, USER, PASSWORD)
    await first_sync(recorder, source_id)
    message = await live_note(core, recorder, source_id, present=True)
    host = server.url.removeprefix("http://")
    assert (
        message == f"live updates unavailable: {host} refused the connection (HTTP 404); checking every 1 min"
    )
    assert core.coordinator.get(source_id).state.status is SourceStatus.CONNECTED
    # Left in peace: no flapping offline and back, no reconnects (before: 76-102 requests per 10 s).
    server.wire.reset_log()
    attempts = fake.socket_attempts
    await asyncio.sleep(QUIET_WINDOW_S)
    assert len(asked(server.wire)) + fake.socket_attempts - attempts == 0
    assert not [e for e in recorder.events if isinstance(e, ev.SourceDisconnected)]
    # A client's sync runs (it answered "offline" before).
    core.sync_source(source_id, False)
    finished = await recorder.wait(lambda e: isinstance(e, ev.SyncFinished) and e.source_id == source_id, 20)
    assert isinstance(finished, ev.SyncFinished) and finished.success, finished
    assert "live updates unavailable" in core.coordinator.get(source_id).state.message


async def test_live_updates_come_back_once_websockets_pass_again(
    daemon: tuple[Daemon, Recorder],
    server: FakeJellyfinServer,
    fake: FakeJellyfin,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(live, "REFUSED_FIRST_S", 0.5)  # the real first pause is a minute
    fake.socket_refusal = 502
    core, recorder = daemon
    source_id = await core.add_jellyfin_account(server.url, USER, PASSWORD)
    await first_sync(recorder, source_id)
    assert "(HTTP 502)" in await live_note(core, recorder, source_id, present=True)
    fake.socket_refusal = None
    assert await live_note(core, recorder, source_id, present=False) == ""
    await asyncio.wait_for(fake.socket_connected.wait(), 10)


async def went_offline(core: Daemon, recorder: Recorder, source_id: str, within_s: float) -> None:
    await recorder.wait(
        lambda e: (
            isinstance(e, ev.SourceChanged)
            and core.coordinator.get(source_id).state.status is SourceStatus.OFFLINE
        ),
        within_s,
    )


async def test_a_server_gone_is_still_offline_when_its_socket_fails(
    daemon: tuple[Daemon, Recorder], server: FakeJellyfinServer, fake: FakeJellyfin
) -> None:
    """The socket's refusal is checked against the REST API: a server that is away is offline."""
    core, recorder = daemon
    source_id = await core.add_jellyfin_account(server.url, USER, PASSWORD)
    await first_sync(recorder, source_id)
    await asyncio.wait_for(fake.socket_connected.wait(), 10)
    await server.stop()
    await went_offline(core, recorder, source_id, 20)


async def test_a_server_whose_socket_is_refused_is_offline_soon_after_it_goes_away(
    daemon: tuple[Daemon, Recorder],
    server: FakeJellyfinServer,
    fake: FakeJellyfin,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With no live updates, a server gone stayed 'connected' until the next socket try or sync, up
    to a quarter of an hour: it is asked every minute (here, a fraction of a second) instead."""
    monkeypatch.setattr(live, "PRESENCE_CHECK_S", 0.3)
    fake.socket_refusal = 404
    core, recorder = daemon
    source_id = await core.add_jellyfin_account(server.url, USER, PASSWORD)
    await first_sync(recorder, source_id)
    await live_note(core, recorder, source_id, present=True)  # the next socket try is a minute away
    await server.stop()
    await went_offline(core, recorder, source_id, 10)


async def test_a_websocket_refused_by_a_proxy_keeps_the_plex_source_connected(
    daemon: tuple[Daemon, Recorder], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connection, "PROBE_TIMEOUT_S", 1.5)
    spec = ServerSpec(
        "Home",
        owned=True,
        catalog=CatalogSpec(movies=3, shows=0),
        connections=(ConnectionSpec.live(local=True),),
    )
    async with FakePlexCluster([spec]) as cluster:
        monkeypatch.setenv("REELD_PLEX_TV_URL", cluster.url)
        home = cluster.server("Home")
        home.notifier.refusal = 404
        core, recorder = daemon
        await core.add_plex_account(cluster.token)
        source_id = plex_source_id(home.machine_identifier)
        await first_sync(recorder, source_id)
        message = await live_note(core, recorder, source_id, present=True)
        assert message.startswith(
            "live updates unavailable: Home refused the connection (HTTP 404); checking every"
        )
        assert core.coordinator.get(source_id).state.status is SourceStatus.CONNECTED
        home.wire.reset_log()
        attempts = home.notifier.attempts
        await asyncio.sleep(QUIET_WINDOW_S)
        assert len(asked(home.wire)) + home.notifier.attempts - attempts == 0
