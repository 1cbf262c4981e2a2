"""Tiny but valid audio files with tags, written in pure Python, for tests, benchmarks and the demo.

Each file is what a tag reader sees of a real one: MP3 (an ID3v2.4 tag, a Xing header giving the
frame count, a few silent frames), FLAC (STREAMINFO with the sample count, Vorbis comments, a
PICTURE block), Ogg Opus and Ogg Vorbis (their identification and comment headers, and a last page
whose granule position gives the length), and M4A (``ftyp``, a ``moov`` with a sound track and an
``ilst``). Durations come from the headers, as players read them, so a three-minute track takes a
few kilobytes. MP3 and FLAC are encoded here directly (fast enough for 50k files); the Ogg and MP4
tags are written by mutagen on a bare file.
"""

import struct
from dataclasses import dataclass, field
from pathlib import Path

FORMATS = ("mp3", "flac", "opus", "ogg", "m4a")


@dataclass(frozen=True, slots=True)
class AudioTags:
    """What a file says of itself; ``None`` and empty fields are left out of the file."""

    title: str | None = None
    artist: str | None = None
    album_artist: str | None = None
    album: str | None = None
    track: int | None = None
    track_total: int | None = None
    disc: int | None = None
    year: int | None = None
    genre: str | None = None
    compilation: bool = False
    duration_s: float = 180.0
    #: An embedded front cover (JPEG bytes), or none.
    cover: bytes | None = None
    extra: dict[str, str] = field(default_factory=dict)


def write_audio(path: Path, tags: AudioTags) -> None:
    """Write ``path`` in the format its extension names (one of ``FORMATS``)."""
    fmt = path.suffix.lower().lstrip(".")
    writers = {"mp3": _mp3, "flac": _flac, "opus": _opus, "ogg": _vorbis, "m4a": _m4a}
    if fmt not in writers:
        raise ValueError(f"no audio writer for .{fmt}")
    path.parent.mkdir(parents=True, exist_ok=True)
    writers[fmt](path, tags)


def _numbers(number: int | None, total: int | None) -> str | None:
    if number is None:
        return None
    return f"{number}/{total}" if total else str(number)


def _text_fields(tags: AudioTags) -> list[tuple[str, str]]:
    """Vorbis-comment names and values, as FLAC and Ogg files carry them."""
    pairs = [
        ("TITLE", tags.title),
        ("ARTIST", tags.artist),
        ("ALBUMARTIST", tags.album_artist),
        ("ALBUM", tags.album),
        ("TRACKNUMBER", str(tags.track) if tags.track is not None else None),
        ("TRACKTOTAL", str(tags.track_total) if tags.track_total else None),
        ("DISCNUMBER", str(tags.disc) if tags.disc is not None else None),
        ("DATE", str(tags.year) if tags.year else None),
        ("GENRE", tags.genre),
        ("COMPILATION", "1" if tags.compilation else None),
        *tags.extra.items(),
    ]
    return [(name, value) for name, value in pairs if value]


# -- MP3 --------------------------------------------------------------------------------------------

#: MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, stereo, no CRC: 417-byte frames of 1152 samples.
_MP3_HEADER = b"\xff\xfb\x90\x00"
_MP3_FRAME = 417
_MP3_SAMPLES = 1152
_MP3_RATE = 44100


def _syncsafe(size: int) -> bytes:
    return bytes(((size >> 21) & 0x7F, (size >> 14) & 0x7F, (size >> 7) & 0x7F, size & 0x7F))


def _id3_frame(frame_id: str, body: bytes) -> bytes:
    return frame_id.encode() + _syncsafe(len(body)) + b"\x00\x00" + body


def id3_tag(tags: AudioTags) -> bytes:
    """An ID3v2.4 tag (UTF-8 text frames, an APIC front cover)."""
    texts = [
        ("TIT2", tags.title),
        ("TPE1", tags.artist),
        ("TPE2", tags.album_artist),
        ("TALB", tags.album),
        ("TRCK", _numbers(tags.track, tags.track_total)),
        ("TPOS", str(tags.disc) if tags.disc is not None else None),
        ("TDRC", str(tags.year) if tags.year else None),
        ("TCON", tags.genre),
        ("TCMP", "1" if tags.compilation else None),
    ]
    frames = b"".join(_id3_frame(name, b"\x03" + value.encode()) for name, value in texts if value)
    if tags.cover:
        frames += _id3_frame("APIC", b"\x00image/jpeg\x00\x03\x00" + tags.cover)
    return b"ID3\x04\x00\x00" + _syncsafe(len(frames)) + frames


