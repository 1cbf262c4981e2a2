"""Jellyfin: a user on one server, over its HTTP API and websocket (httpx, websockets)."""
