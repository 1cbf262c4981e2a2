"""Helpers for reeld's tests: private buses, a real Secret Service, the daemon as a subprocess,
mock system services and real D-Bus clients (busctl, gdbus, GLib). The fixtures in
``tests/conftest.py`` wrap them; import from here for types and the non-fixture helpers.

Modules: ``bus`` (PrivateBus, call, get_property, wait_for_name), ``keyring`` (gnome-keyring-daemon),
``reeld`` (the daemon subprocess), ``network_manager`` (dbusmock on a system bus), ``glib_om``
(GLib ObjectManager client), ``cli`` (busctl, gdbus), ``tools`` (finding tools; skip or fail),
``procs`` (process plumbing).
"""
