"""The exported D-Bus objects of API v1. Thin: convert, call the daemon core, convert back.

Do not add ``from __future__ import annotations`` here: dbus-fast reads the annotations
(``typing.Annotated`` with a D-Bus signature) at class creation.
"""

from typing import Annotated, Any

from dbus_fast import PropertyAccess
from dbus_fast import introspection as intr
from dbus_fast.annotations import (
    DBusBool,
    DBusDict,
    DBusDouble,
    DBusObjectPath,
    DBusSignature,
    DBusStr,
    DBusUInt32,
    DBusUInt64,
)
from dbus_fast.service import ServiceInterface, dbus_property, method, signal

from reeld import __version__
from reeld.bus.browsing import API_VERSION, QueryAnswer, filter_from_dbus
from reeld.bus.constants import (
    ACCOUNT_IFACE,
    LIBRARY_IFACE,
    MANAGER_IFACE,
    SOURCE_IFACE,
    account_path,
    library_path,
    source_path,
)
from reeld.bus.convert import item_to_dbus, items_to_wire, use_artwork
from reeld.bus.errors import bus_errors
from reeld.bus.introspection import served_interfaces
from reeld.bus.playback import options_from_dbus, playback_to_dbus
from reeld.bus.wire import WireItems
from reeld.daemon import Daemon

#: Items as marshalled bytes (``reeld.bus.wire``): the bus connection sends them as they are.
ItemList = Annotated[WireItems, DBusSignature("aa{sv}")]
TwoStrings = Annotated[tuple[str, str], DBusSignature("ss")]
ThreeStrings = Annotated[tuple[str, str, str], DBusSignature("sss")]
LoginSignal = Annotated[list[Any], DBusSignature("sos")]
SyncSignal = Annotated[list[Any], DBusSignature("obs")]
ItemsChangedSignal = Annotated[list[Any], DBusSignature("asasb")]
READ = PropertyAccess.READ


