"""The fake server's universal transcoder: ``/video/:/transcode/universal/start.m3u8`` answers with
an HLS master playlist, after checking its parameters as strictly as the spec describes them (the
item's ``path``, the client identifier, numbers where numbers go, streams of that item's part);
``session/{id}/base/index.m3u8`` is the media playlist it points to. Also: which of the playback
elements (``includeChapters=1``, ``includeMarkers=1``) a metadata request asks for."""

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from reeld.fakes.plex import streams as fake_streams
from reeld.fakes.plex.catalog import TRACK, Item
from reeld.fakes.plex.metadata import CHAPTERS, MARKERS, media_of
from reeld.fakes.plex.responses import bad_request, guarded, html_error, not_found

if TYPE_CHECKING:
    from reeld.fakes.plex.pms import FakePlexServer

M3U8 = "application/vnd.apple.mpegurl"
SEGMENT_S = 10
_NUMBERS = (
    "videoBitrate",
    "maxVideoBitrate",
    "peakBitrate",
    "audioStreamID",
    "subtitleStreamID",
    "mediaIndex",
    "partIndex",
)


def asked_playback_flags(request: Request) -> int:
    params = request.query_params
    return (CHAPTERS if params.get("includeChapters") == "1" else 0) | (
        MARKERS if params.get("includeMarkers") == "1" else 0
    )


@dataclass(frozen=True, slots=True)
class Session:
    item: Item
    video_kbps: int


def routes(server: "FakePlexServer") -> list[BaseRoute]:
    sessions: dict[str, Session] = {}

    async def start(request: Request) -> Response:
        params = request.query_params
        if not (request.headers.get("x-plex-client-identifier") or params.get("X-Plex-Client-Identifier")):
            return html_error(400, "Bad Request: X-Plex-Client-Identifier is required")
        if params.get("protocol", "hls") != "hls" or any(
            not params[name].isdigit() for name in _NUMBERS if name in params
        ):
            return bad_request()
        if not params.get("offset", "0").replace(".", "", 1).isdigit():
            return bad_request()
        path = params.get("path", "")
        item = server.catalog.get(path.rsplit("/", 1)[-1]) if path.startswith("/library/metadata/") else None
        if item is None or item.part is None or item.type == TRACK:
            return not_found()
        stream_ids = {
            str(s["id"]): s["streamType"] for s in fake_streams.streams(item, item.part, media_of(item))
        }
        for name, kind in (("audioStreamID", 2), ("subtitleStreamID", 3)):
            chosen = params.get(name)
            if chosen is not None and chosen != "0" and stream_ids.get(chosen) != kind:
                return html_error(400, f"Bad Request: {name} {chosen} is not a stream of this part")
        kbps = int(params.get("videoBitrate") or params.get("maxVideoBitrate") or 0)
        if kbps <= 0:
            return bad_request()
        session_id = str(uuid.uuid4())
        sessions[session_id] = Session(item, kbps)
        media = media_of(item)
        playlist = (
            "#EXTM3U\n"
            f"#EXT-X-STREAM-INF:PROGRAM-ID=1,BANDWIDTH={kbps * 1000},"
            f"RESOLUTION={media['width']}x{media['height']}\n"
            f"session/{session_id}/base/index.m3u8\n"
        )
        return Response(playlist, media_type=M3U8)

    async def index(request: Request) -> Response:
        session = sessions.get(request.path_params["session"])
        if session is None:
            return not_found()
        duration_s = (session.item.duration or 0) // 1000
        lines = [
            "#EXTM3U",
            "#EXT-X-VERSION:3",
            f"#EXT-X-TARGETDURATION:{SEGMENT_S}",
            "#EXT-X-MEDIA-SEQUENCE:0",
        ]
        for n in range(min(3, max(1, duration_s // SEGMENT_S))):
            lines += [f"#EXTINF:{SEGMENT_S},", f"{n:05d}.ts"]
        return Response("\n".join([*lines, "#EXT-X-ENDLIST", ""]), media_type=M3U8)

    base = "/video/:/transcode/universal"
    return [
        Route(f"{base}/start.m3u8", guarded(server, start), methods=["GET"]),
        # A player resolves the playlist's relative URL, which drops the token: the session id is the key.
        Route(f"{base}/session/{{session}}/base/index.m3u8", index, methods=["GET"]),
    ]
