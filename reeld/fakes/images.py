"""Small real images for the fake servers: posters, backdrops, logos and thumbnails that a
frontend's image loader (GdkPixbuf, Qt, a browser) opens, distinct per item and per tag, made
without an imaging library.

Each picture is a background colour with a band of a second colour across its middle, both
derived from a seed (the item and its image tag): a changed tag is a visibly different image.
JPEG is what servers send by default; PNG when a client asks for it. Both encoders only handle
pictures of flat 8x8 blocks, which is all the fakes draw, and are fast enough to serve thousands
of posters to a benchmark.
"""

import functools
import hashlib
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from starlette.responses import Response, StreamingResponse

Color = tuple[int, int, int]

#: Each kind's size as stored on the server (what an unscaled request gets).
ORIGINAL_SIZES: dict[str, tuple[int, int]] = {
    "poster": (600, 900),
    "backdrop": (1280, 720),
    "thumb": (640, 360),
    "logo": (800, 312),
}


@dataclass(frozen=True, slots=True)
class Picture:
    width: int
    height: int
    background: Color
    band: Color


def picture(seed: str, kind: str, width: int | None = None, height: int | None = None) -> Picture:
    """The picture of ``seed`` (item and tag) scaled to fit ``width`` x ``height`` (never up)."""
    full_width, full_height = ORIGINAL_SIZES.get(kind, ORIGINAL_SIZES["poster"])
    scale = 1.0
    if width:
        scale = min(scale, width / full_width)
    if height:
        scale = min(scale, height / full_height)
    digest = hashlib.sha256(seed.encode()).digest()
    return Picture(
        width=max(1, round(full_width * scale)),
        height=max(1, round(full_height * scale)),
        background=(digest[0], digest[1], digest[2]),
        # the band stands out from the background whatever colour that is
        band=(digest[3] ^ 0x80, digest[4] ^ 0x80, digest[5] ^ 0x80),
    )


def _band_rows(picture: Picture, block: int = 1) -> range:
    """Rows (in units of ``block`` pixels) the band covers: the middle third, on 8-pixel lines."""
    top, bottom = picture.height // 3 // 8 * 8, (picture.height * 2 // 3 + 7) // 8 * 8
    return range(top // block, bottom // block)


@functools.lru_cache(maxsize=256)
def encode(picture: Picture, fmt: str = "jpg") -> bytes:
    """The picture as a ``jpg`` or ``png`` file."""
    return png(picture) if fmt == "png" else jpeg(picture)


# -- PNG ------------------------------------------------------------------------------------------


def png(picture: Picture) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = [b"\x00" + bytes(picture.background) * picture.width] * picture.height
    band = b"\x00" + bytes(picture.band) * picture.width
    for row in _band_rows(picture):
        rows[row] = band
    header = struct.pack(">IIBBBBB", picture.width, picture.height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 6))
        + chunk(b"IEND", b"")
    )


# -- JPEG (baseline, 4:4:4, every block one flat colour) -----------------------------------------

# The standard luminance DC table (ITU T.81 Annex K.3): code lengths and the categories 0-11.
_DC_COUNTS = (0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0)
_DC_CODES: dict[int, str] = {}
_code, _length_index, _symbol = 0, 0, 0
for _length, _count in enumerate(_DC_COUNTS, start=1):
    for _ in range(_count):
        _DC_CODES[_symbol] = format(_code, f"0{_length}b")
        _code, _symbol = _code + 1, _symbol + 1
    _code <<= 1
# Flat blocks have no AC coefficients: the AC table holds end-of-block alone, coded "0".
_EOB = "0"


def _ycbcr(color: Color) -> tuple[int, int, int]:
    r, g, b = color
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b
    return tuple(min(255, max(0, round(v))) for v in (y, cb, cr))  # type: ignore[return-value]


def _dc_bits(diff: int) -> str:
    """A DC difference: its category's code, then its magnitude (ones' complement when negative)."""
    if diff == 0:
        return _DC_CODES[0]
    category = abs(diff).bit_length()
    magnitude = diff if diff > 0 else diff + (1 << category) - 1
    return _DC_CODES[category] + format(magnitude, f"0{category}b")


