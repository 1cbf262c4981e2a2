"""The fake Jellyfin's image endpoints: ``/Items/{itemId}/Images/{imageType}`` and its index
variant, as 10.11 answers them.

Like the real server's, these need no token (their OpenAPI operations carry no security
requirement: a web client's ``<img>`` cannot send a header); reeld sends its Authorization
header anyway, which the server then ignores. An unknown item, or an image type the item does not
have, is a 404; an unknown image type a 400. ``maxWidth``/``maxHeight`` fit the image, never
enlarging it; ``format=Png`` gives a PNG, anything else a JPEG. The picture is the item's at its
current tag: an edited item has a new tag and a new picture.
"""

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from reeld.fakes.images import ImageFaults, image_response, positive
from reeld.fakes.jellyfin.catalog import IMAGE_TYPES_OF, FakeJellyfin, image_tag

#: ImageType, as the server spells it (the path is matched whatever its case).
IMAGE_TYPES = (
    "Primary", "Art", "Backdrop", "Banner", "Logo", "Thumb", "Disc", "Box", "Screenshot", "Menu",
    "Chapter", "BoxRear", "Profile",
)  # fmt: skip
#: The fakes' picture shapes for each image type.
_SHAPES = {"Primary": "poster", "Backdrop": "backdrop", "Logo": "logo", "Thumb": "thumb"}


def image_routes(fake: FakeJellyfin) -> list[BaseRoute]:
    faults = ImageFaults()

    async def image(request: Request) -> Response:
        item = fake.items.get(request.path_params["item_id"])
        image_type = next(
            (known for known in IMAGE_TYPES if known.lower() == request.path_params["image_type"].lower()),
            None,
        )
        if image_type is None:
            return JSONResponse({"title": "One or more validation errors occurred.", "status": 400}, 400)
        if item is None:
            return Response("Item not found.", status_code=404)
        index = request.path_params.get("index", 0)
        if image_type not in IMAGE_TYPES_OF.get(item.type, ("Primary",)) or index != 0:
            return Response(f"{image_type} image not found.", status_code=404)
        if (bad := faults.answer(item.id)) is not None:
            return bad
        shape = (
            "thumb"
            if item.type == "Episode" and image_type == "Primary"
            else _SHAPES.get(image_type, "poster")
        )
        params = request.query_params
        response = image_response(
            f"{item.id}/{image_type}/{image_tag(item, image_type)}",
            shape,
            positive(params.get("maxWidth")) or positive(params.get("width")),
            positive(params.get("maxHeight")) or positive(params.get("height")),
            "png" if params.get("format", "").lower() == "png" else "jpg",
        )
        if params.get("tag"):
            # A tagged URL names one version of the image: the server lets clients keep it for a year.
            response.headers["Cache-Control"] = "public, max-age=31536000"
        return response

    async def control_images(request: Request) -> Response:
        try:
            faults.set(await request.json())
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"ok": True})

    return [
        Route("/Items/{item_id}/Images/{image_type}", image, methods=["GET", "HEAD"]),
        Route("/Items/{item_id}/Images/{image_type}/{index:int}", image, methods=["GET", "HEAD"]),
        Route("/__control/images", control_images, methods=["POST"]),
    ]
