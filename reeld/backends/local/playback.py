"""A local file's tracks and chapters, read with mediainfo (blocking: call it off the event loop),
and the subtitle files beside it (``Movie.en.srt``, ``Movie.forced.srt``) that players pick up."""

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog

from reeld.backends.local.scan import MIN_PROBE_BYTES, FileStat, mediainfo_available
from reeld.backends.playback import as_count, as_text
from reeld.errors import BackendUnavailable, ReeldError
from reeld.models.playback import Chapter, PlaybackInfo, Stream, StreamType

log = structlog.get_logger(__name__)

TRACK_TYPES = {"Video": StreamType.VIDEO, "Audio": StreamType.AUDIO, "Text": StreamType.SUBTITLE}
#: mediainfo's format names as the short codec names servers use.
CODECS = {
    "avc": "h264",
    "hevc": "hevc",
    "av1": "av1",
    "vp9": "vp9",
    "vp8": "vp8",
    "mpeg-4 visual": "mpeg4",
    "mpeg video": "mpeg2video",
    "aac": "aac",
    "ac-3": "ac3",
    "e-ac-3": "eac3",
    "dts": "dts",
    "truehd": "truehd",
    "mlp fba": "truehd",
    "flac": "flac",
    "opus": "opus",
    "vorbis": "vorbis",
    "mpeg audio": "mp3",
    "pcm": "pcm",
    "utf-8": "subrip",
    "ass": "ass",
    "ssa": "ssa",
    "pgs": "pgssub",
    "vobsub": "dvdsub",
    "timed text": "mov_text",
    "webvtt": "webvtt",
}
#: ISO 639-2 has two codes for some languages; servers (Jellyfin, Plex) write the bibliographic
#: one, mediainfo the terminological one: as servers do, so a language is one code whatever the source.
BIBLIOGRAPHIC = {
    "deu": "ger", "fra": "fre", "zho": "chi", "ces": "cze", "nld": "dut", "ell": "gre", "fas": "per",
    "ron": "rum", "slk": "slo", "sqi": "alb", "hye": "arm", "eus": "baq", "mya": "bur", "kat": "geo",
    "isl": "ice", "mkd": "mac", "mri": "mao", "msa": "may", "bod": "tib", "cym": "wel",
}  # fmt: skip
#: Two-letter codes (``Movie.en.srt``) of the languages subtitles come in most, as ISO 639-2/B.
TWO_LETTER = {
    "en": "eng", "de": "ger", "fr": "fre", "es": "spa", "it": "ita", "pt": "por", "nl": "dut", "sv": "swe",
    "no": "nor", "nb": "nob", "da": "dan", "fi": "fin", "pl": "pol", "cs": "cze", "sk": "slo", "hu": "hun",
    "ro": "rum", "el": "gre", "tr": "tur", "ru": "rus", "uk": "ukr", "ar": "ara", "he": "heb", "fa": "per",
    "hi": "hin", "zh": "chi", "ja": "jpn", "ko": "kor", "th": "tha", "vi": "vie", "id": "ind", "ms": "may",
}  # fmt: skip
SUBTITLE_FILES = {".srt": "subrip", ".ass": "ass", ".ssa": "ssa", ".vtt": "webvtt", ".sub": "dvdsub"}
#: A chapter entry of mediainfo's Menu track: ``00_01_30000`` (hh_mm_ssmmm) -> ``en:Title``.
_CHAPTER_KEY = re.compile(r"(\d\d)_(\d\d)_(\d\d)(\d\d\d)")
#: ``Movie.en.srt``, ``Movie.eng.forced.srt``: a language and flags after the video's name.
_FLAGS = {"forced", "default", "sdh", "cc"}


def probe_file(file: FileStat, siblings: Sequence[str] | None = None) -> PlaybackInfo | None:
    """What a sync reads of a new or changed file, in the probe it makes for the duration anyway
    (measured: 1.08x that probe alone); None for files too small to be media, or unreadable."""
    if file.size < MIN_PROBE_BYTES or not mediainfo_available():
        return None
    try:
        return read_playback_info(file.path, siblings)
    except (OSError, ReeldError) as exc:  # gone or unreadable since the walk: the item has no info
        log.debug("local_probe_failed", path=file.path, reason=str(exc))
        return None


