"""Plex: plex.tv accounts and the servers they reach."""
