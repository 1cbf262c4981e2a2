"""D-Bus shapes of API 1.1 browsing: ``Library.Query``'s filter in, its page and total out."""

from typing import Annotated, Any

from dbus_fast import Variant
from dbus_fast.annotations import DBusSignature

from reeld.bus.wire import WireItems

#: ``Library.Query``'s answer: the page of items and how many match.
QueryAnswer = Annotated[tuple[WireItems, int], DBusSignature("aa{sv}u")]

#: The API version a frontend can rely on (``Manager.ApiVersion``); ``Version`` is the daemon's own.
API_VERSION = "1.1"


def filter_from_dbus(values: dict[str, Variant]) -> dict[str, tuple[str, Any]]:
    """An ``a{sv}`` filter as ``{key: (signature, value)}``: the daemon checks each key's type."""
    return {key: (variant.signature, variant.value) for key, variant in values.items()}
