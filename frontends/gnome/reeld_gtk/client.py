"""reeld over D-Bus, the way any GNOME app would reach it: GDBus only, every call asynchronous.

Nothing here imports reeld: the names come from dbus/io.github.reeld.Reeld1.xml (API 1.1).
"""

import collections
import json
from collections.abc import Callable
from typing import Any

from gi.repository import Gio, GLib

try:  # Json-GLib turns a reply into JSON in C: 8x faster than unpack() for a page of 200 items
    from gi.repository import Json
except ImportError:
    Json = None

BUS_NAME = "io.github.reeld.Reeld1"
ROOT = "/io/github/reeld/Reeld1"
IFACE = "io.github.reeld.Reeld1"
MANAGER, SOURCE, LIBRARY = f"{IFACE}.Manager", f"{IFACE}.Source", f"{IFACE}.Library"
UNKNOWN_METHOD = "org.freedesktop.DBus.Error.UnknownMethod"
#: Calls in flight at once; more wait their turn (a bus refuses past 128 pending replies by default).
#: Artwork fetches (which may wait on a server) have a lane of their own, so pages never queue behind them.
MAX_IN_FLIGHT = {"ui": 24, "artwork": 6}
#: A page fetch or a sync start answers in milliseconds; logins and artwork may wait on a server.
TIMEOUT_MS = 60_000

Item = dict[str, Any]
OnReply = Callable[[Any], None]
OnError = Callable[[str, str], None]


def error_parts(error: GLib.Error) -> tuple[str, str]:
    """(D-Bus error name, the message a person can read) of a failed call."""
    name = Gio.DBusError.get_remote_error(error) or ""
    Gio.DBusError.strip_remote_error(error)
    return name, error.message


def log_error(name: str, message: str) -> None:
    print(f"reeld-gtk: {name}: {message}", flush=True)


def unpack(reply: GLib.Variant) -> Any:
    """A reply's arguments as Python values (a{sv} as dicts, tuples and arrays as lists)."""
    if Json is None:
        return reply.unpack()
    return json.loads(Json.gvariant_serialize_data(reply)[0])


