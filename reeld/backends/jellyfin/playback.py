"""Jellyfin playback: an item's media source, streams and chapters (``GET /Items/{id}``, which
carries every field), its media segments (``/MediaSegments/{id}``, Jellyfin 10.10+) as markers,
and HLS transcodes the server sets up itself (``POST /Items/{id}/PlaybackInfo`` answers with its
``TranscodingUrl``: Jellyfin 12's published API no longer lists the HLS routes, so reeld never
builds them by hand)."""

import asyncio
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import structlog

from reeld.backends.jellyfin.client import JellyfinClient
from reeld.backends.jellyfin.mapping import TICKS_PER_MS
from reeld.backends.playback import as_count, as_list, as_text
from reeld.errors import BackendProtocolError
from reeld.models.media import MediaItem
from reeld.models.playback import (
    Chapter,
    Marker,
    MarkerType,
    PlaybackInfo,
    Stream,
    StreamType,
    Transcode,
    sorted_markers,
)

log = structlog.get_logger(__name__)

STREAM_TYPES = {"Video": StreamType.VIDEO, "Audio": StreamType.AUDIO, "Subtitle": StreamType.SUBTITLE}
#: ``MediaSegmentType`` as markers; ``Unknown`` ones are left out.
SEGMENT_TYPES = {
    "Intro": MarkerType.INTRO,
    "Outro": MarkerType.CREDITS,
    "Recap": MarkerType.RECAP,
    "Preview": MarkerType.PREVIEW,
    "Commercial": MarkerType.COMMERCIAL,
}
#: ``MaxStreamingBitrate`` is an int32 in the API.
MAX_INT32 = 2**31 - 1
#: Query parameters that carry a token in a URL Jellyfin built (``ApiKey`` always works; 12.0
#: turns the legacy ``api_key`` off by default).
TOKEN_PARAMETERS = ("ApiKey", "api_key")


async def fetch_playback_info(client: JellyfinClient, user_id: str, item: MediaItem) -> PlaybackInfo:
    dto, segments = await asyncio.gather(
        client.get(f"/Items/{item.remote_id}", userId=user_id),
        _segments(client, item.remote_id),
    )
    if not isinstance(dto, dict):
        raise BackendProtocolError(
            f"{client.host} answered for {item.title} in a way reeld does not understand"
        )
    return playback_from_dto(dto, segments, str(item.extra.get("media_source_id") or item.remote_id))


async def _segments(client: JellyfinClient, item_id: str) -> list[Any]:
    """The item's media segments; none from a server older than 10.10 (no such route)."""
    try:
        result = await client.get(f"/MediaSegments/{item_id}")
    except BackendProtocolError as exc:
        log.debug("jellyfin_no_media_segments", reason=str(exc))
        return []
    items = result.get("Items") if isinstance(result, dict) else None
    return items if isinstance(items, list) else []


def playback_from_dto(dto: dict[str, Any], segments: list[Any], media_source_id: str) -> PlaybackInfo:
    sources = [s for s in as_list(dto.get("MediaSources")) if isinstance(s, dict)]
    source = next((s for s in sources if s.get("Id") == media_source_id), sources[0] if sources else {})
    streams = as_list(source.get("MediaStreams")) or as_list(dto.get("MediaStreams"))
    ticks = as_count(source.get("RunTimeTicks")) or as_count(dto.get("RunTimeTicks"))
    return PlaybackInfo(
        container=as_text(source.get("Container")),
        bitrate=as_count(source.get("Bitrate")),
        size=as_count(source.get("Size")),
        duration_ms=ticks // TICKS_PER_MS if ticks else None,
        streams=tuple(stream for raw in streams if (stream := _stream(raw)) is not None),
        chapters=tuple(chapter for raw in as_list(dto.get("Chapters")) if (chapter := _chapter(raw))),
        markers=sorted_markers([marker for raw in segments if (marker := _marker(raw)) is not None]),
        media_id=as_text(source.get("Id")),
    )


def _stream(raw: Any) -> Stream | None:
    if not isinstance(raw, dict):
        return None
    stream_type = STREAM_TYPES.get(as_text(raw.get("Type")) or "")
    index = as_count(raw.get("Index"))
    if stream_type is None or index is None:
        return None
    return Stream(
        type=stream_type,
        index=index,
        codec=as_text(raw.get("Codec")),
        language=as_text(raw.get("Language")),
        title=as_text(raw.get("Title")) or as_text(raw.get("DisplayTitle")),
        default=raw.get("IsDefault") is True,
        forced=raw.get("IsForced") is True,
        external=raw.get("IsExternal") is True,
        channels=as_count(raw.get("Channels")) if stream_type is StreamType.AUDIO else None,
        width=as_count(raw.get("Width")) if stream_type is StreamType.VIDEO else None,
        height=as_count(raw.get("Height")) if stream_type is StreamType.VIDEO else None,
    )


