"""What the server backends' end-to-end tests share: a daemon's paths on a private session with a
real keyring."""

import pytest

from reeld.config import Paths
from tests.support.bus import PrivateBus
from tests.support.keyring import KeyringDaemon
from tests.test_daemon_e2e import client_for  # noqa: F401  (a fixture: pytest finds it here)


@pytest.fixture
def paths(private_bus: PrivateBus, keyring_daemon: KeyringDaemon, monkeypatch: pytest.MonkeyPatch) -> Paths:
    for key, value in private_bus.vars().items():
        monkeypatch.setenv(key, value)
    return Paths.from_env()
