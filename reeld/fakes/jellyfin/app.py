"""The fake server's HTTP and websocket endpoints (Starlette), with Jellyfin's auth rules."""

import asyncio
import contextlib
import json
import re
import secrets
import time
import uuid
from typing import Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from reeld.fakes.jellyfin.catalog import FakeJellyfin, QuickConnect, UserState
from reeld.fakes.jellyfin.images import image_routes
from reeld.fakes.jellyfin.playback import PLAYBACK_FIELDS, playback_routes
from reeld.fakes.plex.wire import Fault, Wire

_PAIR = re.compile(r'(\w+)="([^"]*)"')
STREAM_BYTES = bytes(range(256)) * 256  # 64 KiB of "video"


def parse_authorization(header: str) -> dict[str, str]:
    """``MediaBrowser Client="…", Device="…", DeviceId="…", Version="…", Token="…"`` as the server parses it."""
    scheme, _, rest = header.partition(" ")
    if scheme.lower() not in ("mediabrowser", "emby"):
        return {}
    return {key: unquote(value) for key, value in _PAIR.findall(rest)}


def create_app(fake: FakeJellyfin, wire: Wire) -> Starlette:
    def auth_fields(request: Request | WebSocket) -> dict[str, str]:
        return parse_authorization(request.headers.get("authorization", ""))

    def user_of(request: Request | WebSocket) -> str | None:
        token = auth_fields(request).get("Token") or request.query_params.get("ApiKey")
        if not token and legacy_auth():
            token = request.query_params.get("api_key") or request.headers.get("x-emby-token")
        return fake.tokens.get(token or "")

    def legacy_auth() -> bool:
        """Whether ``api_key`` and ``X-Emby-Token`` count: off by default from 12.0."""
        return int(fake.version.split(".")[0]) < 12

    def unauthorized() -> Response:
        return Response("Unauthorized", status_code=401)

    async def info(request: Request) -> Response:
        return JSONResponse(
            {
                "LocalAddress": str(request.base_url).rstrip("/"),
                "ServerName": fake.server_name,
                "Version": fake.version,
                "ProductName": "Jellyfin Server",
                "OperatingSystem": "",
                "Id": fake.server_id,
                "StartupWizardCompleted": True,
            }
        )

    async def authenticate(request: Request) -> Response:
        fields = auth_fields(request)
        if not fields.get("Client") or not fields.get("DeviceId"):
            return Response("Client and DeviceId are required", status_code=400)
        body = await request.json()
        token = fake.login(str(body.get("Username", "")), str(body.get("Pw", "")))
        if token is None:
            return Response("Error processing request.", status_code=401)
        return JSONResponse(fake.auth_result(fake.tokens[token], token, fields["DeviceId"]))

    async def qc_enabled(request: Request) -> Response:
        return JSONResponse(True)

    async def qc_initiate(request: Request) -> Response:
        fields = auth_fields(request)
        if not fields.get("DeviceId"):
            return Response("DeviceId is required", status_code=400)
        secret = secrets.token_hex(32)
        code = f"{secrets.randbelow(10**6):06d}"
        fake.quick_connect[secret] = QuickConnect(secret, code, fields["DeviceId"])
        return JSONResponse(_qc_dto(fake.quick_connect[secret], fields))

    async def qc_connect(request: Request) -> Response:
        state = fake.quick_connect.get(request.query_params.get("secret", ""))
        if state is None:
            return Response("Unknown secret", status_code=404)
        return JSONResponse(_qc_dto(state, auth_fields(request)))

    async def qc_authenticate(request: Request) -> Response:
        body = await request.json()
        state = fake.quick_connect.get(str(body.get("Secret", "")))
        if state is None or not state.authenticated or state.user_id is None:
            return Response("Quick Connect request not authorized", status_code=401)
        del fake.quick_connect[state.secret]
        token = fake.issue_token(state.user_id)
        return JSONResponse(fake.auth_result(state.user_id, token, state.device_id))

    async def me(request: Request) -> Response:
        user = user_of(request)
        return JSONResponse(fake.user_dto(user)) if user else unauthorized()

    async def views(request: Request) -> Response:
        user = user_of(request)
        if user is None:
            return unauthorized()
        items = [
            {**v, "ServerId": fake.server_id, "Type": "CollectionFolder", "IsFolder": True}
            for v in fake.views
        ]
        return JSONResponse({"Items": items, "TotalRecordCount": len(items), "StartIndex": 0})

    def listing(request: Request, user: str, extra: dict[str, str] | None = None) -> Response:
        params = {**dict(request.query_params), **(extra or {})}
        fields = set(filter(None, params.get("Fields", "").split(",")))
        page, total = fake.query(params, user)
        with_total = params.get("EnableTotalRecordCount", "true").lower() != "false"
        user_data = params.get("EnableUserData", "true").lower() != "false"
        start = int(params.get("StartIndex") or 0)
        images = _image_types(params)
        return JSONResponse(
            fake.query_result(page, total, start, user, fields, user_data, with_total, images)
        )

    async def items(request: Request) -> Response:
        user = user_of(request)
        return listing(request, user) if user else unauthorized()

    async def album_artists(request: Request) -> Response:
        user = user_of(request)
        if not user:
            return unauthorized()
        params = dict(request.query_params)
        page, total = fake.album_artists(params)
        fields = set(filter(None, params.get("Fields", "").split(",")))
        start = int(params.get("StartIndex") or 0)
        return JSONResponse(
            fake.query_result(page, total, start, user, fields, True, True, _image_types(params))
        )

    async def resume(request: Request) -> Response:
        user = user_of(request)
        return (
            listing(request, user, {"Filters": "IsResumable", "Recursive": "true"})
            if user
            else unauthorized()
        )

    async def item(request: Request) -> Response:
        user = user_of(request)
        if user is None:
            return unauthorized()
        found = fake.items.get(request.path_params["item_id"])
        if found is None:
            return Response("Item not found", status_code=404)
        return JSONResponse(
            fake.item_dto(found, user, {"Overview", "ProviderIds", "DateCreated", *PLAYBACK_FIELDS})
        )

    async def played(request: Request) -> Response:
        user = user_of(request)
        if user is None:
            return unauthorized()
        item_id = request.path_params["item_id"]
        if item_id not in fake.items:
            return Response("Item not found", status_code=404)
        name = next(u.name for u in fake.users.values() if u.id == user)
        fake.set_played(name, item_id, request.method == "POST")
        return JSONResponse(fake.user_data_dto(user, item_id))

    async def session(request: Request) -> Response:
        user = user_of(request)
        if user is None:
            return unauthorized()
        body = await request.json()
        kind = request.url.path.rsplit("/", 1)[-1]
        fake.session_reports.append((kind, body))
        item_id = str(body.get("ItemId", ""))
        found = fake.items.get(item_id)
        if found is not None and kind in ("Progress", "Stopped", "Playing"):
            state = fake.user_data.setdefault((user, item_id), UserState())
            state.position_ticks = int(body.get("PositionTicks") or 0)
            state.last_played = time.time()
            if kind == "Stopped" and found.runtime_ticks and state.position_ticks > 0.9 * found.runtime_ticks:
                state.played, state.position_ticks, state.play_count = True, 0, state.play_count + 1
        return Response(status_code=204)

    async def stream(request: Request) -> Response:
        if user_of(request) is None:
            return unauthorized()
        if request.path_params["item_id"] not in fake.items:
            return Response("Item not found", status_code=404)
        data = STREAM_BYTES
        headers = {"Accept-Ranges": "bytes", "Content-Type": "video/x-matroska"}
        if (ranged := re.match(r"bytes=(\d+)-(\d*)", request.headers.get("range", ""))) is not None:
            start = int(ranged.group(1))
            end = int(ranged.group(2)) if ranged.group(2) else len(data) - 1
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            return Response(data[start : end + 1], status_code=206, headers=headers)
        return Response(data, headers=headers)

    async def socket(websocket: WebSocket) -> None:
        fake.socket_attempts += 1
        if fake.socket_refusal is not None:
            await websocket.send_denial_response(Response("Not Found", status_code=fake.socket_refusal))
            return
        user = user_of(websocket)
        if user is None:
            await websocket.send_denial_response(unauthorized())
            return
        await websocket.accept()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

        def listener(kind: str, data: Any) -> None:
            if kind != "UserDataChanged" or data.get("UserId") == user:
                queue.put_nowait((kind, data))

        fake.listeners.append(listener)
        fake.socket_connected.set()
        sender = asyncio.get_running_loop().create_task(_send_loop(websocket, queue))
        queue.put_nowait(("ForceKeepAlive", int(fake.keepalive_s)))
        try:
            while True:
                message = json.loads(await websocket.receive_text())
                if message.get("MessageType") == "KeepAlive" and not fake.socket_silent:
                    queue.put_nowait(("KeepAlive", None))
        except (WebSocketDisconnect, RuntimeError, json.JSONDecodeError):
            pass
        finally:
            fake.listeners.remove(listener)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender

    async def control_fault(request: Request) -> Response:
        wire.add_fault(Fault.from_json(await request.json()))
        return JSONResponse({"ok": True})

    async def control_clear(request: Request) -> Response:
        wire.clear_faults()
        return JSONResponse({"ok": True})

    async def control_stats(request: Request) -> Response:
        return JSONResponse(
            {"requests": len(wire.requests), "bytes_sent": wire.bytes_sent, "listeners": len(fake.listeners)}
        )

    async def control_reset(request: Request) -> Response:
        wire.reset_log()
        return JSONResponse({"ok": True})

    async def control_socket(request: Request) -> Response:
        """``{"refuse": 404}`` answers websockets as a proxy without websocket support; ``null`` serves
        them again. ``{"version": "12.0.0"}`` turns the legacy ways of sending a token off. Says
        how many websocket handshakes were asked for."""
        body = await request.json()
        if "refuse" in body:
            fake.socket_refusal = None if body["refuse"] is None else int(body["refuse"])
        if "version" in body:
            fake.version = str(body["version"])
        return JSONResponse({"attempts": fake.socket_attempts, "version": fake.version})

    async def control_mutate(request: Request) -> Response:
        body = await request.json()
        action = body.pop("action")
        if action == "add_movie":
            return JSONResponse({"id": fake.add_movie(body["name"], body.get("year")).id})
        if action == "update":
            fake.update_item(body.pop("id"), **body)
        elif action == "delete":
            fake.delete_item(body["id"])
        elif action == "played":
            fake.set_played(
                body["user"], body["id"], bool(body["played"]), int(body.get("position_ticks", 0))
            )
        elif action == "approve_quick_connect":
            fake.approve_quick_connect(body["code"], body["user"])
        elif action == "revoke_tokens":
            fake.revoke_tokens()
        else:
            return JSONResponse({"error": f"unknown action {action}"}, status_code=400)
        return JSONResponse({"ok": True})

    routes = [
        Route("/System/Info/Public", info),
        Route("/Users/AuthenticateByName", authenticate, methods=["POST"]),
        Route("/QuickConnect/Enabled", qc_enabled),
        Route("/QuickConnect/Initiate", qc_initiate, methods=["POST", "GET"]),
        Route("/QuickConnect/Connect", qc_connect),
        Route("/Users/AuthenticateWithQuickConnect", qc_authenticate, methods=["POST"]),
        Route("/Users/Me", me),
        Route("/UserViews", views),
        Route("/Items", items),
        Route("/Artists/AlbumArtists", album_artists),
        Route("/Items/Resume", resume),
        Route("/Items/{item_id}", item),
        Route("/Users/{user_id}/Items/{item_id}", item),
        Route("/UserPlayedItems/{item_id}", played, methods=["POST", "DELETE"]),
        Route("/Sessions/Playing", session, methods=["POST"]),
        Route("/Sessions/Playing/Progress", session, methods=["POST"]),
        Route("/Sessions/Playing/Stopped", session, methods=["POST"]),
        Route("/Videos/{item_id}/stream", stream),
        *image_routes(fake),
        WebSocketRoute("/socket", socket),
        Route("/__control/fault", control_fault, methods=["POST"]),
        Route("/__control/clear", control_clear, methods=["POST"]),
        Route("/__control/stats", control_stats),
        Route("/__control/reset", control_reset, methods=["POST"]),
        Route("/__control/mutate", control_mutate, methods=["POST"]),
        Route("/__control/socket", control_socket, methods=["POST"]),
    ]
    return Starlette(routes=[*routes, *playback_routes(fake)])


async def _send_loop(websocket: WebSocket, queue: asyncio.Queue[tuple[str, Any]]) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            kind, data = await queue.get()
            message: dict[str, Any] = {"MessageType": kind, "MessageId": uuid.uuid4().hex}
            if data is not None:
                message["Data"] = data
            await websocket.send_text(json.dumps(message))


def _image_types(params: dict[str, str]) -> frozenset[str] | None:
    """The image types a listing shows tags of: none with EnableImages=false, else EnableImageTypes (all)."""
    if params.get("EnableImages", "true").lower() == "false":
        return frozenset()
    types = params.get("EnableImageTypes")
    return frozenset(filter(None, types.split(","))) if types else None


def _qc_dto(state: QuickConnect, fields: dict[str, str]) -> dict[str, Any]:
    return {
        "Authenticated": state.authenticated,
        "Secret": state.secret,
        "Code": state.code,
        "DeviceId": state.device_id,
        "DeviceName": fields.get("Device", ""),
        "AppName": fields.get("Client", ""),
        "AppVersion": fields.get("Version", ""),
        "DateAdded": "2026-01-01T00:00:00.0000000Z",
    }