class _Published(ServiceInterface):
    """An interface whose properties are snapshots; ``publish()`` emits what changed."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._last: dict[str, Any] = {}

    def snapshot(self) -> dict[str, Any]:
        raise NotImplementedError

    def introspect(self) -> intr.Interface:
        """The interface as the XML file describes it (with docs and annotations)."""
        return served_interfaces()[self.name]

    def publish(self) -> None:
        current = self.snapshot()
        changed = {key: value for key, value in current.items() if self._last.get(key) != value}
        self._last = current
        if changed:
            self.emit_properties_changed(changed)


class ManagerInterface(_Published):
    def __init__(self, daemon: Daemon) -> None:
        super().__init__(MANAGER_IFACE)
        self.daemon = daemon
        # Items carry the paths of their images kept in this daemon's artwork cache.
        use_artwork(daemon.artwork.item_paths)
        self._last = self.snapshot()

    def snapshot(self) -> dict[str, Any]:
        return {"Version": __version__, "Online": self.daemon.online, "Syncing": self.daemon.syncing}

    @dbus_property(access=READ)
    def Version(self) -> DBusStr:
        return __version__

    @dbus_property(access=READ)
    def Online(self) -> DBusBool:
        return self.daemon.online

    @dbus_property(access=READ)
    def Syncing(self) -> DBusBool:
        return self.daemon.syncing

    @dbus_property(access=READ)
    def ApiVersion(self) -> DBusStr:
        return API_VERSION

    # -- accounts --------------------------------------------------------------------------------

    @method()
    @bus_errors
    async def AddJellyfinAccount(
        self, server_url: DBusStr, username: DBusStr, password: DBusStr
    ) -> DBusObjectPath:
        return account_path(await self.daemon.add_jellyfin_account(server_url, username, password))

    @method()
    @bus_errors
    async def BeginJellyfinQuickConnect(self, server_url: DBusStr) -> TwoStrings:
        return await self.daemon.begin_jellyfin_quick_connect(server_url)

    @method()
    @bus_errors
    async def BeginPlexLogin(self) -> ThreeStrings:
        return await self.daemon.begin_plex_login()

    @method()
    @bus_errors
    async def AddPlexAccount(self, token: DBusStr) -> DBusObjectPath:
        return account_path(await self.daemon.add_plex_account(token))

    @method()
    @bus_errors
    async def AddLocalFolder(self, path: DBusStr) -> DBusObjectPath:
        return account_path(await self.daemon.add_local_folder(path))

    @method()
    @bus_errors
    async def CancelLogin(self, login_id: DBusStr) -> None:
        self.daemon.cancel_login(login_id)

    # -- sync and reads ----------------------------------------------------------------------------

    @method()
    @bus_errors
    async def SyncAll(self, full: DBusBool) -> None:
        self.daemon.sync_all(full)

    @method()
    @bus_errors
    async def Search(self, query: DBusStr, limit: DBusUInt32) -> ItemList:
        return await self.daemon.search(query, limit, items_to_wire)

    @method()
    @bus_errors
    async def ContinueWatching(self, limit: DBusUInt32) -> ItemList:
        return await self.daemon.continue_watching(limit, items_to_wire)

    @method()
    @bus_errors
    async def RecentlyAdded(self, limit: DBusUInt32) -> ItemList:
        return await self.daemon.recently_added(limit, items_to_wire)

    @method()
    @bus_errors
    async def NextUp(self, limit: DBusUInt32) -> ItemList:
        return await self.daemon.next_up(limit, items_to_wire)

    @method()
    @bus_errors
    async def GetItem(self, item_id: DBusStr) -> DBusDict:
        return item_to_dbus(await self.daemon.get_item(item_id))

    @method()
    @bus_errors
    async def GetChildren(self, item_id: DBusStr) -> ItemList:
        return await self.daemon.get_children(item_id, items_to_wire)

    @method()
    @bus_errors
    async def GetArtwork(self, item_id: DBusStr, kind: DBusStr, width: DBusUInt32) -> DBusStr:
        return await self.daemon.get_artwork(item_id, kind, width)

    @method()
    @bus_errors
    async def GetStreamUrl(self, item_id: DBusStr) -> DBusStr:
        return await self.daemon.stream_url(item_id)

    @method()
    @bus_errors
    async def SetWatched(self, item_id: DBusStr, watched: DBusBool) -> None:
        await self.daemon.set_watched(item_id, watched)

    @method()
    @bus_errors
    async def ReportProgress(self, item_id: DBusStr, position_ms: DBusUInt64, state: DBusStr) -> None:
        await self.daemon.report_progress(item_id, position_ms, state)

    @method()
    @bus_errors
    async def GetPlaybackInfo(self, item_id: DBusStr) -> DBusDict:
        return playback_to_dbus(await self.daemon.playback_info(item_id))

    @method()
    @bus_errors
    async def GetStreamUrlWith(self, item_id: DBusStr, options: DBusDict) -> DBusStr:
        return await self.daemon.stream_url_with(item_id, options_from_dbus(options))

    @signal()
    def LoginFinished(self, login_id: str, account: str, error: str) -> LoginSignal:
        return [login_id, account, error]

    @signal()
    def SyncFinished(self, source: str, success: bool, message: str) -> SyncSignal:
        return [source, success, message]


class AccountInterface(_Published):
    def __init__(self, daemon: Daemon, account_id: str) -> None:
        super().__init__(ACCOUNT_IFACE)
        self.daemon = daemon
        self.account_id = account_id
        self._last = self.snapshot()

    def snapshot(self) -> dict[str, Any]:
        account = self.daemon.auth.accounts.get(self.account_id)
        status = self.daemon.auth.status.get(self.account_id)
        return {
            "Kind": str(account.kind) if account else "",
            "DisplayName": account.display_name if account else "",
            "Identity": account.identity if account else "",
            "AttentionNeeded": bool(status and status.attention_needed),
            "StatusMessage": status.message if status else "",
        }

    @dbus_property(access=READ)
    def Kind(self) -> DBusStr:
        return str(self.snapshot()["Kind"])

    @dbus_property(access=READ)
    def DisplayName(self) -> DBusStr:
        return str(self.snapshot()["DisplayName"])

    @dbus_property(access=READ)
    def Identity(self) -> DBusStr:
        return str(self.snapshot()["Identity"])

    @dbus_property(access=READ)
    def AttentionNeeded(self) -> DBusBool:
        return bool(self.snapshot()["AttentionNeeded"])

    @dbus_property(access=READ)
    def StatusMessage(self) -> DBusStr:
        return str(self.snapshot()["StatusMessage"])

    @method()
    @bus_errors
    async def Remove(self) -> None:
        await self.daemon.remove_account(self.account_id)

    @method()
    @bus_errors
    async def Refresh(self) -> None:
        self.daemon.refresh_account(self.account_id)


class SourceInterface(_Published):
    def __init__(self, daemon: Daemon, source_id: str) -> None:
        super().__init__(SOURCE_IFACE)
        self.daemon = daemon
        self.source_id = source_id
        self._last = self.snapshot()

    def snapshot(self) -> dict[str, Any]:
        rt = self.daemon.coordinator.runtimes.get(self.source_id)
        if rt is None:
            return dict(self._last)
        return {
            "Account": account_path(rt.source.account_id),
            "Kind": rt.source.kind,
            "Name": rt.source.name,
            "Status": str(rt.state.status),
            "StatusMessage": rt.state.status_message,
            "Address": rt.state.address or rt.source.address,
            "ConnectionKind": str(rt.state.connection_kind or rt.source.connection_kind),
            "Syncing": rt.syncing,
            "Progress": float(rt.progress),
            "LastSync": rt.last_sync,
            "LastFullSync": rt.last_full_sync,
            "ItemCount": rt.item_count,
            "PendingChanges": rt.pending_changes,
            "NextRetry": rt.state.next_retry,
        }

    @dbus_property(access=READ)
    def Account(self) -> DBusObjectPath:
        return str(self.snapshot()["Account"])

    @dbus_property(access=READ)
    def Kind(self) -> DBusStr:
        return str(self.snapshot()["Kind"])

    @dbus_property(access=READ)
    def Name(self) -> DBusStr:
        return str(self.snapshot()["Name"])

    @dbus_property(access=READ)
    def Status(self) -> DBusStr:
        return str(self.snapshot()["Status"])

    @dbus_property(access=READ)
    def StatusMessage(self) -> DBusStr:
        return str(self.snapshot()["StatusMessage"])

    @dbus_property(access=READ)
    def Address(self) -> DBusStr:
        return str(self.snapshot()["Address"])

    @dbus_property(access=READ)
    def ConnectionKind(self) -> DBusStr:
        return str(self.snapshot()["ConnectionKind"])

    @dbus_property(access=READ)
    def Syncing(self) -> DBusBool:
        return bool(self.snapshot()["Syncing"])

    @dbus_property(access=READ)
    def Progress(self) -> DBusDouble:
        return float(self.snapshot()["Progress"])

    @dbus_property(access=READ)
    def LastSync(self) -> DBusUInt64:
        return int(self.snapshot()["LastSync"])

    @dbus_property(access=READ)
    def LastFullSync(self) -> DBusUInt64:
        return int(self.snapshot()["LastFullSync"])

    @dbus_property(access=READ)
    def ItemCount(self) -> DBusUInt32:
        return int(self.snapshot()["ItemCount"])

    @dbus_property(access=READ)
    def PendingChanges(self) -> DBusUInt32:
        return int(self.snapshot()["PendingChanges"])

    @dbus_property(access=READ)
    def NextRetry(self) -> DBusUInt64:
        return int(self.snapshot()["NextRetry"])

    @method()
    @bus_errors
    async def Sync(self, full: DBusBool) -> None:
        self.daemon.sync_source(self.source_id, full)

    @method()
    @bus_errors
    async def Reconnect(self) -> None:
        self.daemon.reconnect(self.source_id)


class LibraryInterface(_Published):
    def __init__(self, daemon: Daemon, source_id: str, library_id: str) -> None:
        super().__init__(LIBRARY_IFACE)
        self.daemon = daemon
        self.source_id = source_id
        self.library_id = library_id
        self._last = self.snapshot()

    def snapshot(self) -> dict[str, Any]:
        rt = self.daemon.coordinator.runtimes.get(self.source_id)
        cached = (
            next((lib for lib in rt.libraries if lib.library.remote_id == self.library_id), None)
            if rt
            else None
        )
        if rt is None or cached is None:
            return dict(self._last)
        return {
            "Source": source_path(self.source_id),
            "Title": cached.library.title,
            "Kind": str(cached.library.kind),
            "ItemCount": rt.library_counts.get(self.library_id, 0),
            "LastSync": cached.last_sync,
        }

    @property
    def path(self) -> str:
        return library_path(self.source_id, self.library_id)

    @dbus_property(access=READ)
    def Source(self) -> DBusObjectPath:
        return str(self.snapshot()["Source"])

    @dbus_property(access=READ)
    def Title(self) -> DBusStr:
        return str(self.snapshot()["Title"])

    @dbus_property(access=READ)
    def Kind(self) -> DBusStr:
        return str(self.snapshot()["Kind"])

    @dbus_property(access=READ)
    def ItemCount(self) -> DBusUInt32:
        return int(self.snapshot()["ItemCount"])

    @dbus_property(access=READ)
    def LastSync(self) -> DBusUInt64:
        return int(self.snapshot()["LastSync"])

    @method()
    @bus_errors
    async def ListItems(self, offset: DBusUInt32, limit: DBusUInt32, sort: DBusStr) -> ItemList:
        return await self.daemon.list_items(
            self.source_id, self.library_id, offset, limit, sort, items_to_wire
        )

    @method()
    @bus_errors
    async def Query(
        self, filter: DBusDict, offset: DBusUInt32, limit: DBusUInt32, sort: DBusStr
    ) -> QueryAnswer:
        return await self.daemon.query_library(
            self.source_id, self.library_id, filter_from_dbus(filter), offset, limit, sort, items_to_wire
        )

    @method()
    @bus_errors
    async def Sync(self) -> None:
        self.daemon.sync_library(self.source_id, self.library_id)

    @signal()
    def ItemsChanged(self, changed: list[str], removed: list[str], reload: bool) -> ItemsChangedSignal:
        return [changed, removed, reload]
