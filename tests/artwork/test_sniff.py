"""What counts as an image to keep: the formats servers send, told by their first bytes."""

import struct

import pytest

from reeld.artwork.sniff import ImageInfo, image_info
from reeld.fakes.images import encode, picture


def webp_lossy(width: int, height: int) -> bytes:
    frame = b"\x10\x02\x00\x9d\x01\x2a" + struct.pack("<HH", width, height)
    return (
        b"RIFF" + struct.pack("<I", 4 + 8 + len(frame)) + b"WEBPVP8 " + struct.pack("<I", len(frame)) + frame
    )


def webp_lossless(width: int, height: int) -> bytes:
    bits = (width - 1) | ((height - 1) << 14)
    chunk = b"\x2f" + bits.to_bytes(4, "little")
    return (
        b"RIFF" + struct.pack("<I", 4 + 8 + len(chunk)) + b"WEBPVP8L" + struct.pack("<I", len(chunk)) + chunk
    )


def webp_extended(width: int, height: int) -> bytes:
    chunk = b"\x00" * 4 + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    return (
        b"RIFF" + struct.pack("<I", 4 + 8 + len(chunk)) + b"WEBPVP8X" + struct.pack("<I", len(chunk)) + chunk
    )


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (encode(picture("a", "poster", 320), "jpg"), ImageInfo("jpg", 320, 480)),
        (encode(picture("a", "backdrop", 780), "png"), ImageInfo("png", 780, 439)),
        (b"GIF89a" + struct.pack("<HH", 300, 450) + b"\x00" * 20, ImageInfo("gif", 300, 450)),
        (webp_lossy(320, 480), ImageInfo("webp", 320, 480)),
        (webp_lossless(16, 9), ImageInfo("webp", 16, 9)),
        (webp_extended(1920, 1080), ImageInfo("webp", 1920, 1080)),
    ],
)
def test_images_are_told_by_their_headers(data: bytes, expected: ImageInfo) -> None:
    assert image_info(data) == expected


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"<!DOCTYPE html><html><body>Sign in</body></html>",
        b'{"error": "not found"}',
        b"\xff\xd8\xff",  # a JPEG cut off before its size
        b"\x89PNG\r\n\x1a\n",  # a PNG cut off before its header
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR" + struct.pack(">II", 0, 10),  # no width
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR" + struct.pack(">II", 100_000, 10),  # a bomb's size
        b"RIFF\x00\x00\x00\x00WAVEfmt ",  # another RIFF
        bytes(range(256)) * 64,
    ],
)
def test_anything_else_is_not_an_image(data: bytes) -> None:
    assert image_info(data) is None
