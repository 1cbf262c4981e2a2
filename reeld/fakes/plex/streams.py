"""What the fake server knows of its items' files beyond ``Media``: the ``Stream`` elements of a
part (on ``/library/metadata/{id}``), and ``Chapter`` and ``Marker`` elements (with
``includeChapters=1`` / ``includeMarkers=1``), derived from the part's id so every run is the same.

Shapes follow the community spec: ``streamType`` 1 video, 2 audio, 3 subtitle; embedded streams
carry their ``index`` in the file, external subtitles none; every stream has the ``key`` the spec
requires (``/library/streams/{id}``); offsets are milliseconds.
"""

from typing import Any

from reeld.fakes.plex.catalog import EPISODE, TRACK, Item, Part

#: Audio tracks a part may have after its first: (language, code, tag, codec, channels, title).
AUDIO = (
    ("German", "ger", "de", "eac3", 6, None),
    ("English", "eng", "en", "ac3", 2, "Commentary"),
)
SUBTITLES = {"eng": ("English", "en"), "fre": ("French", "fr"), "spa": ("Spanish", "es")}
LAYOUTS = {2: "stereo", 6: "5.1(side)"}


def streams(item: Item, part: Part, media: dict[str, Any]) -> list[dict[str, Any]]:
    """The part's streams, the first of each kind as its ``Media`` element says."""
    seed = part.id
    found: list[dict[str, Any]] = []

    def add(stream: dict[str, Any]) -> None:
        stream_id = part.id * 10 + len(found)
        found.append({"id": stream_id, "key": f"/library/streams/{stream_id}", **stream})

    if item.type != TRACK:
        resolution, width, height, codec = (
            media[key] for key in ("videoResolution", "width", "height", "videoCodec")
        )
        add(
            {
                "streamType": 1,
                "default": True,
                "codec": codec,
                "index": 0,
                "bitrate": media["bitrate"] - 200,
                "height": height,
                "width": width,
                "displayTitle": f"{resolution.upper() if resolution == '4k' else resolution + 'p'} ({codec.upper()})",
            }
        )
    first = ("English", "eng", "en", media["audioCodec"], media["audioChannels"], None)
    for n, (language, code, tag, codec, channels, title) in enumerate(
        (first, *AUDIO[: seed % (len(AUDIO) + 1)])
    ):
        stream: dict[str, Any] = {
            "streamType": 2,
            "selected": n == 0,
            "default": n == 0,
            "codec": codec,
            "index": len(found),
            "channels": channels,
            "audioChannelLayout": LAYOUTS[channels],
            "language": language,
            "languageTag": tag,
            "languageCode": code,
            "displayTitle": f"{language} ({codec.upper()} {'Stereo' if channels == 2 else '5.1'})",
        }
        if title:
            stream["title"] = title
        add(stream)
    if item.type == TRACK:
        return found
    embedded = [("eng", False)] if seed % 3 != 0 else []
    embedded += [("fre", True)] if seed % 2 == 0 else []
    for code, forced in embedded:
        language, tag = SUBTITLES[code]
        subtitle: dict[str, Any] = {
            "streamType": 3,
            "codec": "srt" if code == "eng" else "ass",
            "index": len(found),
            "language": language,
            "languageTag": tag,
            "languageCode": code,
            "displayTitle": f"{language}{' Forced' if forced else ''} ({'SRT' if code == 'eng' else 'ASS'})",
        }
        if forced:
            subtitle["forced"] = True
        add(subtitle)
    if seed % 5 < 2:
        add(
            {
                "streamType": 3,
                "codec": "srt",
                "format": "srt",
                "language": "Spanish",
                "languageTag": "es",
                "languageCode": "spa",
                "displayTitle": "Spanish (SRT External)",
            }
        )
    return found


def chapters(item: Item, part: Part) -> list[dict[str, Any]]:
    """Three to six chapters spread over a video."""
    if item.type == TRACK or not item.duration:
        return []
    count = 3 + part.id % 4
    step = item.duration // count
    return [
        {
            "id": part.id * 10 + n,
            "filter": f"thumb={part.id * 10 + n}",
            "index": n + 1,
            "startTimeOffset": n * step,
            "endTimeOffset": (n + 1) * step if n + 1 < count else item.duration,
            "tag": "Opening" if n == 0 else f"Chapter {n + 1}",
            "thumb": f"/library/media/{part.media_id}/chapterImages/{n + 1}",
        }
        for n in range(count)
    ]


def markers(item: Item, part: Part) -> list[dict[str, Any]]:
    """Most episodes have an intro; every video has credits (and a commercial now and then)."""
    if item.type == TRACK or not item.duration:
        return []
    end, seed = item.duration, part.id
    spans: list[tuple[str, int, int]] = []
    if item.type == EPISODE and seed % 5 != 4:
        start = (50 + seed % 60) * 1000
        spans.append(("intro", start, start + 30_000))
    if seed % 7 == 3:
        spans.append(("commercial", end // 2, end // 2 + 90_000))
    spans.append(("credits", end - (100_000 if item.type == EPISODE else 420_000), end))
    return [
        {"id": part.id * 10 + n, "type": kind, "startTimeOffset": start, "endTimeOffset": stop, "final": True}
        for n, (kind, start, stop) in enumerate(spans)
    ]
