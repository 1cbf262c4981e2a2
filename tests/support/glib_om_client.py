"""A GLib ``GDBusObjectManagerClient`` that reports what it sees as JSON lines, one per event.

Run with the *system* python (``/usr/bin/python3``, which has Debian's python3-gi; the venv has no
``gi``). It must not import anything from the project. Usage::

    /usr/bin/python3 glib_om_client.py ADDRESS [--name NAME] [--path PATH] [--autostart]

Events on stdout, flushed one per line:
    {"event": "initial", "owner": ":1.4" or null, "objects": [paths], "interfaces": {path: [names]}}
    {"event": "owner", "owner": ":1.7" or null}
    {"event": "added", "path": ..., "interfaces": [...]}
    {"event": "removed", "path": ..., "interfaces": [...]}
    {"event": "interface-added" | "interface-removed", "path": ..., "interface": ...}
    {"event": "properties", "path": ..., "interface": ..., "changed": {...}, "invalidated": [...]}
    {"event": "objects", "objects": [...], "interfaces": {...}}   (answer to a "list" line on stdin)
    {"event": "closed"}                                            (the bus connection went away)
    {"event": "error", "message": ...}                             (then exit code 1)
It runs a GLib main loop until stdin reaches end of file.
"""

import argparse
import json
import os
import sys

import gi

gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib  # noqa: E402

DEFAULT_NAME = "io.github.reeld.Reeld1"
DEFAULT_PATH = "/io/github/reeld/Reeld1"


def emit(event: str, **fields: object) -> None:
    print(json.dumps({"event": event, **fields}, default=str, sort_keys=True), flush=True)


def interface_names(obj: Gio.DBusObject) -> list[str]:
    return sorted(proxy.get_interface_name() for proxy in obj.get_interfaces())


def snapshot(manager: Gio.DBusObjectManagerClient) -> dict[str, object]:
    objects = {obj.get_object_path(): interface_names(obj) for obj in manager.get_objects()}
    return {"objects": sorted(objects), "interfaces": objects}


def connect_signals(manager: Gio.DBusObjectManagerClient) -> None:
    def on_added(_manager: object, obj: Gio.DBusObject) -> None:
        emit("added", path=obj.get_object_path(), interfaces=interface_names(obj))

    def on_removed(_manager: object, obj: Gio.DBusObject) -> None:
        emit("removed", path=obj.get_object_path(), interfaces=interface_names(obj))

    def on_interface_added(_manager: object, obj: Gio.DBusObject, proxy: Gio.DBusProxy) -> None:
        emit("interface-added", path=obj.get_object_path(), interface=proxy.get_interface_name())

    def on_interface_removed(_manager: object, obj: Gio.DBusObject, proxy: Gio.DBusProxy) -> None:
        emit("interface-removed", path=obj.get_object_path(), interface=proxy.get_interface_name())

    def on_properties(
        _manager: object,
        obj: Gio.DBusObject,
        proxy: Gio.DBusProxy,
        changed: GLib.Variant,
        invalidated: list[str],
    ) -> None:
        emit(
            "properties",
            path=obj.get_object_path(),
            interface=proxy.get_interface_name(),
            changed=changed.unpack(),
            invalidated=list(invalidated),
        )

    def on_owner(_manager: Gio.DBusObjectManagerClient, _spec: object) -> None:
        emit("owner", owner=manager.get_name_owner())

    manager.connect("object-added", on_added)
    manager.connect("object-removed", on_removed)
    manager.connect("interface-added", on_interface_added)
    manager.connect("interface-removed", on_interface_removed)
    manager.connect("interface-proxy-properties-changed", on_properties)
    manager.connect("notify::name-owner", on_owner)


def watch_stdin(manager: Gio.DBusObjectManagerClient, loop: GLib.MainLoop) -> None:
    pending = b""

    def on_stdin(fd: int, _condition: GLib.IOCondition) -> bool:
        nonlocal pending
        chunk = os.read(fd, 4096)
        if not chunk:
            loop.quit()
            return False
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if line.strip() == b"list":
                emit("objects", **snapshot(manager))
        return True

    GLib.io_add_watch(
        sys.stdin.fileno(), GLib.PRIORITY_DEFAULT, GLib.IOCondition.IN | GLib.IOCondition.HUP, on_stdin
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("address")
    parser.add_argument("--name", default=DEFAULT_NAME)
    parser.add_argument("--path", default=DEFAULT_PATH)
    parser.add_argument("--autostart", action="store_true", help="let the bus activate the name")
    args = parser.parse_args()
    flags = Gio.DBusObjectManagerClientFlags.NONE
    if not args.autostart:
        flags = Gio.DBusObjectManagerClientFlags.DO_NOT_AUTO_START
    try:
        connection = Gio.DBusConnection.new_for_address_sync(
            args.address,
            Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
            None,
            None,
        )
        manager = Gio.DBusObjectManagerClient(
            connection=connection, flags=flags, name=args.name, object_path=args.path
        )
        manager.init(None)
    except GLib.Error as error:
        emit("error", message=error.message)
        return 1
    loop = GLib.MainLoop()
    connect_signals(manager)
    connection.connect("closed", lambda *_: (emit("closed"), loop.quit()))
    watch_stdin(manager, loop)
    emit("initial", owner=manager.get_name_owner(), **snapshot(manager))
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
