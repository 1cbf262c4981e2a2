"""reeld-gtk: a GTK 4 + libadwaita frontend to reeld, built on its D-Bus API alone."""

import gi

gi.require_version("Gdk", "4.0")
gi.require_version("GdkPixbuf", "2.0")
gi.require_version("Gtk", "4.0")
gi.require_version("Adw", "1")
