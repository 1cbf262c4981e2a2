"""Response helpers shared by the PMS endpoints: format choice, auth guard, errors, paging headers."""

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from reeld.fakes.plex.catalog import Item
from reeld.fakes.plex.metadata import fragment
from reeld.fakes.plex.query import QueryError, Window, window
from reeld.fakes.plex.render import JSON, JSON_TYPE, PMS_XML_TYPE, XML, Node, document, wants_json
from reeld.fakes.plex.wire import request_token

if TYPE_CHECKING:
    from reeld.fakes.plex.pms import FakePlexServer

Endpoint = Callable[[Request], Awaitable[Response]]
LIBRARY_ATTRS: dict[str, object] = {
    "allowSync": True,
    "identifier": "com.plexapp.plugins.library",
    "mediaTagPrefix": "/system/bundle/media/flags/",
    "mediaTagVersion": 1_700_000_000,
}
_HTML = "<html><head><title>{title}</title></head><body><h1>{status} {title}</h1></body></html>"


def response_format(request: HTTPConnection) -> str:
    return JSON if wants_json(request.headers.get("accept")) else XML


def pms_response(
    fmt: str, node: Node, *, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    media_type = JSON_TYPE if fmt == JSON else PMS_XML_TYPE
    extra = {"X-Plex-Protocol": "1.0", **(headers or {})}
    return Response(document(fmt, node), status_code=status, media_type=media_type, headers=extra)


def html_error(status: int, title: str) -> Response:
    """Errors as a real PMS sends them: a small HTML page, whatever the ``Accept`` header."""
    return Response(_HTML.format(status=status, title=title), status_code=status, media_type="text/html")


def unauthorized() -> Response:
    return html_error(401, "Unauthorized")


def not_found() -> Response:
    return html_error(404, "Not Found")


def bad_request() -> Response:
    return html_error(400, "Bad Request")


def guarded(server: "FakePlexServer", endpoint: Endpoint) -> Endpoint:
    """The endpoint behind ``X-Plex-Token`` (header or query); 401 without a token the server accepts."""

    async def checked(request: Request) -> Response:
        if not server.accepts(request_token(request.scope)):
            return unauthorized()
        try:
            return await endpoint(request)
        except QueryError:
            return bad_request()

    return checked


def paged_items(
    request: Request,
    fmt: str,
    items: list[Item],
    flags: int,
    attrs: dict[str, object],
    nodes: list[Node] | None = None,
) -> Response:
    """A container of items with paging applied and reported (body attributes and headers)."""
    page: Window = window(request.query_params, request.headers)
    chosen = page.slice(items)
    body: dict[str, object] = {"size": len(chosen)}
    headers: dict[str, str] = {}
    if page.paged or page.limit is not None:
        total = page.total(len(items))
        body.update({"totalSize": total, "offset": page.start})
        headers = {"X-Plex-Container-Start": str(page.start), "X-Plex-Container-Total-Size": str(total)}
    body.update(attrs)
    node = Node(
        "MediaContainer", body, nodes or [], fragments=[fragment(item, fmt, flags) for item in chosen]
    )
    return pms_response(fmt, node, headers=headers)


def guid_flag(request: Request, flag: int) -> int:
    return flag if request.query_params.get("includeGuids") == "1" else 0
