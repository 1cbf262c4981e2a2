"""The PMS control API under ``/__control`` (no token): the same operations as the Python methods.

GET    /__control/state                       server, sections, connections
POST   /__control/items                       {"type", "title", "parent"?, "index"?, "year"?,
                                               "children"?, "grandchildren"?}  → 201 {"ratingKey"}
PATCH  /__control/items/{ratingKey}           {"title"?, "summary"?, "year"?, "rating"?, …}
DELETE /__control/items/{ratingKey}           → {"removed": [ratingKey…]}
POST   /__control/items/{ratingKey}/watched   {"watched": true|false, "at"?}
POST   /__control/items/{ratingKey}/progress  {"offset": ms, "at"?}  → {"watched": bool}
POST   /__control/sections/{id}/scan
POST   /__control/faults                      {"kind", "path"?, "times"?, "status"?, "delay"?}
DELETE /__control/faults
PUT    /__control/settings                    {"latency"?: s, "ignoreDateFilters"?: bool,
                                               "refuseWebsockets"?: HTTP status or null}
GET    /__control/requests                    request log, bytes sent;  DELETE clears them
GET    /__control/notifications               the notifications sent so far, websocket handshakes
"""

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from reeld.fakes.plex.wire import CONTROL_PREFIX, Fault, Wire

if TYPE_CHECKING:
    from reeld.fakes.plex.pms import FakePlexServer

#: Control-API field names (camelCase, as in responses) → catalog field names.
EDITABLE_FIELDS = {
    "title": "title",
    "titleSort": "title_sort",
    "summary": "summary",
    "year": "year",
    "rating": "rating",
    "audienceRating": "audience_rating",
    "contentRating": "content_rating",
    "studio": "studio",
    "originallyAvailableAt": "released",
    "originalTitle": "original_title",
    "duration": "duration",
    "index": "index",
}


def control_endpoint(
    handler: Callable[[Request], Awaitable[Any]],
) -> Callable[[Request], Awaitable[Response]]:
    """JSON in, JSON out; KeyError → 404, ValueError/TypeError → 400."""

    async def endpoint(request: Request) -> Response:
        try:
            result = await handler(request)
        except KeyError as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        if isinstance(result, Response):
            return result
        return JSONResponse(result if result is not None else {"ok": True})

    return endpoint


async def body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    data = await request.json()
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def routes(server: "FakePlexServer") -> list[BaseRoute]:
    async def state(request: Request) -> Any:
        return server.state()

    async def add(request: Request) -> Any:
        data = await body(request)
        item = server.add_item(
            str(data["type"]),
            str(data.get("title", "")),
            parent=data.get("parent"),
            index=data.get("index"),
            year=data.get("year"),
            children=int(data.get("children", 0)),
            grandchildren=int(data.get("grandchildren", 0)),
        )
        keys = [child.rating_key for child in item.children.values()]
        return JSONResponse({"ratingKey": str(item.rating_key), "children": keys}, status_code=201)

    async def update(request: Request) -> Any:
        data = await body(request)
        unknown = set(data) - set(EDITABLE_FIELDS)
        if unknown:
            raise ValueError(f"not editable: {sorted(unknown)}")
        fields = {EDITABLE_FIELDS[name]: value for name, value in data.items()}
        item = server.update_item(request.path_params["rk"], **fields)
        return {"ratingKey": str(item.rating_key), "updatedAt": item.updated_at}

    async def delete(request: Request) -> Any:
        return {"removed": [str(key) for key in server.delete_item(request.path_params["rk"])]}

    async def watched(request: Request) -> Any:
        data = await body(request)
        server.set_watched(request.path_params["rk"], bool(data.get("watched", True)), at=data.get("at"))

    async def progress(request: Request) -> Any:
        data = await body(request)
        done = server.set_progress(request.path_params["rk"], int(data["offset"]), at=data.get("at"))
        return {"watched": done}

    async def scan(request: Request) -> Any:
        server.scan_section(request.path_params["sid"])

    async def settings(request: Request) -> Any:
        data = await body(request)
        if "latency" in data:
            server.set_latency(float(data["latency"]))
        if "ignoreDateFilters" in data:
            server.set_ignore_date_filters(bool(data["ignoreDateFilters"]))
        if "refuseWebsockets" in data:  # a proxy without websocket support in front of the server
            refusal = data["refuseWebsockets"]
            server.notifier.refusal = None if refusal is None else int(refusal)

    async def notifications(request: Request) -> Any:
        notifier = server.notifier
        return {
            "notifications": list(notifier.history),
            "websocketAttempts": notifier.attempts,
            "listeners": notifier.listeners,
        }

    prefix = CONTROL_PREFIX
    table: list[tuple[str, Callable[[Request], Awaitable[Any]], list[str]]] = [
        ("/state", state, ["GET"]),
        ("/items", add, ["POST"]),
        ("/items/{rk:int}", update, ["PATCH"]),
        ("/items/{rk:int}/watched", watched, ["POST"]),
        ("/items/{rk:int}/progress", progress, ["POST"]),
        ("/items/{rk:int}", delete, ["DELETE"]),
        ("/sections/{sid:int}/scan", scan, ["POST"]),
        ("/notifications", notifications, ["GET"]),
    ]
    built = [Route(prefix + path, control_endpoint(fn), methods=methods) for path, fn, methods in table]
    # This one first: the shared /settings below only knows latency.
    built.insert(0, Route(prefix + "/settings", control_endpoint(settings), methods=["PUT", "POST"]))
    return [*built, *wire_routes(server.wire, on_clear=lambda: server.set_ignore_date_filters(False))]


def wire_routes(wire: Wire, on_clear: Callable[[], None] | None = None) -> list[BaseRoute]:
    """Faults, latency and the request log: the control routes plex.tv and servers share."""

    async def faults(request: Request) -> Any:
        if request.method == "DELETE":
            wire.clear_faults()
            if on_clear is not None:
                on_clear()
            return None
        wire.add_fault(Fault.from_json(await body(request)))
        return None

    async def settings(request: Request) -> Any:
        data = await body(request)
        if "latency" in data:
            wire.latency = float(data["latency"])

    async def requests(request: Request) -> Any:
        if request.method == "DELETE":
            wire.reset_log()
            return None
        return {"bytesSent": wire.bytes_sent, "requests": [record.to_json() for record in wire.requests]}

    table: list[tuple[str, Callable[[Request], Awaitable[Any]], list[str]]] = [
        ("/faults", faults, ["POST", "DELETE"]),
        ("/settings", settings, ["PUT", "POST"]),
        ("/requests", requests, ["GET", "DELETE"]),
    ]
    return [
        Route(CONTROL_PREFIX + path, control_endpoint(fn), methods=methods) for path, fn, methods in table
    ]