def _mp3(path: Path, tags: AudioTags) -> None:
    frames = max(1, round(tags.duration_s * _MP3_RATE / _MP3_SAMPLES))
    # The Xing header sits after the 32 bytes of side information of a stereo MPEG-1 frame.
    xing = _MP3_HEADER + bytes(32) + b"Xing" + struct.pack(">II", 1, frames)
    first = xing.ljust(_MP3_FRAME, b"\x00")
    silent = (_MP3_HEADER + bytes(32)).ljust(_MP3_FRAME, b"\x00")
    path.write_bytes(id3_tag(tags) + first + silent * 3)


# -- FLAC -------------------------------------------------------------------------------------------

_FLAC_RATE = 44100


def _flac_block(kind: int, body: bytes, last: bool) -> bytes:
    return bytes((kind | (0x80 if last else 0),)) + len(body).to_bytes(3, "big") + body


def _vorbis_comment(tags: AudioTags) -> bytes:
    vendor = b"reeld fake"
    fields = [f"{name}={value}".encode() for name, value in _text_fields(tags)]
    out = struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", len(fields))
    return out + b"".join(struct.pack("<I", len(entry)) + entry for entry in fields)


def _flac_picture(cover: bytes) -> bytes:
    mime = b"image/jpeg"
    return (
        struct.pack(">II", 3, len(mime)) + mime + struct.pack(">IIIIII", 0, 0, 0, 24, 0, len(cover)) + cover
    )


def _flac(path: Path, tags: AudioTags) -> None:
    samples = round(tags.duration_s * _FLAC_RATE)
    # 20 bits rate, 3 bits channels - 1, 5 bits bits-per-sample - 1, 36 bits samples
    packed = (_FLAC_RATE << 44) | (1 << 41) | (15 << 36) | samples
    streaminfo = struct.pack(">HH", 4096, 4096) + bytes(6) + packed.to_bytes(8, "big") + bytes(16)
    blocks = [(0, streaminfo), (4, _vorbis_comment(tags))]
    if tags.cover:
        blocks.append((6, _flac_picture(tags.cover)))
    body = b"".join(
        _flac_block(kind, data, index == len(blocks) - 1) for index, (kind, data) in enumerate(blocks)
    )
    path.write_bytes(b"fLaC" + body)


# -- Ogg (Opus, Vorbis) -----------------------------------------------------------------------------


def _ogg(path: Path, packets: list[bytes], last_granule: int) -> None:
    from mutagen.ogg import OggPage

    pages = []
    for sequence, packet in enumerate(packets):
        page = OggPage()
        page.serial, page.sequence, page.packets = 1, sequence, [packet]
        page.first = sequence == 0
        page.position = 0 if sequence < len(packets) - 1 else last_granule
        page.last = sequence == len(packets) - 1
        pages.append(page.write())
    path.write_bytes(b"".join(pages))


def _opus(path: Path, tags: AudioTags) -> None:
    pre_skip = 312
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 2, pre_skip, 48000, 0, 0)
    _ogg(
        path,
        [head, b"OpusTags" + _vorbis_comment(AudioTags()), b"\xfc\xff\xfe"],
        round(tags.duration_s * 48000) + pre_skip,
    )
    _tag_with_mutagen(path, tags)


def _vorbis(path: Path, tags: AudioTags) -> None:
    ident = b"\x01vorbis" + struct.pack("<IBIiiiBB", 0, 2, _FLAC_RATE, 0, 128000, 0, 0xB8, 1)
    comment = b"\x03vorbis" + _vorbis_comment(AudioTags()) + b"\x01"
    _ogg(path, [ident, comment, b"\x05vorbis\x00", b"\x00"], round(tags.duration_s * _FLAC_RATE))
    _tag_with_mutagen(path, tags)


def _tag_with_mutagen(path: Path, tags: AudioTags) -> None:
    """Vorbis comments (and a cover) into an Ogg file: mutagen repaginates what follows them."""
    import mutagen

    audio = mutagen.File(path)
    for name, value in _text_fields(tags):
        audio[name] = value
    if tags.cover:
        import base64

        from mutagen.flac import Picture

        picture = Picture()
        picture.type, picture.mime, picture.data = 3, "image/jpeg", tags.cover
        audio["METADATA_BLOCK_PICTURE"] = base64.b64encode(picture.write()).decode()
    audio.save()


# -- MP4 (M4A) --------------------------------------------------------------------------------------


def _atom(name: bytes, body: bytes) -> bytes:
    return struct.pack(">I", 8 + len(body)) + name + body


