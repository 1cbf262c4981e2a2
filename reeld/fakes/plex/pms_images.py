"""The fake PMS's images: an item's own (``/library/metadata/{ratingKey}/thumb/{stamp}``, ``art``,
``clearLogo``) and the photo transcoder (``/photo/:/transcode?url=…&width=…&height=…``) that
resizes them, both behind the token as on a real server.

The stamp in an image path only busts caches: the server answers with the item's current picture,
which changes with the item (its ``updatedAt`` is in the path a listing gives). The transcoder fits
the image in ``width`` x ``height`` without enlarging it (``upscale=1`` is not honoured) and answers
a JPEG, or a PNG for ``format=png``.
"""

import re
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from reeld.fakes.images import ImageFaults, image_response, positive
from reeld.fakes.plex.catalog import EPISODE, Item
from reeld.fakes.plex.metadata import art, clear_logo, thumb
from reeld.fakes.plex.responses import bad_request, guarded, not_found
from reeld.fakes.plex.wire import CONTROL_PREFIX

if TYPE_CHECKING:
    from reeld.fakes.plex.pms import FakePlexServer

_IMAGE_PATH = re.compile(r"^/library/metadata/(\d+)/(thumb|art|clearLogo)/\d+$")


def routes(server: "FakePlexServer") -> list[BaseRoute]:
    faults = ImageFaults()

    def current(rating_key: str, element: str) -> tuple[str, str] | None:
        """(the image's path as the item gives it now, the fakes' picture shape), or ``None``."""
        item: Item | None = server.catalog.get(rating_key)
        if item is None:
            return None
        if element == "thumb":
            return thumb(item), "thumb" if item.type == EPISODE else "poster"
        if element == "art":
            return art(item), "backdrop"
        logo = clear_logo(item)
        return (logo, "logo") if logo else None

    def answer(
        rating_key: str, element: str, request: Request, width: int | None, height: int | None
    ) -> Response:
        found = current(rating_key, element)
        if found is None:
            return not_found()
        if (bad := faults.answer(rating_key)) is not None:
            return bad
        fmt = "png" if request.query_params.get("format", "").lower() == "png" else "jpg"
        return image_response(found[0], found[1], width, height, fmt)

    async def own(request: Request) -> Response:
        params = request.path_params
        return answer(str(params["rk"]), params["element"], request, None, None)

    async def transcode(request: Request) -> Response:
        params = request.query_params
        url = params.get("url")
        if not url:
            return bad_request()
        match = _IMAGE_PATH.match(url.split("?")[0])
        if match is None:
            return not_found()  # the fake holds no pictures from elsewhere
        return answer(
            match[1], match[2], request, positive(params.get("width")), positive(params.get("height"))
        )

    async def control_images(request: Request) -> Response:
        try:
            faults.set(await request.json())
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"ok": True})

    return [
        Route(
            "/library/metadata/{rk:int}/{element}/{stamp:int}", guarded(server, own), methods=["GET", "HEAD"]
        ),
        Route("/photo/:/transcode", guarded(server, transcode), methods=["GET", "HEAD"]),
        Route(CONTROL_PREFIX + "/images", control_images, methods=["POST"]),
    ]
