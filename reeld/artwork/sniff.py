"""What an image file is, from its first bytes: format and size, without decoding it.

A server that answers an image request with an HTML error page, an empty body or anything else
that is not a picture must never reach the cache: a frontend would hand it to its image loader.
"""

import struct
from dataclasses import dataclass

#: The most a header parse looks at; every format here puts its size well within it.
HEADER_BYTES = 64 * 1024
#: Larger sides are not posters (and would be a decompression bomb for a frontend's loader).
MAX_SIDE = 30_000


@dataclass(frozen=True, slots=True)
class ImageInfo:
    format: str  # the file name extension it is kept under: jpg, png, webp, gif
    width: int
    height: int


def image_info(data: bytes) -> ImageInfo | None:
    """The format and size of an image in ``data``; ``None`` when it is not one reeld keeps."""
    head = data[:HEADER_BYTES]
    for parse in (_png, _jpeg, _webp, _gif):
        try:
            info = parse(head)
        except (struct.error, IndexError, ValueError):
            info = None
        if info is not None:
            return info if 0 < info.width <= MAX_SIDE and 0 < info.height <= MAX_SIDE else None
    return None


def _png(data: bytes) -> ImageInfo | None:
    if not data.startswith(b"\x89PNG\r\n\x1a\n") or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return ImageInfo("png", width, height)


def _gif(data: bytes) -> ImageInfo | None:
    if data[:6] not in (b"GIF87a", b"GIF89a"):
        return None
    width, height = struct.unpack("<HH", data[6:10])
    return ImageInfo("gif", width, height)


def _webp(data: bytes) -> ImageInfo | None:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    chunk = data[12:16]
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", data[26:30])
        return ImageInfo("webp", width & 0x3FFF, height & 0x3FFF)
    if chunk == b"VP8L" and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return ImageInfo("webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    if chunk == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return ImageInfo("webp", width, height)
    return None


# Start-of-frame markers carry the size; C4 (Huffman tables), C8 (reserved) and CC (arithmetic
# coding conditioning) share the range but are not frames.
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length field.
_STANDALONE = frozenset(range(0xD0, 0xDA)) | {0x01}


def _jpeg(data: bytes) -> ImageInfo | None:
    if not data.startswith(b"\xff\xd8\xff"):
        return None
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill bytes before a marker
            position += 1
            continue
        if marker in _STANDALONE:
            position += 2
            continue
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        if marker in _SOF:
            height, width = struct.unpack(">HH", data[position + 5 : position + 9])
            return ImageInfo("jpg", width, height)
        if marker == 0xDA or length < 2:  # image data before any frame header: not a JPEG we know
            return None
        position += 2 + length
    return None
