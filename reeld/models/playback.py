"""What a player needs to know of an item before it plays: its tracks, chapters and skippable parts,
and the choices a client makes when it asks for a stream (API 1.1).

Backends fill ``PlaybackInfo`` from their server or the file; the cache keeps it as JSON, so it
answers offline for anything seen once.
"""

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from typing import Any

from reeld.errors import InvalidArgument


class StreamType(StrEnum):
    VIDEO = "video"
    AUDIO = "audio"
    SUBTITLE = "subtitle"


class MarkerType(StrEnum):
    INTRO = "intro"
    CREDITS = "credits"
    RECAP = "recap"
    PREVIEW = "preview"
    COMMERCIAL = "commercial"


@dataclass(frozen=True, slots=True)
class Stream:
    """One track. ``index`` is what ``GetStreamUrlWith`` takes back to choose it; ``key`` is the
    server's own id for it when the server chooses tracks by id (Plex), never shown to clients."""

    type: StreamType
    index: int
    codec: str | None = None
    language: str | None = None
    title: str | None = None
    default: bool = False
    forced: bool = False
    external: bool = False
    channels: int | None = None
    width: int | None = None
    height: int | None = None
    key: str | None = None


@dataclass(frozen=True, slots=True)
class Chapter:
    title: str
    start_ms: int


@dataclass(frozen=True, slots=True)
class Marker:
    type: MarkerType
    start_ms: int
    end_ms: int


@dataclass(frozen=True, slots=True)
class PlaybackInfo:
    """An item's file as a player sees it. Unknown numbers are ``None``."""

    container: str | None = None
    bitrate: int | None = None  # bits/s
    size: int | None = None  # bytes
    duration_ms: int | None = None
    streams: tuple[Stream, ...] = ()
    chapters: tuple[Chapter, ...] = ()
    markers: tuple[Marker, ...] = ()
    #: The server's id of the file (Jellyfin's MediaSourceId, Plex's part id): what a stream URL names.
    media_id: str | None = None

    def stream(self, stream_type: StreamType, index: int) -> Stream | None:
        return next((s for s in self.streams if s.type is stream_type and s.index == index), None)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        return {key: value for key, value in data.items() if value not in (None, [], ())}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "PlaybackInfo":
        """What ``to_json`` wrote (keys it does not know, from another version, are left out);
        ``ValueError`` when it is not that."""
        try:
            return cls(
                container=data.get("container"),
                bitrate=data.get("bitrate"),
                size=data.get("size"),
                duration_ms=data.get("duration_ms"),
                streams=tuple(
                    Stream(**{**_known(Stream, stream), "type": StreamType(stream["type"])})
                    for stream in data.get("streams", ())
                ),
                chapters=tuple(Chapter(**_known(Chapter, chapter)) for chapter in data.get("chapters", ())),
                markers=tuple(
                    Marker(**{**_known(Marker, marker), "type": MarkerType(marker["type"])})
                    for marker in data.get("markers", ())
                ),
                media_id=data.get("media_id"),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not playback info: {exc}") from exc


def _known(kind: type, data: Mapping[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(kind)}
    return {key: value for key, value in data.items() if key in names}


def sorted_markers(markers: list[Marker]) -> tuple[Marker, ...]:
    """Markers in time order, without the empty or inverted ones some servers keep."""
    return tuple(sorted((m for m in markers if m.end_ms > m.start_ms >= 0), key=lambda m: m.start_ms))


# -- the choices of GetStreamUrlWith ----------------------------------------------------------------

#: Each option's D-Bus type.
STREAM_OPTIONS = {"audio_index": "u", "subtitle_index": "u", "max_bitrate": "u", "start_ms": "t"}


@dataclass(frozen=True, slots=True)
class StreamOptions:
    """What a client chose. ``max_bitrate`` ``None``: reeld picks from the connection; 0: direct play."""

    audio_index: int | None = None
    subtitle_index: int | None = None
    max_bitrate: int | None = None
    start_ms: int = 0

    @classmethod
    def parse(cls, options: Mapping[str, tuple[str, Any]]) -> "StreamOptions":
        """Options as ``name -> (D-Bus signature, value)``; an unknown name or a wrong type is
        ``InvalidArgument`` naming it."""
        values: dict[str, int] = {}
        for name, (signature, value) in options.items():
            wanted = STREAM_OPTIONS.get(name)
            if wanted is None:
                known = ", ".join(sorted(STREAM_OPTIONS))
                raise InvalidArgument(f"Unknown stream option {name[:64]!r} (known: {known})")
            if signature != wanted:
                raise InvalidArgument(f"Stream option {name} takes type {wanted}, not {signature[:16]}")
            values[name] = int(value)
        return cls(
            audio_index=values.get("audio_index"),
            subtitle_index=values.get("subtitle_index"),
            max_bitrate=values.get("max_bitrate"),
            start_ms=values.get("start_ms", 0),
        )


@dataclass(frozen=True, slots=True)
class Transcode:
    """A stream the server converts: the tracks chosen and the bitrate it must fit in."""

    max_bitrate: int  # bits/s
    audio: Stream | None = None
    subtitle: Stream | None = None
    start_ms: int = 0
