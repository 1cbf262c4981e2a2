"""A person adds a Jellyfin server with reelctl, on a real bus, with a real keyring."""

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from jeepney.wrappers import DBusErrorResponse

from reeld.cli.output import duration
from reeld.fakes.jellyfin import FakeJellyfin, FakeJellyfinServer
from tests.conftest import StartReeld
from tests.support.bus import PrivateBus, call
from tests.support.cli import reelctl_process as reelctl
from tests.support.keyring import KeyringDaemon
from tests.test_daemon_e2e import Client


@pytest.fixture
def jellyfin() -> Iterator[tuple[FakeJellyfin, str]]:
    fake = FakeJellyfin.generate(movies=25, series=2, seasons=2, episodes=3, user="anna", password="pw-123")
    with FakeJellyfinServer(fake).run_in_thread() as url:
        yield fake, url


def test_add_jellyfin_with_a_password_from_stdin(
    private_bus: PrivateBus,
    keyring_daemon: KeyringDaemon,
    daemon: StartReeld,
    jellyfin: tuple[FakeJellyfin, str],
) -> None:
    fake, url = jellyfin
    reeld = daemon()
    wrong = reelctl(private_bus, "add-jellyfin", url, "--user", "anna", "--password-stdin", stdin="nope\n")
    assert wrong.returncode != 0 and "NotAuthorized" in wrong.stderr and "Traceback" not in wrong.stderr
    added = reelctl(private_bus, "add-jellyfin", url, "--user", "anna", "--password-stdin", stdin="pw-123\n")
    assert added.returncode == 0, added.stderr
    assert reelctl(private_bus, "sync").returncode == 0
    sources = json.loads(reelctl(private_bus, "--json", "sources").stdout)
    (source,) = sources
    assert source["Kind"] == "jellyfin" and source["Status"] == "connected" and source["ItemCount"] > 25
    listing = json.loads(reelctl(private_bus, "--json", "ls", "Movies", "--limit", "100").stdout)
    assert len(listing) == 25
    # The password went to the server once; the token lives in the keyring, never in logs or config.
    log = reeld.stderr_text()
    config = (private_bus.config_home / "reeld" / "config.toml").read_text()
    token = next(iter(fake.tokens))
    for secret in ("pw-123", token):
        assert secret not in log and secret not in config
    source_id = source["path"].rsplit("/", 1)[1]
    assert keyring_daemon.keyring_get("reeld", f"{source_id}/token") in fake.tokens


