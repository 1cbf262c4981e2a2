"""Accounts and their secrets, with a real gnome-keyring-daemon (or none at all)."""

import os
import tomllib
from pathlib import Path

import pytest
from keyring.backends.SecretService import Keyring

from reeld.config import Paths
from reeld.errors import AuthRequired, SecretStoreUnavailable
from reeld.models.auth import JellyfinAuth
from reeld.services.auth_manager import AuthManager
from reeld.services.secrets import SecretStore
from tests.support.bus import PrivateBus
from tests.support.keyring import KeyringDaemon

LEGACY = """
[[accounts]]
id = "jellyfin_abc"
kind = "jellyfin"
display_name = "anna on Home"
identity = "anna@jf.local"
server_url = "http://jf.local:8096"
server_id = "abc"
user_id = "u1"
token = "legacy-plaintext-token"
"""


@pytest.fixture
def on_bus(private_bus: PrivateBus, monkeypatch: pytest.MonkeyPatch) -> Paths:
    """This process talks to the private bus (for the keyring) and keeps its files in its home."""
    for key, value in private_bus.vars().items():
        monkeypatch.setenv(key, value)
    return Paths.from_env()


def manager(paths: Paths) -> AuthManager:
    # The Secret Service backend explicitly: keyring's automatic choice is made once per process.
    return AuthManager(paths, SecretStore(Keyring()))


def write_config(paths: Paths, text: str) -> None:
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    paths.config_file.write_text(text)


async def test_secret_goes_to_the_keyring_never_the_config(
    keyring_daemon: KeyringDaemon, on_bus: Paths
) -> None:
    auth = manager(on_bus)
    await auth.load()
    account = JellyfinAuth(
        "jellyfin_x", "anna on Home", "anna@jf", server_url="http://jf:8096", server_id="x", user_id="u"
    )
    await auth.add(account, {"token": "tok-123"})
    assert keyring_daemon.keyring_get("reeld", "jellyfin_x/token") == "tok-123"
    assert "tok-123" not in on_bus.config_file.read_text()
    assert os.stat(on_bus.config_file).st_mode & 0o777 == 0o600
    again = manager(on_bus)
    await again.load()
    assert await again.secret(again.get("jellyfin_x")) == "tok-123"
    await again.remove("jellyfin_x")
    assert keyring_daemon.keyring_get("reeld", "jellyfin_x/token") is None
    assert tomllib.loads(on_bus.config_file.read_text())["accounts"] == []


async def test_legacy_plaintext_token_is_moved_into_the_keyring(
    keyring_daemon: KeyringDaemon, on_bus: Paths
) -> None:
    write_config(on_bus, LEGACY)
    auth = manager(on_bus)
    await auth.load()
    assert keyring_daemon.keyring_get("reeld", "jellyfin_abc/token") == "legacy-plaintext-token"
    text = on_bus.config_file.read_text()
    assert "legacy-plaintext-token" not in text
    assert tomllib.loads(text)["accounts"][0]["server_url"] == "http://jf.local:8096"
    assert not auth.status["jellyfin_abc"].attention_needed


async def test_without_a_secret_service_the_legacy_file_stays_and_the_account_says_why(
    no_secret_service: PrivateBus, on_bus: Paths
) -> None:
    write_config(on_bus, LEGACY)
    auth = manager(on_bus)
    await auth.load()
    assert on_bus.config_file.read_text() == LEGACY  # untouched: nothing lost
    status = auth.status["jellyfin_abc"]
    assert status.attention_needed
    assert "Secret Service" in status.message and "legacy-plaintext-token" not in status.message
    with pytest.raises(SecretStoreUnavailable):
        await auth.secret(auth.get("jellyfin_abc"))


async def test_a_keyring_that_never_answers_leaves_the_file_and_says_so_after_the_timeout(
    private_bus: PrivateBus, on_bus: Paths
) -> None:
    # The Secret Service can be activated but never starts: without a limit of its own, every
    # keyring call would wait for the bus to give up on starting it.
    (private_bus.services_dir / "org.freedesktop.secrets.service").write_text(
        "[D-BUS Service]\nName=org.freedesktop.secrets\nExec=/bin/sleep 30\n"
    )
    private_bus.reload_config()
    write_config(on_bus, LEGACY)
    auth = AuthManager(on_bus, SecretStore(Keyring(), timeout_s=0.5))
    await auth.load()
    assert on_bus.config_file.read_text() == LEGACY  # untouched: nothing lost
    status = auth.status["jellyfin_abc"]
    assert status.attention_needed
    assert "did not answer within 0.5 s" in status.message
    with pytest.raises(SecretStoreUnavailable, match="did not answer"):
        await auth.secret(auth.get("jellyfin_abc"))


async def test_missing_secret_asks_to_log_in_again(keyring_daemon: KeyringDaemon, on_bus: Paths) -> None:
    write_config(on_bus, LEGACY.replace('token = "legacy-plaintext-token"\n', ""))
    auth = manager(on_bus)
    await auth.load()
    with pytest.raises(AuthRequired, match="add it again"):
        await auth.secret(auth.get("jellyfin_abc"))


def test_paths_follow_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "c"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "s"))
    paths = Paths.from_env()
    assert paths.config_file == tmp_path / "c" / "reeld" / "config.toml"
    assert paths.cache_file == tmp_path / "s" / "reeld" / "cache.db"