def read_playback_info(path: str, siblings: Sequence[str] | None = None) -> PlaybackInfo:
    """What mediainfo finds in ``path``; ``BackendUnavailable`` when the file cannot be read.
    ``siblings``: the names in its folder, when the caller has listed it already."""
    if not os.access(path, os.R_OK):
        raise BackendUnavailable(f"{path} cannot be read (is its disk mounted?)")
    size = os.path.getsize(path)
    container = Path(path).suffix.lstrip(".").lower() or None
    if not mediainfo_available():
        return PlaybackInfo(container=container, size=size, streams=_sidecars(path, 0, siblings))
    from pymediainfo import MediaInfo

    try:
        tracks = [track.to_data() for track in MediaInfo.parse(path, parse_speed=0).tracks]
    except Exception as exc:  # mediainfo fails in many ways on odd files; what it cannot read is unknown
        log.debug("local_mediainfo_unreadable", path=path, reason=str(exc))
        tracks = []
    general = next((t for t in tracks if t.get("track_type") == "General"), {})
    streams = [stream for n, track in enumerate(tracks) if (stream := _stream(track, n)) is not None]
    following = max((stream.index for stream in streams), default=-1) + 1
    return PlaybackInfo(
        container=container,
        bitrate=as_count(_number(general.get("overall_bit_rate"))),
        size=size,
        duration_ms=as_count(_number(general.get("duration"))),
        streams=(*streams, *_sidecars(path, following, siblings)),
        chapters=_chapters(next((t for t in tracks if t.get("track_type") == "Menu"), {})),
    )


def _stream(track: dict[str, Any], position: int) -> Stream | None:
    stream_type = TRACK_TYPES.get(track.get("track_type", ""))
    if stream_type is None:
        return None
    index = as_count(_number(track.get("streamorder")))
    fmt = (as_text(track.get("format")) or "").lower()
    return Stream(
        type=stream_type,
        index=index if index is not None else position,
        codec=CODECS.get(fmt, fmt or None),
        language=_iso639_2(track),
        title=as_text(track.get("title")),
        default=track.get("default") == "Yes",
        forced=track.get("forced") == "Yes",
        channels=as_count(_number(track.get("channel_s"))) if stream_type is StreamType.AUDIO else None,
        width=as_count(_number(track.get("width"))) if stream_type is StreamType.VIDEO else None,
        height=as_count(_number(track.get("height"))) if stream_type is StreamType.VIDEO else None,
    )


def _iso639_2(track: dict[str, Any]) -> str | None:
    """The three-letter code servers use (``eng``); mediainfo lists it among the language's forms."""
    forms = track.get("other_language") or []
    three = next(
        (form for form in forms if isinstance(form, str) and len(form) == 3 and form.isalpha()), None
    )
    return language_code(three or as_text(track.get("language")))


def language_code(code: str | None) -> str | None:
    """``code`` (two or three letters) as the ISO 639-2/B code servers use, when it is one of those."""
    if code is None:
        return None
    code = code.lower()
    return TWO_LETTER.get(code) or BIBLIOGRAPHIC.get(code) or code


def _chapters(menu: dict[str, Any]) -> tuple[Chapter, ...]:
    chapters: list[Chapter] = []
    for key, value in menu.items():
        match = _CHAPTER_KEY.fullmatch(key)
        if match is None or not isinstance(value, str):
            continue
        hours, minutes, seconds, millis = (int(part) for part in match.groups())
        _, _, title = value.rpartition(":") if re.match(r"^[a-z]{2,3}:", value) else ("", "", value)
        chapters.append(
            Chapter(title=title, start_ms=((hours * 60 + minutes) * 60 + seconds) * 1000 + millis)
        )
    return tuple(sorted(chapters, key=lambda chapter: chapter.start_ms))


def _sidecars(path: str, first_index: int, siblings: Sequence[str] | None) -> tuple[Stream, ...]:
    """Subtitle files named after the video, in name order, numbered after the file's own tracks."""
    video = Path(path)
    try:
        names = sorted(os.listdir(video.parent) if siblings is None else siblings)
    except OSError:
        return ()
    streams: list[Stream] = []
    for name in names:
        sidecar = Path(name)
        codec = SUBTITLE_FILES.get(sidecar.suffix.lower())
        if codec is None or not name.startswith(video.stem + ".") or name == video.name:
            continue
        tags = [tag.lower() for tag in name[len(video.stem) + 1 : -len(sidecar.suffix)].split(".") if tag]
        code = next((tag for tag in tags if tag not in _FLAGS and tag.isalpha() and len(tag) in (2, 3)), None)
        language = language_code(code)
        streams.append(
            Stream(
                type=StreamType.SUBTITLE,
                index=first_index + len(streams),
                codec=codec,
                language=language,
                title=name,
                default="default" in tags,
                forced="forced" in tags,
                external=True,
            )
        )
    return tuple(streams)


def _number(value: Any) -> float | None:
    """mediainfo gives numbers as numbers or as text ("2"); anything else is unknown."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    try:
        return float(value) if isinstance(value, str) else None
    except ValueError:
        return None