def test_add_jellyfin_with_quick_connect(
    private_bus: PrivateBus,
    keyring_daemon: KeyringDaemon,
    daemon: StartReeld,
    jellyfin: tuple[FakeJellyfin, str],
) -> None:
    fake, url = jellyfin
    daemon()
    proc = subprocess.Popen(
        [sys.executable, "-m", "reeld.cli.reelctl", "add-jellyfin", url, "--quick-connect"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=private_bus.env(),
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # printed before it waits: "Quick Connect code: 123456"
        code = first.strip().rsplit(" ", 1)[-1]
        assert first.startswith("Quick Connect code:") and code.isdigit(), first
        # The person approves the code in another Jellyfin app (here: on the fake, via its control API).
        request = next(q for q in fake.quick_connect.values() if q.code == code)
        assert not request.authenticated
        fake.approve_quick_connect(code, "anna")
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    sources = json.loads(reelctl(private_bus, "--json", "sources").stdout)
    assert [s["Kind"] for s in sources] == ["jellyfin"]


def first_movie_synced(private_bus: PrivateBus, url: str) -> dict[str, Any]:
    """Anna's account on the server at ``url`` added and synced; the first movie ``ls`` lists."""
    added = reelctl(private_bus, "add-jellyfin", url, "--user", "anna", "--password-stdin", stdin="pw-123\n")
    assert added.returncode == 0, added.stderr
    assert reelctl(private_bus, "sync").returncode == 0
    movie: dict[str, Any] = json.loads(reelctl(private_bus, "--json", "ls", "Movies").stdout)[0]
    return movie


def three_movies() -> FakeJellyfin:
    return FakeJellyfin.generate(movies=3, series=0, seasons=0, episodes=0, user="anna", password="pw-123")


def test_marking_watched_while_the_server_is_away_says_it_waits_for_it(
    private_bus: PrivateBus, keyring_daemon: KeyringDaemon, daemon: StartReeld
) -> None:
    daemon()
    with FakeJellyfinServer(three_movies()).run_in_thread() as url:
        movie = first_movie_synced(private_bus, url)
        online = reelctl(private_bus, "watched", movie["id"])
        assert online.returncode == 0 and "gets the change" not in online.stdout
        stream = reelctl(private_bus, "url", movie["id"])
        assert stream.returncode == 0 and stream.stdout.startswith(url), stream.stderr
    assert reelctl(private_bus, "sync").returncode != 0  # the server is gone: the source goes offline
    away = reelctl(private_bus, "watched", movie["id"])
    assert away.returncode == 0, away.stderr
    assert "is offline: it gets the change when it is back." in away.stdout
    # A stream URL is no use while the server is away: the contract's Offline, saying why.
    no_stream = reelctl(private_bus, "url", movie["id"])
    assert no_stream.returncode == 1 and no_stream.stdout == "", no_stream.stdout
    assert (
        no_stream.stderr.startswith("reelctl: Offline: anna on ")
        and "cannot be reached now" in no_stream.stderr
    )
    with pytest.raises(DBusErrorResponse) as refused:  # the same with a player's choices (API 1.1)
        call(
            private_bus.address,
            "io.github.reeld.Reeld1",
            "/io/github/reeld/Reeld1",
            "io.github.reeld.Reeld1.Manager",
            "GetStreamUrlWith",
            "sa{sv}",
            (movie["id"], {}),
        )
    assert refused.value.name == "io.github.reeld.Reeld1.Error.Offline"


def test_progress_made_while_the_server_is_away_is_kept_and_says_it_waits(
    private_bus: PrivateBus, keyring_daemon: KeyringDaemon, daemon: StartReeld
) -> None:
    """The replay itself, once the server is back, is tested in tests/backends/test_jellyfin.py."""
    daemon()
    with FakeJellyfinServer(three_movies()).run_in_thread() as url:
        movie = first_movie_synced(private_bus, url)
    assert reelctl(private_bus, "sync").returncode != 0  # the server is gone: the source goes offline
    away = reelctl(private_bus, "progress", movie["id"], "0:42:00", "--state", "paused")
    assert away.returncode == 0, away.stderr
    assert f"Saved {movie['title']!r} at 42:00 of " in away.stdout
    assert "is offline: it gets the change when it is back." in away.stdout
    started = json.loads(reelctl(private_bus, "--json", "continue").stdout)
    assert [(item["id"], item["position_ms"]) for item in started] == [(movie["id"], 42 * 60 * 1000)]
    # A position past the end is kept at the end, and said so rather than silently.
    length = duration(movie["duration_ms"])
    past = reelctl(private_bus, "progress", movie["id"], "99:00:00")
    assert past.returncode == 0, past.stderr
    assert past.stdout.startswith(f"99:00:00 is past the end of {movie['title']!r} ({length} long).\n")
    assert f"Saved {movie['title']!r} at the end, {length}; it counts as watched." in past.stdout
    scripted = reelctl(private_bus, "--json", "progress", movie["id"], "99:00:00")
    assert json.loads(scripted.stdout)["id"] == movie["id"]
    assert scripted.stderr == f"reelctl: 99:00:00 is past the end of {movie['title']!r} ({length} long).\n"


def test_marking_watched_while_the_login_is_revoked_says_to_log_in_again(
    private_bus: PrivateBus, keyring_daemon: KeyringDaemon, daemon: StartReeld
) -> None:
    fake = three_movies()
    daemon()
    with FakeJellyfinServer(fake).run_in_thread() as url:
        movie = first_movie_synced(private_bus, url)
        fake.revoke_tokens()
        assert reelctl(private_bus, "sync").returncode != 0  # the server rejects the saved login
        marked = reelctl(private_bus, "watched", movie["id"])
    assert marked.returncode == 0, marked.stderr
    assert "needs you to log in again (" in marked.stdout
    assert "reelctl add-jellyfin" in marked.stdout and "it gets the change after that." in marked.stdout


def test_without_a_terminal_the_password_is_asked_for_on_standard_input(
    private_bus: PrivateBus, daemon: StartReeld
) -> None:
    daemon()
    done = subprocess.run(
        [sys.executable, "-m", "reeld.cli.reelctl", "add-jellyfin", "http://127.0.0.1:9", "--user", "anna"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=private_bus.env(),
        timeout=60,
        start_new_session=True,  # no controlling terminal, as under cron or a service
    )
    assert done.returncode == 4
    assert "give it on standard input with --password-stdin" in done.stderr
    assert "Warning" not in done.stderr and "echo" not in done.stderr


def test_without_a_keyring_an_added_account_fails_saying_what_to_do_and_leaves_nothing(
    no_secret_service: PrivateBus, daemon: StartReeld, jellyfin: tuple[FakeJellyfin, str]
) -> None:
    """The password was right: NotAuthorized (and "refresh" an account that does not exist) would
    send the person the wrong way."""
    _, url = jellyfin
    daemon()
    added = reelctl(
        no_secret_service, "add-jellyfin", url, "--user", "anna", "--password-stdin", stdin="pw-123\n"
    )
    assert added.returncode == 1
    assert added.stderr.startswith("reelctl: Failed: No Secret Service is running"), added.stderr
    assert "start GNOME Keyring or KWallet" in added.stderr and "then add the account again." in added.stderr
    assert "NotAuthorized" not in added.stderr and "refresh" not in added.stderr
    assert json.loads(reelctl(no_secret_service, "--json", "accounts").stdout) == []
    config = no_secret_service.config_home / "reeld" / "config.toml"
    assert not config.exists() or "jellyfin" not in config.read_text()


EXISTING = """
[[accounts]]
id = "jellyfin_abc_u1"
kind = "jellyfin"
display_name = "anna on Home"
identity = "anna@jf.local"
server_url = "http://127.0.0.1:9"
server_id = "abc"
user_id = "u1"
"""


async def test_an_account_whose_keyring_is_gone_asks_for_attention_saying_what_to_do(
    no_secret_service: PrivateBus, daemon: StartReeld
) -> None:
    """What the README promises: AttentionNeeded, and in StatusMessage what to do."""
    (no_secret_service.config_home / "reeld").mkdir(parents=True)
    (no_secret_service.config_home / "reeld" / "config.toml").write_text(EXISTING)
    daemon()
    client = await Client.connect(no_secret_service.address)
    try:
        account = "/io/github/reeld/Reeld1/accounts/jellyfin_abc_u1"
        if not await client.prop(account, "Account", "AttentionNeeded"):
            await client.wait_signal(
                lambda m: (
                    m.member == "PropertiesChanged"
                    and m.path == account
                    and bool(m.body[1].get("AttentionNeeded") and m.body[1]["AttentionNeeded"].value)
                )
            )
        message = await client.prop(account, "Account", "StatusMessage")
        assert message.startswith("No Secret Service is running"), message
        assert message.endswith("then run `reelctl refresh 'anna on Home'`."), message
        source = account.replace("/accounts/", "/sources/")
        assert await client.prop(source, "Source", "Status") == "needs-auth"
    finally:
        client.bus.disconnect()


def test_with_a_locked_keyring_an_added_account_fails_saying_to_unlock_it(
    private_bus: PrivateBus,
    keyring_daemon: KeyringDaemon,
    daemon: StartReeld,
    jellyfin: tuple[FakeJellyfin, str],
) -> None:
    """The real thing: gnome-keyring, asked to unlock with no one to type the password, refuses
    after its prompt gives up (about 10 s here)."""
    keyring_daemon.keyring_set("other-app", "someone", "x")  # the login keyring exists
    call(
        private_bus.address,
        "org.freedesktop.secrets",
        "/org/freedesktop/secrets",
        "org.freedesktop.Secret.Service",
        "Lock",
        "ao",
        (["/org/freedesktop/secrets/collection/login"],),
    )
    _, url = jellyfin
    daemon()
    added = reelctl(private_bus, "add-jellyfin", url, "--user", "anna", "--password-stdin", stdin="pw-123\n")
    assert added.returncode == 1
    assert added.stderr.startswith("reelctl: Failed: The keyring is locked: unlock it"), added.stderr
    assert added.stderr.rstrip().endswith("then add the account again."), added.stderr
    assert json.loads(reelctl(private_bus, "--json", "accounts").stdout) == []
