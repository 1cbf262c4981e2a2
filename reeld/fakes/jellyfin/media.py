"""What the fake server knows of its items' files: a media source with its streams, chapters and
media segments, derived from the item's id, so every run (and a test) sees the same ones.

Shapes follow the OpenAPI document: ``MediaSourceInfo``, ``MediaStream``, ``ChapterInfo``,
``MediaSegmentDto`` (ticks are 100 ns).
"""

from typing import TYPE_CHECKING, Any

from reeld.fakes.jellyfin.catalog import TICKS_PER_SECOND, jf_id

if TYPE_CHECKING:
    from reeld.fakes.jellyfin.catalog import Item

#: Video by ``seed % 4``: (width, height, codec, bits/s of the whole file).
VIDEO = ((720, 480, "mpeg4", 2_000_000), (1280, 720, "h264", 4_500_000), (1920, 1080, "h264", 9_000_000),
         (3840, 2160, "hevc", 24_000_000))  # fmt: skip
#: Audio tracks an item may have, in order: (language, codec, channels, title).
AUDIO = (("eng", "aac", 2, None), ("ger", "eac3", 6, None), ("eng", "ac3", 2, "Commentary"))
LANGUAGES = {"eng": "English", "ger": "German", "fre": "French", "spa": "Spanish"}
CHANNEL_NAMES = {2: "Stereo", 6: "5.1"}
SEGMENT_TYPES = ("Intro", "Outro", "Recap", "Preview", "Commercial")


def seed_of(item: "Item") -> int:
    return int(item.id[:8], 16)


def has_media(item: "Item") -> bool:
    return not item.is_folder


def media_streams(item: "Item") -> list[dict[str, Any]]:
    """The file's streams: video, one to three audio tracks, embedded and external subtitles."""
    if not has_media(item):
        return []
    seed = seed_of(item)
    streams: list[dict[str, Any]] = []
    if item.type != "Audio":
        width, height, codec, _ = VIDEO[seed % len(VIDEO)]
        streams.append(
            {
                "Codec": codec,
                "Type": "Video",
                "Index": 0,
                "Width": width,
                "Height": height,
                "IsDefault": True,
                "IsForced": False,
                "IsExternal": False,
                "DisplayTitle": f"{height}p {codec.upper()}",
            }
        )
    for n, (language, codec, channels, title) in enumerate(AUDIO[: 1 + seed % len(AUDIO)]):
        stream = {
            "Codec": codec,
            "Language": language,
            "Type": "Audio",
            "Index": len(streams),
            "Channels": channels,
            "IsDefault": n == 0,
            "IsForced": False,
            "IsExternal": False,
            "DisplayTitle": " - ".join(
                [
                    LANGUAGES[language],
                    codec.upper(),
                    CHANNEL_NAMES[channels],
                    *(["Default"] if n == 0 else []),
                ]
            ),
        }
        if title:
            stream["Title"] = title
        streams.append(stream)
    if item.type == "Audio":
        return streams
    if seed % 3 != 0:
        streams.append(_subtitle(len(streams), "eng", "subrip", external=False, forced=False))
    if seed % 2 == 0:
        streams.append(_subtitle(len(streams), "fre", "ass", external=False, forced=True))
    if seed % 5 < 2:
        streams.append(_subtitle(len(streams), "spa", "subrip", external=True, forced=False))
    return streams


def _subtitle(index: int, language: str, codec: str, external: bool, forced: bool) -> dict[str, Any]:
    stream: dict[str, Any] = {
        "Codec": codec,
        "Language": language,
        "Type": "Subtitle",
        "Index": index,
        "IsDefault": False,
        "IsForced": forced,
        "IsExternal": external,
        "IsTextSubtitleStream": True,
        "SupportsExternalStream": True,
        "DisplayTitle": LANGUAGES[language]
        + (" (Forced)" if forced else "")
        + (" - External" if external else ""),
    }
    if external:
        stream["Path"] = f"/media/subtitles/{index}.{language}.srt"
    return stream


def bitrate(item: "Item") -> int:
    return 320_000 if item.type == "Audio" else VIDEO[seed_of(item) % len(VIDEO)][3]


def media_source(item: "Item") -> dict[str, Any]:
    """The item's one ``MediaSourceInfo``, streams included."""
    source: dict[str, Any] = {
        "Protocol": "File",
        "Id": item.id,
        "Path": f"/media/{item.id}.mkv",
        "Type": "Default",
        "Container": "mkv",
        "Name": item.name,
        "IsRemote": False,
        "SupportsTranscoding": True,
        "SupportsDirectStream": True,
        "SupportsDirectPlay": True,
        "MediaStreams": media_streams(item),
        "Bitrate": bitrate(item),
    }
    if item.runtime_ticks:
        source["RunTimeTicks"] = item.runtime_ticks
        source["Size"] = bitrate(item) // 8 * (item.runtime_ticks // TICKS_PER_SECOND)
    audio = [s["Index"] for s in source["MediaStreams"] if s["Type"] == "Audio"]
    if audio:
        source["DefaultAudioStreamIndex"] = audio[0]
    return source


def chapters(item: "Item") -> list[dict[str, Any]]:
    """Three to six chapters spread over the item."""
    if not has_media(item) or item.type == "Audio" or not item.runtime_ticks:
        return []
    count = 3 + seed_of(item) % 4
    step = item.runtime_ticks // count
    return [
        {
            "StartPositionTicks": n * step,
            "Name": "Opening" if n == 0 else f"Chapter {n + 1}",
            "ImageDateModified": "0001-01-01T00:00:00.0000000Z",
        }
        for n in range(count)
    ]


def segments(item: "Item") -> list[dict[str, Any]]:
    """Episodes have an intro (most), a recap (some), a preview; every video has credits."""
    if not has_media(item) or item.type == "Audio" or not item.runtime_ticks:
        return []
    seed, end = seed_of(item), item.runtime_ticks
    spans: list[tuple[str, int, int]] = []
    if item.type == "Episode":
        if seed % 4 == 0:
            spans.append(("Recap", 0, 45 * TICKS_PER_SECOND))
        if seed % 5 != 4:
            start = (50 + seed % 60) * TICKS_PER_SECOND
            spans.append(("Intro", start, start + 30 * TICKS_PER_SECOND))
        spans.append(("Preview", end - 40 * TICKS_PER_SECOND, end))
        spans.append(("Outro", end - 100 * TICKS_PER_SECOND, end - 40 * TICKS_PER_SECOND))
    else:
        spans.append(("Outro", end - 420 * TICKS_PER_SECOND, end))
    return [
        {
            "Id": jf_id("segment", item.id, kind),
            "ItemId": item.id,
            "Type": kind,
            "StartTicks": start,
            "EndTicks": stop,
        }
        for kind, start, stop in spans
    ]