def jpeg(picture: Picture) -> bytes:
    # With a quantisation table of ones, a flat block of value v has DC 8 * (v - 128) and nothing else.
    levels = {color: [8 * (v - 128) for v in _ycbcr(color)] for color in (picture.background, picture.band)}
    columns, block_rows = (picture.width + 7) // 8, (picture.height + 7) // 8
    band_rows = _band_rows(picture, 8)
    previous = [0, 0, 0]
    bits: list[str] = []
    same = "".join(_DC_CODES[0] + _EOB for _ in range(3))  # a block like the one before it
    for row in range(block_rows):
        dcs = levels[picture.band if row in band_rows else picture.background]
        # the first block of a row carries the change of colour; the rest repeat it
        bits.append("".join(_dc_bits(dc - prev) + _EOB for dc, prev in zip(dcs, previous, strict=True)))
        bits.append(same * (columns - 1))
        previous = dcs
    scan = "".join(bits)
    scan += "1" * (-len(scan) % 8)  # pad the last byte with ones
    data = int(scan, 2).to_bytes(len(scan) // 8, "big").replace(b"\xff", b"\xff\x00")
    return b"".join(
        (
            b"\xff\xd8",
            _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"),
            _segment(0xDB, b"\x00" + b"\x01" * 64),
            _segment(
                0xC0,
                struct.pack(">BHHB", 8, picture.height, picture.width, 3)
                + b"".join(bytes((component, 0x11, 0)) for component in (1, 2, 3)),
            ),
            _segment(0xC4, b"\x00" + bytes(_DC_COUNTS) + bytes(range(12))),
            _segment(0xC4, b"\x10" + bytes((1,) + (0,) * 15) + b"\x00"),
            _segment(0xDA, b"\x03" + b"".join(bytes((c, 0x00)) for c in (1, 2, 3)) + b"\x00\x3f\x00"),
            data,
            b"\xff\xd9",
        )
    )


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


# -- answers, and the bad ones a test asks for ------------------------------------------------------

#: What ``/__control/images`` can make a fake answer image requests with instead of the image.
HOSTILE_MODES = ("html", "empty", "huge", "garbage", "mislabelled")
HUGE_BYTES = 50 * 1024 * 1024


class ImageFaults:
    """Bad answers for image requests, by item id (``"*"``: every item), set by a test."""

    def __init__(self) -> None:
        self.modes: dict[str, str] = {}

    def set(self, body: dict[str, object]) -> None:
        mode = str(body.get("mode") or "")
        item = str(body.get("id") or "*")
        if not mode:
            self.modes.pop(item, None)
            return
        if mode not in HOSTILE_MODES:
            raise ValueError(f"unknown image fault {mode!r}")
        self.modes[item] = mode

    def answer(self, item_id: str) -> Response | None:
        """The bad answer for ``item_id``'s images, if a test asked for one."""
        mode = self.modes.get(item_id) or self.modes.get("*")
        if mode is None:
            return None
        if mode == "html":
            page = b"<!DOCTYPE html><html><body><h1>Sign in</h1><p>Your session expired.</p></body></html>"
            return Response(page, media_type="text/html")
        if mode == "empty":
            return Response(b"", media_type="image/jpeg")
        if mode == "garbage":
            return Response(hashlib.sha256(item_id.encode()).digest() * 512, media_type="image/jpeg")
        if mode == "mislabelled":
            return Response(b'{"error": "not an image"}' * 10, media_type="image/png")
        return StreamingResponse(_huge(), media_type="image/jpeg")  # no length: it must be cut off


def _huge() -> Iterator[bytes]:
    block = b"\xff\xd8\xff\xe0" + bytes(1024 * 1024 - 4)
    for _ in range(HUGE_BYTES // len(block)):
        yield block


def image_response(seed: str, kind: str, width: int | None, height: int | None, fmt: str) -> Response:
    body = encode(picture(seed, kind, width, height), fmt)
    return Response(body, media_type="image/png" if fmt == "png" else "image/jpeg")


def positive(value: str | None) -> int | None:
    """A size parameter as a number of pixels; ``None`` when absent, not a number or not positive."""
    try:
        number = int(value or "")
    except ValueError:
        return None
    return number if number > 0 else None
