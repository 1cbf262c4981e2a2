"""Plex playback: an item's Media, Part and Stream elements with its chapters and markers
(``/library/metadata/{id}?includeMarkers=1&includeChapters=1``), and HLS transcodes from the
universal transcoder (``/video/:/transcode/universal/start.m3u8``)."""

import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from reeld.backends.playback import as_count, as_list, as_text
from reeld.backends.plex.client import PlexServerClient
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

STREAM_TYPES = {1: StreamType.VIDEO, 2: StreamType.AUDIO, 3: StreamType.SUBTITLE}
#: Plex's marker types; bookmarks (a person's own) are not skippable parts.
MARKER_TYPES = {"intro": MarkerType.INTRO, "credits": MarkerType.CREDITS, "commercial": MarkerType.COMMERCIAL}
#: The client headers a player's URL carries as query parameters (Plex takes every ``X-Plex-``
#: header as one); the transcoder requires the client identifier.
CLIENT_PARAMETERS = ("X-Plex-Client-Identifier", "X-Plex-Product", "X-Plex-Version", "X-Plex-Platform")


async def fetch_playback_info(client: PlexServerClient, item: MediaItem) -> PlaybackInfo:
    container = await client.container(
        f"/library/metadata/{item.remote_id}", includeMarkers=1, includeChapters=1
    )
    entries = [entry for entry in as_list(container.get("Metadata")) if isinstance(entry, dict)]
    if not entries:
        raise BackendProtocolError(f"{client.name} sent nothing about {item.title}")
    return playback_from_metadata(entries[0], str(item.extra.get("part_key") or ""))


def playback_from_metadata(entry: Mapping[str, Any], part_key: str) -> PlaybackInfo:
    media, part = _chosen(entry, part_key)
    kbps = as_count(media.get("bitrate"))
    duration = (
        as_count(media.get("duration")) or as_count(part.get("duration")) or as_count(entry.get("duration"))
    )
    return PlaybackInfo(
        container=as_text(part.get("container")) or as_text(media.get("container")),
        bitrate=kbps * 1000 if kbps is not None else None,
        size=as_count(part.get("size")),
        duration_ms=duration,
        streams=_streams(as_list(part.get("Stream"))),
        chapters=tuple(chapter for raw in as_list(entry.get("Chapter")) if (chapter := _chapter(raw))),
        markers=sorted_markers([marker for raw in as_list(entry.get("Marker")) if (marker := _marker(raw))]),
        media_id=as_text(part.get("id")),
    )


def _chosen(entry: Mapping[str, Any], part_key: str) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """The media and part the item's stream URL plays (its ``part_key``), else the first."""
    pairs = [
        (media, part)
        for media in as_list(entry.get("Media"))
        if isinstance(media, dict)
        for part in as_list(media.get("Part"))
        if isinstance(part, dict)
    ]
    return next((pair for pair in pairs if pair[1].get("key") == part_key), pairs[0] if pairs else ({}, {}))


def _streams(raw_streams: list[Any]) -> tuple[Stream, ...]:
    """Streams by their index in the file; external subtitles (no index) numbered after the rest,
    as Jellyfin does, so every track has an index to choose it by."""
    raws = [
        raw
        for raw in raw_streams
        if isinstance(raw, dict) and as_count(raw.get("streamType")) in STREAM_TYPES
    ]
    embedded = [as_count(raw.get("index")) for raw in raws]
    next_index = max((index for index in embedded if index is not None), default=-1) + 1
    streams: list[Stream] = []
    for raw, index in zip(raws, embedded, strict=True):
        if index is None:
            index, next_index = next_index, next_index + 1
        streams.append(_stream(raw, index))
    return tuple(streams)


def _stream(raw: Mapping[str, Any], index: int) -> Stream:
    stream_type = STREAM_TYPES[as_count(raw.get("streamType")) or 0]
    return Stream(
        type=stream_type,
        index=index,
        codec=as_text(raw.get("codec")),
        language=as_text(raw.get("languageCode")),
        title=as_text(raw.get("title")) or as_text(raw.get("displayTitle")),
        default=raw.get("default") in (True, 1, "1"),
        forced=raw.get("forced") in (True, 1, "1"),
        external=stream_type is StreamType.SUBTITLE and raw.get("index") is None,  # a file beside the video
        channels=as_count(raw.get("channels")) if stream_type is StreamType.AUDIO else None,
        width=as_count(raw.get("width")) if stream_type is StreamType.VIDEO else None,
        height=as_count(raw.get("height")) if stream_type is StreamType.VIDEO else None,
        key=as_text(raw.get("id")),
    )


def _chapter(raw: Any) -> Chapter | None:
    if not isinstance(raw, dict) or (start := as_count(raw.get("startTimeOffset"))) is None:
        return None
    return Chapter(title=as_text(raw.get("tag")) or "", start_ms=start)


def _marker(raw: Any) -> Marker | None:
    if not isinstance(raw, dict):
        return None
    marker_type = MARKER_TYPES.get(as_text(raw.get("type")) or "")
    start, end = as_count(raw.get("startTimeOffset")), as_count(raw.get("endTimeOffset"))
    if marker_type is None or start is None or end is None:
        return None
    return Marker(type=marker_type, start_ms=start, end_ms=end)


def transcode_url(
    base_url: str, token: str, headers: Mapping[str, str], item: MediaItem, choice: Transcode
) -> str:
    """A URL that starts an HLS transcode of ``item`` with the chosen tracks, in ``choice``'s bitrate."""
    kbps = max(1, choice.max_bitrate // 1000)
    params: dict[str, str | int | float] = {
        "path": f"/library/metadata/{item.remote_id}",
        "protocol": "hls",
        "fastSeek": 1,
        "directPlay": 0,
        "directStream": 1,
        "directStreamAudio": 1,
        "videoBitrate": kbps,
        "maxVideoBitrate": kbps,  # the name plexapi and Plex's own players send
        "offset": round(choice.start_ms / 1000, 3),
        "session": uuid.uuid4().hex,
    }
    if choice.audio is not None and choice.audio.key:
        params["audioStreamID"] = choice.audio.key
    if choice.subtitle is not None and choice.subtitle.key:
        params["subtitleStreamID"] = choice.subtitle.key
        params["subtitles"] = "burn"
    params.update({name: headers[name] for name in CLIENT_PARAMETERS if headers.get(name)})
    params["X-Plex-Token"] = token
    return f"{base_url.rstrip('/')}/video/:/transcode/universal/start.m3u8?{urlencode(params)}"
