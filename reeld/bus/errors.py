"""The one place where reeld's errors become named D-Bus errors.

Every method handler is wrapped: a ``ReeldError`` becomes its API name with its (safe) message;
anything else is logged with its traceback here and sent as ``Failed`` with no detail, so no
traceback, path or secret ever reaches a client.
"""

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

import structlog
from dbus_fast import DBusError

from reeld import errors
from reeld.bus.constants import ERROR_PREFIX

log = structlog.get_logger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

NOT_FOUND = f"{ERROR_PREFIX}.NotFound"
INVALID_ARGUMENT = f"{ERROR_PREFIX}.InvalidArgument"
NOT_AUTHORIZED = f"{ERROR_PREFIX}.NotAuthorized"
OFFLINE = f"{ERROR_PREFIX}.Offline"
BUSY = f"{ERROR_PREFIX}.Busy"
FAILED = f"{ERROR_PREFIX}.Failed"

# Most specific first: the first matching class names the error.
_NAMES: tuple[tuple[type[errors.ReeldError], str], ...] = (
    # A keyring that is locked or missing is no rejected password: NotAuthorized would send a person
    # to retype one. The message says what to do (unlock it, start one).
    (errors.SecretStoreUnavailable, FAILED),
    (errors.NotFound, NOT_FOUND),
    (errors.InvalidArgument, INVALID_ARGUMENT),
    (errors.AuthRequired, NOT_AUTHORIZED),
    # A server that answered with an error of its own (HTTP 5xx) is there: not Offline, which a
    # frontend shows as "away, try later on its own".
    (errors.ServerFailed, FAILED),
    (errors.BackendUnavailable, OFFLINE),
    (errors.Busy, BUSY),
    (errors.ReeldError, FAILED),
)


def to_dbus_error(exc: errors.ReeldError) -> DBusError:
    name = next(name for cls, name in _NAMES if isinstance(exc, cls))
    return DBusError(name, str(exc) or exc.__class__.__name__)


def bus_errors(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Wrap an async method handler so every failure leaves as a named D-Bus error."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await fn(*args, **kwargs)
        except DBusError:
            raise
        except errors.ReeldError as exc:
            raise to_dbus_error(exc) from None
        except Exception:
            log.exception("bus_method_crashed", method=fn.__name__)
            raise DBusError(FAILED, "Internal error; see the daemon's log") from None

    return wrapper
