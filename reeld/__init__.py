"""reeld: an offline-first media-library sync daemon on the D-Bus session bus."""

__version__ = "0.1.0"
