"""The fake server's playback routes: ``/Items/{id}/PlaybackInfo`` (GET: the media sources; POST:
a playback decision, with a ``TranscodingUrl`` when the device profile and bitrate call for one),
``/MediaSegments/{id}``, and the HLS playlists a transcode starts with (``master.m3u8``,
``main.m3u8``), as strict as Jellyfin 12: a player's URL carries its token as ``ApiKey``."""

import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from reeld.fakes.jellyfin import media
from reeld.fakes.jellyfin.catalog import FakeJellyfin, Item

#: The fields ``GET /Items/{id}`` adds for playback (the real route returns every field).
PLAYBACK_FIELDS = ("MediaSources", "MediaStreams", "Chapters")
M3U8 = "application/vnd.apple.mpegurl"
SEGMENT_S = 6


@dataclass(frozen=True, slots=True)
class PlaySession:
    user_id: str
    item_id: str
    device_id: str


def playback_routes(fake: FakeJellyfin) -> list[BaseRoute]:
    from reeld.fakes.jellyfin.app import parse_authorization

    sessions: dict[str, PlaySession] = {}

    def token_of(request: Request, legacy: bool = True) -> str:
        token = parse_authorization(request.headers.get("authorization", "")).get("Token")
        token = token or request.query_params.get("ApiKey")
        if legacy:  # 12.0 turns these off by default; the API's own calls still take them here
            token = token or request.query_params.get("api_key") or request.headers.get("x-emby-token")
        return token or ""

    def found(request: Request) -> Item | None:
        return fake.items.get(request.path_params["item_id"])

    async def playback_info(request: Request) -> Response:
        user = fake.tokens.get(token_of(request))
        if user is None:
            return Response("Unauthorized", status_code=401)
        item = found(request)
        if item is None or item.is_folder:
            return Response("Item not found", status_code=404)
        source = media.media_source(item)
        play_session = uuid.uuid4().hex
        if request.method == "POST":
            try:
                body = await request.json()
            except ValueError:
                return Response("The request body is not JSON", status_code=400)
            problem = _decision_problem(body, source)
            if problem:
                return JSONResponse(
                    {"title": "One or more validation errors occurred.", "detail": problem}, 400
                )
            device = parse_authorization(request.headers.get("authorization", "")).get("DeviceId", "")
            if _transcodes(body, source):
                sessions[play_session] = PlaySession(user, item.id, device)
                source["TranscodingUrl"] = _transcoding_url(
                    item, source, body, play_session, device, token_of(request)
                )
                source["TranscodingSubProtocol"] = "hls"
                source["TranscodingContainer"] = "ts"
                source["SupportsDirectPlay"] = source["SupportsDirectStream"] = False
        return JSONResponse({"MediaSources": [source], "PlaySessionId": play_session})

    async def media_segments(request: Request) -> Response:
        if fake.tokens.get(token_of(request)) is None:
            return Response("Unauthorized", status_code=401)
        item = found(request)
        if item is None:
            return JSONResponse({"title": "Not Found", "status": 404}, 404)
        wanted = set(request.query_params.getlist("includeSegmentTypes"))
        items = [s for s in media.segments(item) if not wanted or s["Type"] in wanted]
        return JSONResponse({"Items": items, "TotalRecordCount": len(items), "StartIndex": 0})

    async def master(request: Request) -> Response:
        session, problem = _check_stream(request, strict=True)
        if problem is not None:
            return problem
        assert session is not None
        item = fake.items[session.item_id]
        video_bitrate = int(request.query_params["VideoBitrate"])
        audio_bitrate = int(request.query_params.get("AudioBitrate") or 192_000)
        width, height, _, _ = media.VIDEO[media.seed_of(item) % len(media.VIDEO)]
        playlist = (
            "#EXTM3U\n"
            f"#EXT-X-STREAM-INF:BANDWIDTH={video_bitrate + audio_bitrate},"
            f'AVERAGE-BANDWIDTH={video_bitrate + audio_bitrate},CODECS="avc1.640028,mp4a.40.2",'
            f"RESOLUTION={width}x{height}\n"
            f"main.m3u8?{request.url.query}\n"
        )
        return Response(playlist, media_type=M3U8)

    async def main(request: Request) -> Response:
        session, problem = _check_stream(request, strict=True)
        if problem is not None:
            return problem
        assert session is not None
        ticks = fake.items[session.item_id].runtime_ticks or 0
        count = max(1, ticks // (media.TICKS_PER_SECOND * SEGMENT_S))
        lines = [
            "#EXTM3U",
            "#EXT-X-PLAYLIST-TYPE:VOD",
            "#EXT-X-VERSION:3",
            f"#EXT-X-TARGETDURATION:{SEGMENT_S}",
        ]
        lines.append("#EXT-X-MEDIA-SEQUENCE:0")
        for n in range(min(count, 3)):  # a few segments are enough for a player to start
            lines += [f"#EXTINF:{SEGMENT_S}.000000, nodesc", f"hls1/main/{n}.ts?{request.url.query}"]
        return Response("\n".join([*lines, "#EXT-X-ENDLIST", ""]), media_type=M3U8)

    def _check_stream(request: Request, strict: bool) -> tuple[PlaySession | None, Response | None]:
        """The play session a playlist request belongs to, or the error the server answers."""
        user = fake.tokens.get(token_of(request, legacy=not strict))
        if user is None:
            return None, Response("Unauthorized", status_code=401)
        item = found(request)
        if item is None:
            return None, Response("Item not found", status_code=404)
        params = request.query_params
        if not params.get("MediaSourceId"):
            return None, Response("The MediaSourceId field is required.", status_code=400)
        session = sessions.get(params.get("PlaySessionId", ""))
        if session is None or session.item_id != item.id or session.user_id != user:
            return None, Response("Unknown PlaySessionId", status_code=400)
        if params.get("DeviceId") != session.device_id or params["MediaSourceId"] != item.id:
            return None, Response(
                "DeviceId or MediaSourceId does not match the play session", status_code=400
            )
        if not params.get("VideoBitrate", "").isdigit() or int(params["VideoBitrate"]) <= 0:
            return None, Response("VideoBitrate must be a positive number", status_code=400)
        streams = media.media_streams(item)
        for name, kind in (("AudioStreamIndex", "Audio"), ("SubtitleStreamIndex", "Subtitle")):
            value = params.get(name)
            if value is not None and value != "-1" and not _is_stream(streams, value, kind):
                return None, Response(f"{name} {value} is not a {kind.lower()} stream", status_code=400)
        return session, None

    return [
        Route("/Items/{item_id}/PlaybackInfo", playback_info, methods=["GET", "POST"]),
        Route("/MediaSegments/{item_id}", media_segments),
        Route("/Videos/{item_id}/master.m3u8", master),
        Route("/videos/{item_id}/master.m3u8", master),  # ASP.NET routes ignore case; the server writes it so
        Route("/Videos/{item_id}/main.m3u8", main),
        Route("/videos/{item_id}/main.m3u8", main),
    ]


def _is_stream(streams: list[dict[str, Any]], value: str, kind: str) -> bool:
    return value.isdigit() and any(s["Index"] == int(value) and s["Type"] == kind for s in streams)


def _decision_problem(body: Any, source: dict[str, Any]) -> str | None:
    """What the server refuses in a ``PlaybackInfoDto``: wrong types, tracks the file does not have."""
    if not isinstance(body, dict):
        return "The request body must be a PlaybackInfoDto object"
    for name in ("MaxStreamingBitrate", "AudioStreamIndex", "SubtitleStreamIndex", "StartTimeTicks"):
        value = body.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            return f"{name} must be an integer"
    bitrate = body.get("MaxStreamingBitrate")
    if bitrate is not None and not 0 < bitrate < 2**31:
        return "MaxStreamingBitrate must be a positive int32"
    streams = source["MediaStreams"]
    for name, kind in (("AudioStreamIndex", "Audio"), ("SubtitleStreamIndex", "Subtitle")):
        value = body.get(name)
        if value is not None and value != -1 and not _is_stream(streams, str(value), kind):
            return f"{name} {value} is not a {kind.lower()} stream of this item"
    if body.get("MediaSourceId") not in (None, source["Id"]):
        return "Unknown MediaSourceId"
    return None


def _transcodes(body: dict[str, Any], source: dict[str, Any]) -> bool:
    """Whether the decision is a transcode: allowed, asked for an HLS video profile, and either
    direct play is off or the file is above the bitrate."""
    if body.get("EnableTranscoding") is False:
        return False
    profile = body.get("DeviceProfile")
    profiles = profile.get("TranscodingProfiles") if isinstance(profile, dict) else None
    hls = isinstance(profiles, list) and any(
        isinstance(p, dict) and p.get("Protocol") == "hls" and p.get("Type") == "Video" for p in profiles
    )
    too_large = (body.get("MaxStreamingBitrate") or 2**31) < source["Bitrate"]
    direct_off = body.get("EnableDirectPlay") is False and body.get("EnableDirectStream") is False
    return hls and (too_large or direct_off)


def _transcoding_url(
    item: Item, source: dict[str, Any], body: dict[str, Any], play_session: str, device: str, token: str
) -> str:
    """What 10.11 writes: lower-case ``/videos``, the decision in the query, the token as ``ApiKey``."""
    audio = body.get("AudioStreamIndex", source.get("DefaultAudioStreamIndex"))
    params: dict[str, Any] = {
        "DeviceId": device,
        "MediaSourceId": source["Id"],
        "VideoCodec": "h264",
        "AudioCodec": "aac",
        "AudioStreamIndex": audio,
        "VideoBitrate": max(
            1, min(body.get("MaxStreamingBitrate") or source["Bitrate"], source["Bitrate"]) - 192_000
        ),
        "AudioBitrate": 192_000,
        "PlaySessionId": play_session,
        "ApiKey": token,
        "SegmentContainer": "ts",
        "MinSegments": 1,
        "BreakOnNonKeyFrames": "True",
        "TranscodeReasons": "ContainerBitrateExceedsLimit",
    }
    if body.get("SubtitleStreamIndex") is not None:
        params["SubtitleStreamIndex"] = body["SubtitleStreamIndex"]
        params["SubtitleMethod"] = "Encode"
    if body.get("StartTimeTicks"):
        params["StartTimeTicks"] = body["StartTimeTicks"]
    query = urlencode({name: value for name, value in params.items() if value is not None})
    return f"/videos/{item.id}/master.m3u8?{query}"
