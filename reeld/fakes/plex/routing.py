"""Point plexapi (or any `requests` user) at the fake plex.tv without touching plexapi's globals.

plexapi builds plex.tv URLs from class attributes (``https://plex.tv/api/v2/…``) but takes a
``session`` everywhere; a session whose adapter rewrites plex.tv's hosts to the fake is enough.
"""

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

PLEX_TV_HOSTS = ("plex.tv", "clients.plex.tv", "www.plex.tv")


class _Rewrite(HTTPAdapter):
    def __init__(self, target: str) -> None:
        super().__init__()
        self.target = urlsplit(target)

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        parts = urlsplit(str(request.url))
        request.url = urlunsplit(
            (self.target.scheme, self.target.netloc, parts.path, parts.query, parts.fragment)
        )
        return super().send(request, *args, **kwargs)


def plex_tv_session(plex_tv_url: str) -> requests.Session:
    """A `requests.Session` that sends plex.tv's requests to ``plex_tv_url`` and others as usual."""
    session = requests.Session()
    adapter = _Rewrite(plex_tv_url)
    for host in PLEX_TV_HOSTS:
        session.mount(f"https://{host}/", adapter)
    return session
