"""reeld-gtk: a GTK 4 + libadwaita frontend to reeld, built on its D-Bus API alone."""

import contextlib

import gi

gi.require_version("Gdk", "4.0")
gi.require_version("GdkPixbuf", "2.0")
gi.require_version("Gtk", "4.0")
gi.require_version("Adw", "1")
with contextlib.suppress(ValueError):  # without it, replies are unpacked by PyGObject, slower
    gi.require_version("Json", "1.0")
