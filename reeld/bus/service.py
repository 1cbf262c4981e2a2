"""Puts the daemon on the session bus and keeps the exported objects in step with its events."""

import asyncio
from collections.abc import Callable
from typing import Any

import structlog
from dbus_fast import BusType, ErrorType, Message, MessageFlag, MessageType, RequestNameReply
from dbus_fast.aio import MessageBus
from dbus_fast.service import ServiceInterface

from reeld.bus.constants import (
    BUS_NAME,
    PROGRESS_INTERVAL_S,
    ROOT_PATH,
    account_path,
    library_path,
    source_path,
)
from reeld.bus.convert import ITEM_BYTES
from reeld.bus.errors import INVALID_ARGUMENT
from reeld.bus.introspection import method_signatures, served_interfaces
from reeld.bus.item_signals import ItemSignals
from reeld.bus.objects import AccountInterface, LibraryInterface, ManagerInterface, SourceInterface
from reeld.bus.transport import BusLost, lost_reason, wait_when_full
from reeld.bus.wire import as_wire_reply
from reeld.daemon import Daemon
from reeld.errors import ReeldError
from reeld.services import events as ev

log = structlog.get_logger(__name__)

OBJECT_MANAGER = "org.freedesktop.DBus.ObjectManager"
#: The marshalled items kept for pages (up to 4 MiB) are let go after this long without a call.
FORGET_ITEMS_AFTER_S = 300.0


