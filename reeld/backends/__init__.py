"""Backends: one uniform ``MediaBackend`` per kind of source."""