def _chapter(raw: Any) -> Chapter | None:
    if not isinstance(raw, dict) or (ticks := as_count(raw.get("StartPositionTicks"))) is None:
        return None
    return Chapter(title=as_text(raw.get("Name")) or "", start_ms=ticks // TICKS_PER_MS)


def _marker(raw: Any) -> Marker | None:
    if not isinstance(raw, dict):
        return None
    marker_type = SEGMENT_TYPES.get(as_text(raw.get("Type")) or "")
    start, end = as_count(raw.get("StartTicks")), as_count(raw.get("EndTicks"))
    if marker_type is None or start is None or end is None:
        return None
    return Marker(type=marker_type, start_ms=start // TICKS_PER_MS, end_ms=end // TICKS_PER_MS)


async def transcode_url(
    client: JellyfinClient, user_id: str, item: MediaItem, info: PlaybackInfo, choice: Transcode
) -> str:
    """The HLS URL the server sets up for ``choice``, with the token a player needs in it."""
    media_source = info.media_id or str(item.extra.get("media_source_id") or item.remote_id)
    body = playback_request(user_id, media_source, choice)
    answer = await client.request(
        "POST", f"/Items/{item.remote_id}/PlaybackInfo", params={"userId": user_id}, body=body
    )
    url = _transcoding_url(answer, media_source)
    if url is None:
        raise BackendProtocolError(f"{client.host} offered no transcoded stream of {item.title}")
    return with_token(client.base_url + "/" + url.lstrip("/"), client.token or "")


def playback_request(user_id: str, media_source: str, choice: Transcode) -> dict[str, Any]:
    """The ``PlaybackInfoDto`` that asks the server to transcode ``choice`` (never to play directly)."""
    bitrate = min(choice.max_bitrate, MAX_INT32)
    body: dict[str, Any] = {
        "UserId": user_id,
        "MaxStreamingBitrate": bitrate,
        "StartTimeTicks": choice.start_ms * TICKS_PER_MS,
        "MediaSourceId": media_source,
        "EnableDirectPlay": False,
        "EnableDirectStream": False,
        "EnableTranscoding": True,
        "AllowVideoStreamCopy": True,
        "AllowAudioStreamCopy": True,
        "AlwaysBurnInSubtitleWhenTranscoding": choice.subtitle is not None,
        "DeviceProfile": device_profile(bitrate),
    }
    if choice.audio is not None:
        body["AudioStreamIndex"] = choice.audio.index
    if choice.subtitle is not None:
        body["SubtitleStreamIndex"] = choice.subtitle.index
    return body


def device_profile(max_bitrate: int) -> dict[str, Any]:
    """A player that takes HLS of H.264 and AAC (what every player reads), subtitles burnt in."""
    return {
        "Name": "reeld",
        "MaxStreamingBitrate": max_bitrate,
        "MaxStaticBitrate": max_bitrate,
        "DirectPlayProfiles": [],
        "TranscodingProfiles": [
            {
                "Container": "ts",
                "Type": "Video",
                "VideoCodec": "h264",
                "AudioCodec": "aac,mp3",
                "Protocol": "hls",
                "Context": "Streaming",
                "MaxAudioChannels": "6",
                "MinSegments": 1,
                "BreakOnNonKeyFrames": True,
            }
        ],
        "SubtitleProfiles": [
            {"Format": fmt, "Method": "Encode"} for fmt in ("srt", "ass", "ssa", "pgssub", "vtt")
        ],
    }


def _transcoding_url(answer: Any, media_source: str) -> str | None:
    sources = answer.get("MediaSources") if isinstance(answer, dict) else None
    if not isinstance(sources, list):
        return None
    chosen = [s for s in sources if isinstance(s, dict) and s.get("TranscodingUrl")]
    source = next((s for s in chosen if s.get("Id") == media_source), chosen[0] if chosen else None)
    url = source.get("TranscodingUrl") if source else None
    return url if isinstance(url, str) and not urlsplit(url).netloc else None  # never another origin


def with_token(url: str, token: str) -> str:
    """``url`` with the token as ``ApiKey`` unless the server already put one in."""
    parts = urlsplit(url)
    if any(name in TOKEN_PARAMETERS for name, _ in parse_qsl(parts.query)):
        return url
    query = f"{parts.query}&" if parts.query else ""
    return parts._replace(query=query + urlencode({"ApiKey": token})).geturl()
