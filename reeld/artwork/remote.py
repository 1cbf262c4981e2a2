"""Images from servers: the request for one image at one width, and its download, checked.

The servers resize: Jellyfin by ``maxWidth``, Plex through its photo transcoder. Credentials go in
headers only (Jellyfin's ``Authorization: MediaBrowser … Token=…``, Plex's ``X-Plex-Token``), never
in a URL that could be stored or logged, and redirects are not followed, so a token never travels
to another origin.
"""

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx
import structlog

from reeld.backends.base import MediaBackend
from reeld.backends.http import http_client, unreachable, without_stream_cycle
from reeld.errors import AuthRequired, NotFound, ReeldError

log = structlog.get_logger(__name__)

#: Larger answers are not posters; reading one stops there (a hostile or broken server).
MAX_IMAGE_BYTES = 20 * 1024 * 1024
TIMEOUT = httpx.Timeout(20.0, connect=5.0)
#: Connections to all servers together: more than a source's prefetch takes
#: (``prefetch.CONCURRENCY``), so an image a client asks for never queues behind all of it.
MAX_CONNECTIONS = 12
ACCEPT = "image/jpeg, image/png, image/webp;q=0.9, image/*;q=0.5"

#: Jellyfin's image type for each artwork kind.
JELLYFIN_TYPES = {"poster": "Primary", "backdrop": "Backdrop", "thumb": "Thumb", "logo": "Logo"}
#: The largest side Plex's transcoder is asked for when the original is wanted from a URL that
#: is not the server's own (it never upscales).
PLEX_ORIGINAL_SIDE = 4096


class ArtworkUnavailable(ReeldError):
    """The server answered, but not with an image reeld keeps (an error page, an empty or huge
    body, something that is not a picture). Nothing is cached; the source's status is untouched."""


@dataclass(frozen=True, slots=True)
class ImageRequest:
    url: str  # never holds a credential
    headers: dict[str, str] = field(repr=False)
    #: The server, for messages: "the Jellyfin server at host:8096".
    server: str


def image_request(backend: MediaBackend, remote_id: str, kind: str, tag: str, width: int) -> ImageRequest:
    """How to ask the backend's server for an image; ``BackendUnavailable`` when not connected."""
    if backend.kind == "jellyfin":
        return _jellyfin_request(backend, remote_id, kind, tag, width)
    if backend.kind == "plex":
        return _plex_request(backend, tag, width)
    raise NotFound(f"{backend.kind} sources have no server images")


def _jellyfin_request(backend: Any, remote_id: str, kind: str, tag: str, width: int) -> ImageRequest:
    from reeld.backends.jellyfin.client import authorization

    client = backend.client  # raises BackendUnavailable before the first connection
    # ``Primary/<tag>``: an image of another type than the kind's own (an episode's frame, its thumb).
    image_type, _, tag = tag.rpartition("/")
    path = f"/Items/{quote(remote_id, safe='')}/Images/{image_type or JELLYFIN_TYPES[kind]}"
    if kind == "backdrop":
        path += "/0"  # an item may have several; the tag is the first's
    params = {"tag": tag, **({"maxWidth": str(width)} if width else {})}
    return ImageRequest(
        url=f"{client.base_url}{path}?{urlencode(params)}",
        headers={"Authorization": authorization(client.device_id, client.token), "Accept": ACCEPT},
        server=f"the Jellyfin server at {client.host}",
    )


def _plex_request(backend: Any, image_path: str, width: int) -> ImageRequest:
    """``image_path`` is the item's ``thumb``/``art`` (``/library/metadata/1/thumb/1715112705``)."""
    client = backend.client
    own = image_path.startswith("/") and not image_path.startswith("//")
    if own and not width:
        url = f"{client.base_url}{image_path}"
    else:
        # The transcoder fits the image in width x height: a tall box lets the width decide. It
        # also fetches pictures the item names by a URL elsewhere, so the token stays with the server.
        side = width or PLEX_ORIGINAL_SIDE
        params = {"url": image_path, "width": side, "height": side * 4, "minSize": 0, "upscale": 0}
        url = f"{client.base_url}/photo/:/transcode?{urlencode(params)}"
    return ImageRequest(
        url=url,
        headers={"X-Plex-Token": client.token, "Accept": ACCEPT},
        server=f"{client.name} ({client.host})",
    )


class ImageFetcher:
    """Downloads images with one connection pool for every server."""

    def __init__(self) -> None:
        # Made on the first fetch: its TLS context costs tens of milliseconds and a few MB, which a
        # daemon that never fetches an image (a cache that has them all) need not pay at start.
        self._client: httpx.AsyncClient | None = None

    @property
    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = http_client(
                TIMEOUT,
                httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS),
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def fetch(self, request: ImageRequest) -> bytes:
        """The body of a successful answer that may be an image (checked further by the caller).

        Raises ``NotFound`` (no such image), ``AuthRequired``, ``BackendUnavailable`` (not reached)
        or ``ArtworkUnavailable`` (any other answer).
        """
        try:
            async with self._http.stream("GET", request.url, headers=request.headers) as response:
                _check_answer(response, request.server)
                data = await _read_capped(response, request.server)
        except httpx.HTTPError as exc:
            raise unreachable(request.server, exc) from exc
        without_stream_cycle(response)  # freed now, not by the cycle collector's next full pass
        return data


def _check_answer(response: httpx.Response, server: str) -> None:
    status = response.status_code
    if status == 404:
        raise NotFound(f"{server} has no such image")
    if status in (401, 403):
        raise AuthRequired(f"{server} refused the image (HTTP {status})")
    if status != 200:
        raise ArtworkUnavailable(f"{server} did not send the image (HTTP {status})")
    media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type and not (media_type.startswith("image/") or media_type == "application/octet-stream"):
        raise ArtworkUnavailable(f"{server} sent {media_type[:40]} instead of an image")
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_IMAGE_BYTES:
        raise ArtworkUnavailable(
            f"{server} sent an image of {int(length) // 1_000_000} MB, too large to keep"
        )


async def _read_capped(response: httpx.Response, server: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_IMAGE_BYTES:
            raise ArtworkUnavailable(
                f"{server} sent more than {MAX_IMAGE_BYTES // 1_000_000} MB for an image"
            )
        chunks.append(chunk)
    if not size:
        raise ArtworkUnavailable(f"{server} sent an empty answer instead of an image")
    return b"".join(chunks)


def request_path(request: ImageRequest) -> str:
    """The request's path without its query, for logs."""
    return urlsplit(request.url).path
