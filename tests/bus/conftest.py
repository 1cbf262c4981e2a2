"""Fixtures the bus tests share with the end-to-end tests."""

from tests.test_daemon_e2e import client_for  # noqa: F401  (a fixture: pytest finds it here)
