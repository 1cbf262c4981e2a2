"""Fixtures of the artwork tests."""

from tests.test_daemon_e2e import client_for  # noqa: F401  (a fixture: pytest finds it here)
