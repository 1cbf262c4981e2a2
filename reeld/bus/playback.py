"""Playback info as the ``a{sv}`` of API 1.1, and the ``a{sv}`` options of ``GetStreamUrlWith``
as plain values. Unknown values are left out; a number a server sent out of the D-Bus type's
range is unknown too (it would not marshal)."""

from collections.abc import Mapping
from typing import Any

from dbus_fast import Variant

from reeld.models.playback import PlaybackInfo, Stream

U32 = 2**32 - 1
U64 = 2**64 - 1


def playback_to_dbus(info: PlaybackInfo) -> dict[str, Variant]:
    out: dict[str, Variant] = {}
    _put(out, "container", "s", info.container)
    _put(out, "bitrate", "u", info.bitrate)
    _put(out, "size", "t", info.size)
    _put(out, "duration_ms", "t", info.duration_ms)
    out["streams"] = Variant("aa{sv}", [_stream(stream) for stream in info.streams])
    chapters = [{"title": Variant("s", c.title), "start_ms": Variant("t", c.start_ms)} for c in info.chapters]
    out["chapters"] = Variant("aa{sv}", chapters)
    markers = [
        {
            "type": Variant("s", str(m.type)),
            "start_ms": Variant("t", m.start_ms),
            "end_ms": Variant("t", m.end_ms),
        }
        for m in info.markers
    ]
    out["markers"] = Variant("aa{sv}", markers)
    return out


def _stream(stream: Stream) -> dict[str, Variant]:
    out = {
        "type": Variant("s", str(stream.type)),
        "default": Variant("b", stream.default),
        "forced": Variant("b", stream.forced),
        "external": Variant("b", stream.external),
    }
    _put(out, "index", "u", stream.index)
    for key, value in (("codec", stream.codec), ("language", stream.language), ("title", stream.title)):
        _put(out, key, "s", value)
    for key, number in (("channels", stream.channels), ("width", stream.width), ("height", stream.height)):
        _put(out, key, "u", number)
    return out


def _put(out: dict[str, Variant], key: str, signature: str, value: Any) -> None:
    if value is None or value == "":
        return
    if signature in ("u", "t") and not 0 <= value <= (U32 if signature == "u" else U64):
        return
    out[key] = Variant(signature, value)


def options_from_dbus(options: Mapping[str, Variant]) -> dict[str, tuple[str, Any]]:
    return {name: (variant.signature, variant.value) for name, variant in options.items()}
