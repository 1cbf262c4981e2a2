"""reeld-gtk: a GTK 4 + libadwaita frontend to reeld, built on its D-Bus API alone."""