def _m4a(path: Path, tags: AudioTags) -> None:
    rate = 44100
    duration = round(tags.duration_s * rate)
    matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    mvhd = _atom(
        b"mvhd",
        struct.pack(">IIIII", 0, 0, 0, rate, duration)
        + struct.pack(">IH", 0x10000, 0x100)
        + bytes(10)
        + matrix
        + bytes(24)
        + struct.pack(">I", 2),
    )
    mdhd = _atom(b"mdhd", struct.pack(">IIIIIHH", 0, 0, 0, rate, duration, 0x55C4, 0))
    hdlr = _atom(b"hdlr", struct.pack(">II", 0, 0) + b"soun" + bytes(12) + b"\x00")
    # An AAC-LC decoder config (44.1 kHz stereo) in an esds, as encoders write it.
    decoder = b"\x04\x11\x40\x15" + bytes(3) + struct.pack(">II", 128000, 128000) + b"\x05\x02\x12\x10"
    es = b"\x03" + bytes((3 + len(decoder) + 3,)) + bytes(3) + decoder + b"\x06\x01\x02"
    esds = _atom(b"esds", bytes(4) + es)
    entry = bytes(6) + struct.pack(">H", 1) + bytes(8) + struct.pack(">HHHHI", 2, 16, 0, 0, rate << 16)
    mp4a = _atom(b"mp4a", entry + esds)
    stsd = _atom(b"stsd", struct.pack(">II", 0, 1) + mp4a)
    stbl = _atom(b"stbl", stsd)
    minf = _atom(b"minf", stbl)
    mdia = _atom(b"mdia", mdhd + hdlr + minf)
    trak = _atom(b"trak", mdia)
    ftyp = _atom(b"ftyp", b"M4A \x00\x00\x00\x00M4A mp42isom")
    path.write_bytes(ftyp + _atom(b"moov", mvhd + trak) + _atom(b"mdat", b""))

    from mutagen.mp4 import MP4, MP4Cover

    audio = MP4(path)
    assert audio.tags is not None or audio.add_tags() is None
    assert audio.tags is not None
    texts = {
        "\xa9nam": tags.title,
        "\xa9ART": tags.artist,
        "aART": tags.album_artist,
        "\xa9alb": tags.album,
        "\xa9day": str(tags.year) if tags.year else None,
        "\xa9gen": tags.genre,
    }
    for key, value in texts.items():
        if value:
            audio.tags[key] = [value]
    if tags.track is not None:
        audio.tags["trkn"] = [(tags.track, tags.track_total or 0)]
    if tags.disc is not None:
        audio.tags["disk"] = [(tags.disc, 0)]
    if tags.compilation:
        audio.tags["cpil"] = True
    if tags.cover:
        audio.tags["covr"] = [MP4Cover(tags.cover, imageformat=MP4Cover.FORMAT_JPEG)]
    audio.save()


# -- a music folder ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SampleTrack:
    """One track written, and what a person should see for it."""

    relpath: str
    title: str
    artist: str
    album: str
    album_artist: str
    track: int
    disc: int
    duration_ms: int


@dataclass(slots=True)
class MusicFolder:
    root: Path
    tracks: list[SampleTrack] = field(default_factory=list)

    @property
    def albums(self) -> set[tuple[str, str]]:
        """(album artist, album) of every album."""
        return {(track.album_artist, track.album) for track in self.tracks}

    @property
    def artists(self) -> set[str]:
        return {track.album_artist for track in self.tracks}


def make_music_folder(
    root: Path,
    artists: int = 3,
    albums_per_artist: int = 2,
    tracks_per_album: int = 5,
    formats: tuple[str, ...] = FORMATS,
    under: str = "Music",
) -> MusicFolder:
    """``under/Artist N/Album M (year)/NN - Track K.ext``, the formats taking turns by album; every
    tenth album has two discs. Deterministic, so a benchmark's folder is the same every run."""
    folder = MusicFolder(root)
    album_number = 0
    for artist_number in range(1, artists + 1):
        artist = f"Artist {artist_number:05d}"
        for album_index in range(1, albums_per_artist + 1):
            album_number += 1
            album = f"Album {album_index} of {artist}"
            year = 1960 + album_number % 60
            fmt = formats[album_number % len(formats)]
            two_discs = album_number % 10 == 0 and tracks_per_album > 1
            for number in range(1, tracks_per_album + 1):
                disc, track = (
                    (2, number - tracks_per_album // 2)
                    if two_discs and number > tracks_per_album // 2
                    else (1, number)
                )
                title = f"Track {number} of {album}"
                relpath = f"{under}/{artist}/{album} ({year})/{disc}-{track:02d} - Track {number}.{fmt}"
                duration_s = 120 + (album_number * 7 + number * 13) % 240
                tags = AudioTags(
                    title=title,
                    artist=artist,
                    album_artist=artist,
                    album=album,
                    track=track,
                    disc=disc,
                    year=year,
                    genre="Rock" if album_number % 2 else "Jazz",
                    duration_s=duration_s,
                )
                write_audio(root / relpath, tags)
                folder.tracks.append(
                    SampleTrack(relpath, title, artist, album, artist, track, disc, duration_s * 1000)
                )
    return folder
