"""A person adds a Plex account with reelctl, on a real bus, with a real keyring; the daemon is
told by REELD_PLEX_TV_URL to use the fake plex.tv."""

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from reeld.fakes.plex import CatalogSpec, ConnectionSpec, FakePlexCluster, ServerSpec
from tests.conftest import StartReeld
from tests.support.bus import PrivateBus
from tests.support.cli import reelctl_process as reelctl
from tests.support.keyring import KeyringDaemon

CATALOG = CatalogSpec(movies=20, shows=2, seasons=2, episodes=3)


@pytest.fixture
def plex() -> Iterator[tuple[FakePlexCluster, str]]:
    home = ServerSpec("Home", catalog=CATALOG, connections=(ConnectionSpec.live(local=True),))
    cluster = FakePlexCluster([home])
    with cluster.run_in_thread() as url:
        yield cluster, url


def test_add_plex_token_from_stdin_then_browse(
    private_bus: PrivateBus,
    keyring_daemon: KeyringDaemon,
    daemon: StartReeld,
    plex: tuple[FakePlexCluster, str],
) -> None:
    cluster, url = plex
    reeld = daemon("--verbose", env={"REELD_PLEX_TV_URL": url})  # debug logs too must hold no token
    wrong = reelctl(private_bus, "add-plex-token", stdin="not-a-token\n")
    assert wrong.returncode != 0 and "Traceback" not in wrong.stderr
    assert "NotAuthorized: plex.tv did not accept that token" in wrong.stderr
    added = reelctl(private_bus, "add-plex-token", stdin=cluster.token + "\n")
    assert added.returncode == 0, added.stderr
    assert reelctl(private_bus, "sync").returncode == 0
    (source,) = json.loads(reelctl(private_bus, "--json", "sources").stdout)
    assert (
        source["Kind"] == "plex" and source["Status"] == "connected" and source["ConnectionKind"] == "local"
    )
    assert source["Address"] == cluster.server("Home").url
    listing = json.loads(reelctl(private_bus, "--json", "ls", "Movies", "--limit", "100").stdout)
    assert len(listing) == 20
    # The token lives in the keyring only: not in the log, the config, or the bus.
    log = reeld.stderr_text()
    config = (private_bus.config_home / "reeld" / "config.toml").read_text()
    bus_dump = reelctl(private_bus, "--json", "accounts").stdout + json.dumps(source)
    for place in (log, config, bus_dump):
        assert cluster.token not in place
    (account,) = json.loads(reelctl(private_bus, "--json", "accounts").stdout)
    account_id = account["path"].rsplit("/", 1)[1]
    assert keyring_daemon.keyring_get("reeld", f"{account_id}/token") == cluster.token


def test_login_plex_prints_the_code_and_waits_for_approval(
    private_bus: PrivateBus,
    keyring_daemon: KeyringDaemon,
    daemon: StartReeld,
    plex: tuple[FakePlexCluster, str],
) -> None:
    cluster, url = plex
    daemon(env={"REELD_PLEX_TV_URL": url})
    proc = subprocess.Popen(
        [sys.executable, "-m", "reeld.cli.reelctl", "login-plex"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=private_bus.env(),
    )
    try:
        assert proc.stdout is not None
        opened = proc.stdout.readline()  # "Open https://app.plex.tv/auth#?clientID=…&code=…"
        entered = proc.stdout.readline()  # "and sign in to Plex there … Login code: …"
        assert opened.startswith("Open https://app.plex.tv/auth#?"), opened
        code = entered.rsplit("Login code: ", 1)[1].strip()
        assert f"code={code}" in opened
        # The person approves it at app.plex.tv (here: on the fake, through its control API).
        cluster.plex_tv.approve_pin(code=code)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    sources = json.loads(reelctl(private_bus, "--json", "sources").stdout)
    assert [s["Kind"] for s in sources] == ["plex"]
