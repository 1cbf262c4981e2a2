"""The plex.tv control API under ``/__control`` (no token):

GET  /__control/state                          account, servers, PINs
POST /__control/pins/{id}/approve              {"token"?}  → {"authToken"}  (as at app.plex.tv/auth)
POST /__control/pins/approve                   {"code", "token"?}  → {"authToken"}
POST /__control/pins/{id}/expire
POST /__control/tokens/revoke                  {"token"}
POST /__control/servers/{machineId}/remove     drop it from the resources (it keeps running)
POST /__control/servers/{machineId}/add        list it again
POST /__control/servers/{machineId}/stop       stop listening (connections refuse)
POST /__control/servers/{machineId}/start
POST|DELETE /__control/faults, PUT /__control/settings {"latency"}, GET|DELETE /__control/requests
"""

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.routing import BaseRoute, Route

from reeld.fakes.plex.pms_control import body, control_endpoint, wire_routes
from reeld.fakes.plex.wire import CONTROL_PREFIX

if TYPE_CHECKING:
    from reeld.fakes.plex.plextv import FakePlexTV
    from reeld.fakes.plex.pms import FakePlexServer


def routes(plex_tv: "FakePlexTV") -> list[BaseRoute]:
    #: Servers removed from the account stay known here, so they can be added back.
    known: dict[str, FakePlexServer] = {}

    def server(request: Request) -> "FakePlexServer":
        machine = request.path_params["machine"]
        for candidate in plex_tv.servers:
            known[candidate.machine_identifier] = candidate
        if machine not in known:
            raise KeyError(f"no server {machine}")
        return known[machine]

    async def state(request: Request) -> Any:
        return plex_tv.state()

    async def approve(request: Request) -> Any:
        data = await body(request)
        pin_id = request.path_params.get("pin_id")
        token = plex_tv.approve_pin(pin_id, code=data.get("code"), token=data.get("token"))
        return {"authToken": token}

    async def expire(request: Request) -> Any:
        plex_tv.expire_pin(request.path_params["pin_id"])

    async def revoke(request: Request) -> Any:
        plex_tv.revoke_token(str((await body(request))["token"]))

    async def remove(request: Request) -> Any:
        plex_tv.remove_server(server(request).machine_identifier)

    async def add(request: Request) -> Any:
        plex_tv.add_server(server(request))

    async def stop(request: Request) -> Any:
        await server(request).stop()

    async def start(request: Request) -> Any:
        await server(request).start()

    table: list[tuple[str, Callable[[Request], Awaitable[Any]]]] = [
        ("/pins/{pin_id:int}/approve", approve),
        ("/pins/approve", approve),
        ("/pins/{pin_id:int}/expire", expire),
        ("/tokens/revoke", revoke),
        ("/servers/{machine}/remove", remove),
        ("/servers/{machine}/add", add),
        ("/servers/{machine}/stop", stop),
        ("/servers/{machine}/start", start),
    ]
    built: list[BaseRoute] = [Route(CONTROL_PREFIX + "/state", control_endpoint(state), methods=["GET"])]
    built.extend(Route(CONTROL_PREFIX + path, control_endpoint(fn), methods=["POST"]) for path, fn in table)
    return [*built, *wire_routes(plex_tv.wire)]
