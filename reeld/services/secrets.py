"""The keyring, behind an async face. Every call blocks (D-Bus to the Secret Service), so each
runs in a thread; every keyring failure becomes ``SecretStoreUnavailable`` with advice."""

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import structlog

from reeld.errors import SecretStoreUnavailable

log = structlog.get_logger(__name__)

SERVICE = "reeld"

# What is wrong and how to fix it, without the step after (each caller adds its own: "then add the
# account again", "then run `reelctl refresh NAME`"), so no sentence ends here.
NO_SECRET_SERVICE = (
    "No Secret Service is running, so reeld cannot keep passwords or tokens: start GNOME Keyring or "
    "KWallet (or another Secret Service)"
)
#: How long a keyring call may take. A Secret Service that can be started but never starts keeps a
#: call waiting for the bus's activation timeout (two minutes on desktops); an unlock prompt left
#: open, forever.
TIMEOUT_S = 25.0
NOT_ANSWERING = "The keyring did not answer within {seconds:g} s: check that GNOME Keyring or KWallet runs and is unlocked"
LOCKED = "The keyring is locked: unlock it (log in to the desktop, or run `gnome-keyring-daemon --unlock`)"
FAILED = "The keyring refused the request: check that GNOME Keyring or KWallet runs and is unlocked"


def _translate(exc: Exception) -> SecretStoreUnavailable:
    from keyring import errors

    if isinstance(exc, errors.NoKeyringError):
        return SecretStoreUnavailable(NO_SECRET_SERVICE)
    if isinstance(exc, errors.KeyringLocked):
        return SecretStoreUnavailable(LOCKED)
    if isinstance(exc, errors.InitError):
        # keyring says InitError both when no Secret Service answers and when one cannot open its
        # collection (locked, no prompt possible): the cause tells which.
        cause = repr(exc.__cause__) + str(exc)
        if "NotAvailable" in cause or "ServiceUnknown" in cause or "not provided by any" in cause:
            return SecretStoreUnavailable(NO_SECRET_SERVICE)
        return SecretStoreUnavailable(LOCKED)
    return SecretStoreUnavailable(FAILED)  # the log has the exception's class


class SecretStore:
    """Secrets under service ``reeld`` in the system keyring, keyed ``<account id>/<name>``."""

    def __init__(self, backend: Any | None = None, timeout_s: float = TIMEOUT_S) -> None:
        # ``backend``: a keyring backend instance; ``None`` lets keyring pick (Secret Service, KWallet…).
        self._backend = backend
        self._timeout_s = timeout_s

    def _keyring(self) -> Any:
        if self._backend is None:
            import keyring

            self._backend = keyring.get_keyring()
        return self._backend

    def _call(self, name: str, *args: str) -> Any:
        from keyring.errors import PasswordDeleteError

        try:
            return getattr(self._keyring(), name)(SERVICE, *args)
        except PasswordDeleteError:
            return None  # nothing stored under that key: already as wanted
        except Exception as exc:
            error = _translate(exc)
            log.warning("keyring_failed", operation=name, reason=exc.__class__.__name__)
            raise error from exc

    async def _run(self, name: str, *args: str) -> Any:
        try:
            async with asyncio.timeout(self._timeout_s):  # not wait_for: see reeld.aio
                return await _in_daemon_thread(self._call, name, *args)
        except TimeoutError:
            log.warning("keyring_failed", operation=name, reason="timeout", seconds=self._timeout_s)
            raise SecretStoreUnavailable(NOT_ANSWERING.format(seconds=self._timeout_s)) from None

    async def get(self, key: str) -> str | None:
        result = await self._run("get_password", key)
        return None if result is None else str(result)

    async def set(self, key: str, value: str) -> None:
        await self._run("set_password", key, value)

    async def delete(self, key: str) -> None:
        await self._run("delete_password", key)


T = TypeVar("T")


def _in_daemon_thread(fn: Callable[..., T], *args: Any) -> "asyncio.Future[T]":
    """``fn(*args)`` in a thread of its own that never holds up the daemon's exit: a keyring call
    given up on may stay blocked in D-Bus for minutes, and a pool thread would be waited for."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def run() -> None:
        try:
            outcome: tuple[Callable[[Any], None], Any] = (future.set_result, fn(*args))
        except BaseException as exc:  # handed to the awaiting coroutine
            outcome = (future.set_exception, exc)
        with contextlib.suppress(RuntimeError):  # the loop is closed: the daemon has stopped
            loop.call_soon_threadsafe(_settle, future, *outcome)

    threading.Thread(target=run, name="reeld-keyring", daemon=True).start()
    return future


def _settle(future: "asyncio.Future[Any]", set_outcome: Callable[[Any], None], value: Any) -> None:
    if not future.done():  # given up on (timed out, cancelled): nobody waits for it
        set_outcome(value)
