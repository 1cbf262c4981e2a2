"""Tiny real Matroska files, written without an encoder: the header, tracks and chapters of a film
(no frames), which is all mediainfo reads to list a file's tracks. For tests and the demo, where a
folder needs a file with audio and subtitle tracks in several languages and a few chapters.

EBML element ids and layout from the Matroska specification (RFC 9559).
"""

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_VIDEO, _AUDIO, _SUBTITLE = 1, 2, 0x11
_TYPES = {"video": _VIDEO, "audio": _AUDIO, "subtitle": _SUBTITLE}


@dataclass(frozen=True, slots=True)
class SampleTrack:
    """One track: ``kind`` video, audio or subtitle; ``codec_id`` as Matroska names it
    (``V_MPEG4/ISO/AVC``, ``A_AAC``, ``S_TEXT/UTF8``…); ``language`` ISO 639-2."""

    kind: str
    codec_id: str
    language: str = "und"
    name: str | None = None
    default: bool = True
    forced: bool = False
    channels: int = 2
    width: int = 1280
    height: int = 720


#: A film with two audio tracks and two subtitles, one of them forced.
FILM_TRACKS = (
    SampleTrack("video", "V_MPEG4/ISO/AVC", "eng", width=1920, height=1080),
    SampleTrack("audio", "A_AAC", "eng", "Stereo", channels=2),
    SampleTrack("audio", "A_AC3", "ger", "Surround", default=False, channels=6),
    SampleTrack("subtitle", "S_TEXT/UTF8", "eng", default=False),
    SampleTrack("subtitle", "S_TEXT/ASS", "fre", "Signs", default=False, forced=True),
)
FILM_CHAPTERS = (("Opening", 0), ("The Middle", 30_000), ("The End", 90_000))


def write_matroska(
    path: Path,
    tracks: Sequence[SampleTrack] = FILM_TRACKS,
    chapters: Sequence[tuple[str, int]] = FILM_CHAPTERS,
    duration_ms: int = 120_000,
) -> Path:
    """Write the file; ``chapters`` are (title, start in ms)."""
    header = _element(
        0x1A45DFA3,
        _uint(0x4286, 1)
        + _uint(0x42F7, 1)
        + _uint(0x42F2, 4)
        + _uint(0x42F3, 8)
        + _text(0x4282, "matroska")
        + _uint(0x4287, 4)
        + _uint(0x4285, 2),
    )
    info = _element(
        0x1549A966,
        _uint(0x2AD7B1, 1_000_000)
        + _float(0x4489, float(duration_ms))
        + _text(0x4D80, "reeld")
        + _text(0x5741, "reeld"),
    )
    track_entries = b"".join(_track(number, track) for number, track in enumerate(tracks, 1))
    editions = b"".join(
        _element(
            0xB6,
            _uint(0x73C4, uid)
            + _uint(0x91, start_ms * 1_000_000)
            + _element(0x80, _text(0x85, title) + _text(0x437C, "eng")),
        )
        for uid, (title, start_ms) in enumerate(chapters, 1)
    )
    body = info + _element(0x1654AE6B, track_entries)
    if chapters:
        body += _element(0x1043A770, _element(0x45B9, _uint(0x45BC, 1) + editions))
    path.write_bytes(header + _element(0x18538067, body))
    return path


def _track(number: int, track: SampleTrack) -> bytes:
    payload = (
        _uint(0xD7, number)
        + _uint(0x73C5, number)
        + _uint(0x83, _TYPES[track.kind])
        + _text(0x86, track.codec_id)
        + _text(0x22B59C, track.language)
        + _uint(0x88, int(track.default))
        + _uint(0x55AA, int(track.forced))
    )
    if track.name:
        payload += _text(0x536E, track.name)
    if track.kind == "video":
        payload += _element(0xE0, _uint(0xB0, track.width) + _uint(0xBA, track.height))
    elif track.kind == "audio":
        payload += _element(0xE1, _float(0xB5, 48_000.0) + _uint(0x9F, track.channels))
    return _element(0xAE, payload)


def _size(length: int) -> bytes:
    """EBML's variable-length size: a marker bit, then the number (all ones is reserved)."""
    for width in range(1, 9):
        if length < (1 << (7 * width)) - 1:
            return ((1 << (7 * width)) | length).to_bytes(width, "big")
    raise ValueError(f"an element of {length} bytes is too large")


def _element(element_id: int, payload: bytes) -> bytes:
    return element_id.to_bytes((element_id.bit_length() + 7) // 8, "big") + _size(len(payload)) + payload


def _uint(element_id: int, value: int) -> bytes:
    return _element(element_id, value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


def _float(element_id: int, value: float) -> bytes:
    return _element(element_id, struct.pack(">d", value))


def _text(element_id: int, value: str) -> bytes:
    return _element(element_id, value.encode())
