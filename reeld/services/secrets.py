"""The keyring, behind an async face. Every call blocks (D-Bus to the Secret Service), so each
runs in a thread; every keyring failure becomes ``SecretStoreUnavailable`` with advice."""

import asyncio
from typing import Any

import structlog

from reeld.errors import SecretStoreUnavailable

log = structlog.get_logger(__name__)

SERVICE = "reeld"

NO_SECRET_SERVICE = (
    "No Secret Service is running, so reeld cannot keep this account's password or token. "
    "Start GNOME Keyring or KWallet (or another Secret Service), then run `reelctl refresh ACCOUNT`."
)
LOCKED = "The keyring is locked. Unlock it (log in to the desktop, or `gnome-keyring-daemon --unlock`), then refresh."


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
    return SecretStoreUnavailable(f"The keyring failed ({exc.__class__.__name__}). {NO_SECRET_SERVICE}")


class SecretStore:
    """Secrets under service ``reeld`` in the system keyring, keyed ``<account id>/<name>``."""

    def __init__(self, backend: Any | None = None) -> None:
        # ``backend``: a keyring backend instance; ``None`` lets keyring pick (Secret Service, KWallet…).
        self._backend = backend

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

    async def get(self, key: str) -> str | None:
        result = await asyncio.to_thread(self._call, "get_password", key)
        return None if result is None else str(result)

    async def set(self, key: str, value: str) -> None:
        await asyncio.to_thread(self._call, "set_password", key, value)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._call, "delete_password", key)