class Reeld:
    """One connection to the bus the daemon is on, its object manager, and async calls.

    ``on_ready`` runs once the object manager is built (the daemon may still be absent: its
    ``name-owner`` is then None, and :meth:`activate` starts it by bus activation).
    """

    def __init__(self, address: str | None, on_ready: Callable[["Reeld"], None]) -> None:
        self.connection: Gio.DBusConnection | None = None
        self.objects: Gio.DBusObjectManagerClient | None = None
        self._on_ready = on_ready
        self._in_flight = dict.fromkeys(MAX_IN_FLIGHT, 0)
        self._queued: dict[str, collections.deque[tuple[Any, ...]]] = {
            lane: collections.deque() for lane in MAX_IN_FLIGHT
        }
        if address:
            flags = (
                Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION
            )
            Gio.DBusConnection.new_for_address(address, flags, None, None, self._on_connection)
        else:
            Gio.bus_get(Gio.BusType.SESSION, None, self._on_bus)

    def _on_bus(self, _source: object, result: Gio.AsyncResult) -> None:
        self._connected(Gio.bus_get_finish(result))

    def _on_connection(self, _source: object, result: Gio.AsyncResult) -> None:
        self._connected(Gio.DBusConnection.new_for_address_finish(result))

    def _connected(self, connection: Gio.DBusConnection) -> None:
        self.connection = connection
        Gio.DBusObjectManagerClient.new(
            connection,
            Gio.DBusObjectManagerClientFlags.DO_NOT_AUTO_START,
            BUS_NAME,
            ROOT,
            cancellable=None,
            callback=self._on_manager,
        )

    def _on_manager(self, _source: object, result: Gio.AsyncResult) -> None:
        self.objects = Gio.DBusObjectManagerClient.new_finish(result)
        self._on_ready(self)

    @property
    def running(self) -> bool:
        return self.objects is not None and self.objects.get_name_owner() is not None

    def activate(self, on_error: OnError) -> None:
        """Start the daemon by bus activation; the object manager sees it arrive."""
        self.call_on(
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "StartServiceByName",
            GLib.Variant("(su)", (BUS_NAME, 0)),
            lambda _reply: None,
            on_error,
        )

    def call_on(
        self,
        destination: str,
        path: str,
        interface: str,
        method: str,
        args: GLib.Variant | None,
        on_reply: OnReply,
        on_error: OnError = log_error,
        lane: str = "ui",
    ) -> None:
        self._queued[lane].append((destination, path, interface, method, args, on_reply, on_error))
        self._send_queued(lane)

    def _send_queued(self, lane: str) -> None:
        assert self.connection is not None
        queued = self._queued[lane]
        while queued and self._in_flight[lane] < MAX_IN_FLIGHT[lane]:
            destination, path, interface, method, args, on_reply, on_error = queued.popleft()
            self._in_flight[lane] += 1
            self.connection.call(
                destination, path, interface, method, args, None, Gio.DBusCallFlags.NONE, TIMEOUT_MS, None,
                self._done, (on_reply, on_error, lane),
            )  # fmt: skip

    def _done(
        self, connection: Gio.DBusConnection, result: Gio.AsyncResult, handlers: tuple[Any, ...]
    ) -> None:
        on_reply, on_error, lane = handlers
        self._in_flight[lane] -= 1
        try:
            reply = connection.call_finish(result)
        except GLib.Error as error:
            on_error(*error_parts(error))
        else:
            on_reply(unpack(reply))
        self._send_queued(lane)

    def call(
        self,
        path: str,
        interface: str,
        method: str,
        signature: str = "",
        args: tuple[Any, ...] = (),
        on_reply: OnReply = lambda _reply: None,
        on_error: OnError = log_error,
        lane: str = "ui",
    ) -> None:
        variant = GLib.Variant(f"({signature})", args) if signature else None
        self.call_on(BUS_NAME, path, interface, method, variant, on_reply, on_error, lane)

    def manager(
        self,
        method: str,
        signature: str = "",
        args: tuple[Any, ...] = (),
        on_reply: OnReply = lambda _reply: None,
        on_error: OnError = log_error,
        lane: str = "ui",
    ) -> None:
        self.call(ROOT, MANAGER, method, signature, args, on_reply, on_error, lane)

    def query(
        self,
        library: str,
        filters: dict[str, GLib.Variant],
        offset: int,
        limit: int,
        sort: str,
        on_page: Callable[[list[Item], int], None],
        on_error: OnError = log_error,
    ) -> None:
        """A page of a library and the number of matches: ``Library.Query`` (API 1.1), or
        ``ListItems`` from a 1.0 daemon (no filter, the total then from ``ItemCount``)."""

        def fallback(name: str, message: str) -> None:
            if name != UNKNOWN_METHOD:
                on_error(name, message)
                return
            total = self.property_of(library, LIBRARY, "ItemCount") or 0
            self.call(
                library,
                LIBRARY,
                "ListItems",
                "uus",
                (offset, limit, sort.lstrip("-") if sort in {"title", "added", "year", "rating"} else ""),
                lambda reply: on_page(reply[0], total),
            )

        self.call(
            library,
            LIBRARY,
            "Query",
            "a{sv}uus",
            (filters, offset, limit, sort),
            lambda reply: on_page(reply[0], reply[1]),
            fallback,
        )

    def subscribe(self, interface: str, member: str, handler: Callable[[str, tuple[Any, ...]], None]) -> int:
        """A signal from the daemon on any path: ``handler(path, args)``."""
        assert self.connection is not None

        def on_signal(
            _conn: object, _sender: str, path: str, _iface: str, _member: str, args: GLib.Variant
        ) -> None:
            handler(path, args.unpack())

        return self.connection.signal_subscribe(
            BUS_NAME, interface, member, None, None, Gio.DBusSignalFlags.NONE, on_signal
        )

    def proxies(self, interface: str) -> list[Gio.DBusProxy]:
        """Every object's proxy for ``interface``, in path order (a stable sidebar)."""
        if self.objects is None:
            return []
        found = [obj.get_interface(interface) for obj in self.objects.get_objects()]
        return sorted((p for p in found if p is not None), key=lambda p: p.get_object_path())

    def property_of(self, path: str, interface: str, name: str) -> Any:
        """A cached property (the object manager keeps them current from PropertiesChanged)."""
        proxy = self.objects.get_interface(path, interface) if self.objects else None
        value = proxy.get_cached_property(name) if proxy else None
        return value.unpack() if value is not None else None