class RootObjectManagerBus(MessageBus):
    """A MessageBus that sends ObjectManager signals from the root path, as the spec says, and
    answers misaddressed calls to reeld's interfaces with errors that say what is wrong.

    dbus-fast sends the signals from the child's own path, where a GLib ``GDBusObjectManagerClient``
    never looks. These two methods are private in dbus-fast (pinned to 5.2.x; a test with a
    GLib client guards this). Its connection waits when the socket is full (``reeld.bus.transport``).
    """

    def __init__(
        self,
        bus_address: str | None = None,
        bus_type: BusType = BusType.SESSION,
        on_call: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(bus_address=bus_address, bus_type=bus_type)
        #: Per object path, the interfaces exported there.
        self.served: dict[str, set[str]] = {}
        #: Told of every call to one of reeld's interfaces (the daemon's ``ClientActivity``).
        self._on_call = on_call
        self.add_message_handler(self._refuse_misaddressed)

    async def connect(self) -> "RootObjectManagerBus":
        await super().connect()
        wait_when_full(self)
        return self

    def send(self, msg: Message) -> "asyncio.Future[None]":  # type: ignore[override]  # aio's send returns it
        """Send ``msg``; a reply holding a marshalled item list (``reeld.bus.wire``) as its bytes."""
        return super().send(as_wire_reply(msg))

    def export(self, path: str, interface: ServiceInterface) -> None:
        super().export(path, interface)
        self.served.setdefault(path, set()).add(interface.name)

    def unexport(self, path: str, interface: ServiceInterface | str | None = None) -> None:
        super().unexport(path, interface)
        name = interface if isinstance(interface, str) else interface.name if interface else None
        remaining = self.served.get(path, set()) - ({name} if name else self.served.get(path, set()))
        if remaining:
            self.served[path] = remaining
        else:
            self.served.pop(path, None)

    def _refuse_misaddressed(self, msg: Message) -> Message | None:
        """A call to one of reeld's interfaces that dbus-fast would answer with a bare
        ``UnknownMethod``: on a path with no such object, ``UnknownObject``; with arguments of
        other types, ``InvalidArgument``, saying which it takes."""
        interface, path, member = msg.interface, msg.path or "", msg.member or ""
        if (
            msg.message_type is not MessageType.METHOD_CALL
            or interface not in served_interfaces()
            or msg.flags & MessageFlag.NO_REPLY_EXPECTED
        ):
            return None
        self._on_call()
        if interface not in self.served.get(path, ()):
            return Message.new_error(msg, ErrorType.UNKNOWN_OBJECT, f"No {interface} object at {path[:200]}")
        expected = method_signatures().get((interface, member))
        if expected is None or expected == msg.signature:
            return None
        return Message.new_error(
            msg, INVALID_ARGUMENT, f"{member} takes ({expected}), not ({msg.signature[:100]})"
        )

    def _emit_interface_added(self, path: str, interface: ServiceInterface) -> None:
        if self._disconnected:
            return

        def send(_iface: ServiceInterface, props: Any, _user: Any, err: Exception | None) -> None:
            if err is not None:
                log.error("interfaces_added_failed", path=path, interface=interface.name)
            self.send(
                Message.new_signal(
                    ROOT_PATH,
                    OBJECT_MANAGER,
                    "InterfacesAdded",
                    "oa{sa{sv}}",
                    [path, {interface.name: props}],
                )
            )

        ServiceInterface._get_all_property_values(interface, send)

    def _emit_interface_removed(self, path: str, removed_interfaces: list[str]) -> None:
        if self._disconnected:
            return
        self.send(
            Message.new_signal(
                ROOT_PATH, OBJECT_MANAGER, "InterfacesRemoved", "oas", [path, removed_interfaces]
            )
        )


class BusService:
    def __init__(self, daemon: Daemon, bus_address: str | None = None) -> None:
        self.daemon = daemon
        self.bus_address = bus_address
        self.bus: MessageBus | None = None
        self.manager = ManagerInterface(daemon)
        self.accounts: dict[str, AccountInterface] = {}
        self.sources: dict[str, SourceInterface] = {}
        self.libraries: dict[tuple[str, str], LibraryInterface] = {}
        self._progress_due: set[str] = set()
        self._progress_timer: asyncio.TimerHandle | None = None
        self._stopping = False
        self._forgetting: asyncio.Task[None] | None = None
        self.item_signals = ItemSignals(self._send_items_changed)
        self._unsubscribe = daemon.events.subscribe(self._on_event)

    async def start(self) -> None:
        """Connect, export every object the daemon knows, then own the name (objects first, so a
        client activated by the name finds them)."""
        on_call = self.daemon.activity.note_call
        if self.bus_address:
            bus = RootObjectManagerBus(bus_address=self.bus_address, on_call=on_call)
        else:
            bus = RootObjectManagerBus(bus_type=BusType.SESSION, on_call=on_call)
        self.bus = await bus.connect()
        self.bus.export(ROOT_PATH, self.manager)
        for account_id in self.daemon.auth.accounts:
            self._export_account(account_id)
        for source_id in self.daemon.coordinator.runtimes:
            self._export_source(source_id)
        reply = await self.bus.request_name(BUS_NAME)
        if reply not in (RequestNameReply.PRIMARY_OWNER, RequestNameReply.ALREADY_OWNER):
            raise ReeldError(f"Another reeld already owns {BUS_NAME} on this bus")
        self._forgetting = asyncio.get_running_loop().create_task(self._forget_items_when_idle())
        log.info("bus_name_owned", name=BUS_NAME)

    async def wait_for_disconnect(self) -> None:
        """Return when :meth:`stop` disconnected; raise :class:`BusLost` when the bus went away by
        itself (the daemon then exits non-zero, and systemd restarts it)."""
        assert self.bus is not None
        try:
            await self.bus.wait_for_disconnect()
        except Exception as exc:
            raise BusLost(lost_reason(exc)) from exc
        if not self._stopping:
            raise BusLost(lost_reason(None))

    async def _forget_items_when_idle(self) -> None:
        while True:
            await asyncio.sleep(max(1.0, FORGET_ITEMS_AFTER_S - self.daemon.activity.idle_s))
            ITEM_BYTES.forget_if_idle(self.daemon.activity.idle_s, FORGET_ITEMS_AFTER_S)

    def stop(self) -> None:
        self._stopping = True
        if self._forgetting is not None:
            self._forgetting.cancel()
        self._unsubscribe()
        self.item_signals.close()
        if self._progress_timer is not None:
            self._progress_timer.cancel()
        if self.bus is not None:
            self.bus.disconnect()

    # -- exports -----------------------------------------------------------------------------------

    def _export_account(self, account_id: str) -> None:
        if account_id in self.accounts or self.bus is None:
            return
        obj = AccountInterface(self.daemon, account_id)
        self.accounts[account_id] = obj
        self.bus.export(account_path(account_id), obj)

    def _export_source(self, source_id: str) -> None:
        if source_id in self.sources or self.bus is None:
            return
        obj = SourceInterface(self.daemon, source_id)
        self.sources[source_id] = obj
        self.bus.export(source_path(source_id), obj)
        self._sync_libraries(source_id)

    def _sync_libraries(self, source_id: str) -> None:
        """Export the source's libraries that are new, unexport the ones that went away, publish the rest."""
        if self.bus is None:
            return
        runtime = self.daemon.coordinator.runtimes.get(source_id)
        wanted = {lib.library.remote_id for lib in runtime.libraries} if runtime else set()
        for key in [key for key in self.libraries if key[0] == source_id and key[1] not in wanted]:
            self.bus.unexport(library_path(*key), self.libraries.pop(key))
        for library_id in sorted(wanted):
            key = (source_id, library_id)
            if key in self.libraries:
                self.libraries[key].publish()
            else:
                obj = LibraryInterface(self.daemon, source_id, library_id)
                self.libraries[key] = obj
                self.bus.export(obj.path, obj)

    def _unexport_source(self, source_id: str) -> None:
        if self.bus is None:
            return
        for key in [key for key in self.libraries if key[0] == source_id]:
            self.bus.unexport(library_path(*key), self.libraries.pop(key))
        obj = self.sources.pop(source_id, None)
        if obj is not None:
            self.bus.unexport(source_path(source_id), obj)

    # -- events ------------------------------------------------------------------------------------

    def _on_event(self, event: ev.Event) -> None:
        match event:
            case ev.AccountAdded(account_id):
                self._export_account(account_id)
            case ev.AccountRemoved(account_id):
                obj = self.accounts.pop(account_id, None)
                if obj is not None and self.bus is not None:
                    self.bus.unexport(account_path(account_id), obj)
            case ev.AccountChanged(account_id):
                if account_id in self.accounts:
                    self.accounts[account_id].publish()
            case ev.SourceAdded(source_id):
                self._export_source(source_id)
            case ev.SourceRemoved(source_id):
                self.item_signals.forget(source_id)
                self._unexport_source(source_id)
            case ev.SourceChanged(source_id):
                if source_id in self.sources:
                    self.sources[source_id].publish()
            case ev.LibrariesChanged(source_id):
                self._sync_libraries(source_id)
            case ev.LibraryItemsChanged():
                self.item_signals.add(event)
            case ev.SyncProgress(source_id, syncing, _progress):
                self._progress_changed(source_id, immediate=not syncing or _progress == 0.0)
            case ev.SyncFinished(source_id, success, message):
                if source_id in self.sources:
                    self.sources[source_id].publish()
                self.manager.SyncFinished(source_path(source_id), success, message)
                self.manager.publish()
            case ev.LoginFinished(login_id, account_id, error):
                path = account_path(account_id) if account_id else "/"
                self.manager.LoginFinished(login_id, path, error)
            case ev.OnlineChanged():
                self.manager.publish()

    def _send_items_changed(
        self, source_id: str, library_id: str, changed: list[str], removed: list[str], reload: bool
    ) -> None:
        library = self.libraries.get((source_id, library_id))
        if library is not None:  # a library removed meanwhile has nobody left to tell
            library.ItemsChanged(changed, removed, reload)

    def _progress_changed(self, source_id: str, immediate: bool) -> None:
        """Progress goes out at most every PROGRESS_INTERVAL_S; start and end go out at once."""
        self._progress_due.add(source_id)
        if immediate:
            self._flush_progress()
        elif self._progress_timer is None:
            loop = asyncio.get_running_loop()
            self._progress_timer = loop.call_later(PROGRESS_INTERVAL_S, self._flush_progress)

    def _flush_progress(self) -> None:
        if self._progress_timer is not None:
            self._progress_timer.cancel()
            self._progress_timer = None
        for source_id in self._progress_due:
            if source_id in self.sources:
                self.sources[source_id].publish()
        self._progress_due.clear()
        self.manager.publish()
