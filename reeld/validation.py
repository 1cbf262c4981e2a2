"""Checks of what clients send, raising ``InvalidArgument`` with a message a person understands."""

import errno
import os
import re
import unicodedata
from pathlib import Path
from urllib.parse import urlsplit

from reeld.errors import InvalidArgument

MAX_TEXT = 4096
MAX_LIMIT = 10_000
#: Linux's limits: one name in a path (NAME_MAX), and a whole path (PATH_MAX, with its NUL), in bytes.
MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 4095

#: Characters no name, id, URL or query typed by a person holds: controls (NUL, newline, escape…),
#: surrogates, line and paragraph separators, and the bidirectional marks and overrides that make
#: text read otherwise than it is stored ("Trojan Source").
_ODD_CHARACTER = re.compile(
    "[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]"
)
_FAMILIAR = {"\x00": "NUL", "\t": "tab", "\n": "newline", "\r": "carriage return", "\x1b": "escape"}


def _char_name(char: str) -> str:
    """``newline (U+000A)``, ``right-to-left override (U+202E)``: a character a message can name."""
    name = _FAMILIAR.get(char) or unicodedata.name(char, "control character").lower()
    return f"{name} (U+{ord(char):04X})"


def check_text(value: str, what: str, max_length: int = MAX_TEXT) -> str:
    """Non-empty text of at most ``max_length`` characters, none of them a control or direction override."""
    if not value or not value.strip():
        raise InvalidArgument(f"{what} must not be empty")
    if len(value) > max_length:
        raise InvalidArgument(f"{what} is too long (at most {max_length} characters)")
    if (odd := _ODD_CHARACTER.search(value)) is not None:
        raise InvalidArgument(
            f"{what} must not contain a {_char_name(odd.group())} (at position {odd.start() + 1})"
        )
    return value


#: What a token can be made of: printable ASCII, no space. Plex and Jellyfin tokens are letters,
#: digits, ``-`` and ``_``; anything else (a control character, a non-breaking space or a
#: look-alike letter pasted with it) cannot go into an HTTP header as it is.
_TOKEN_CHARACTERS = frozenset(chr(code) for code in range(0x21, 0x7F))


def check_token(value: str, what: str = "token", max_length: int = 1024) -> str:
    """A token as typed or pasted, stripped of surrounding white space. The message never shows it."""
    value = value.strip()
    if not value:
        raise InvalidArgument(f"{what} must not be empty")
    if len(value) > max_length:
        raise InvalidArgument(f"{what} is too long (at most {max_length} characters)")
    for position, char in enumerate(value):
        if char not in _TOKEN_CHARACTERS:
            raise InvalidArgument(
                f"{what} holds a character no token has: a {_char_name(char)} at position {position + 1} "
                "(tokens are plain ASCII letters, digits and punctuation; copy it again)"
            )
    return value


def check_url(value: str, what: str = "server URL") -> str:
    """An http(s) URL with a host, without a trailing slash."""
    check_text(value, what)
    value = value.strip()
    if any(char.isspace() for char in value):
        # urlsplit would quietly drop a tab or newline; a space is no part of an address either
        raise InvalidArgument(f"{what} must not contain spaces (write %20 in a path): {value[:100]!r}")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number up to 65535
    except ValueError:
        raise InvalidArgument(
            f"{what} is not a valid URL (check the address and port): {value[:100]!r}"
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidArgument(f"{what} must be an http:// or https:// URL, not {value[:100]!r}")
    if parts.username or parts.password:
        raise InvalidArgument(f"{what} must not carry a user name or password")
    return value.rstrip("/")


#: Where the system keeps its own files, never media: scanning them only costs (/proc is endless).
SYSTEM_FOLDERS = (Path("/proc"), Path("/sys"), Path("/dev"))


def check_folder(value: str) -> Path:
    """An existing, readable directory that can hold media, as an absolute resolved path."""
    if not value or not value.strip():
        raise InvalidArgument("folder path must not be empty")
    if "\x00" in value:  # every other character can be part of a file name
        raise InvalidArgument("folder path must not contain a NUL character")
    path = Path(os.path.expanduser(value))
    if not path.is_absolute():
        raise InvalidArgument(f"folder path must be absolute: {_shown(value)}")
    _check_path_length(path)
    try:
        path = path.resolve(strict=True)
    except RuntimeError:  # Python 3.11's word for ELOOP in resolve()
        raise InvalidArgument(
            f"{_shown(path)} leads through symbolic links that point at each other in a loop"
        ) from None
    except OSError as exc:
        raise InvalidArgument(_unusable_path(path, exc)) from None
    if not path.is_dir():
        raise InvalidArgument(f"{_shown(path)} is not a folder")
    if not os.access(path, os.R_OK | os.X_OK):
        raise InvalidArgument(f"{_shown(path)} cannot be read")
    if path == Path(path.anchor) or any(path.is_relative_to(system) for system in SYSTEM_FOLDERS):
        raise InvalidArgument(f"{_shown(path)} is not a folder of media (the system's own files are there)")
    return path


def _check_path_length(path: Path) -> None:
    """The system's limits, said before it answers with a bare "File name too long"."""
    if len(os.fsencode(path)) > MAX_PATH_BYTES:
        raise InvalidArgument(f"folder path is too long (at most {MAX_PATH_BYTES} bytes)")
    for name in path.parts:
        if len(os.fsencode(name)) > MAX_NAME_BYTES:
            raise InvalidArgument(
                f"folder path holds a name longer than a file name can be ({len(os.fsencode(name))} bytes; "
                f"at most {MAX_NAME_BYTES}): {_shown(name, 60)}"
            )


def _unusable_path(path: Path, exc: OSError) -> str:
    if exc.errno == errno.ENOENT or exc.errno == errno.ENOTDIR:
        return f"{_shown(path)} is not an existing folder"
    if exc.errno == errno.ELOOP:
        return f"{_shown(path)} leads through symbolic links that point at each other in a loop"
    if exc.errno == errno.EACCES:
        return f"{_shown(path)} cannot be read (permission denied on the way to it)"
    if exc.errno == errno.ENAMETOOLONG:
        return f"folder path is too long: {_shown(path)}"
    return f"{_shown(path)} cannot be opened ({os.strerror(exc.errno or 0).lower()})"


def _shown(path: object, at_most: int = 200) -> str:
    """A path for a message: quoted, and cut in the middle when long (errors stay short)."""
    text = str(path)
    if len(text) > at_most:
        text = f"{text[: at_most // 2]}…{text[-at_most // 2 :]}"
    return repr(text)


def check_limit(value: int) -> int:
    if not 1 <= value <= MAX_LIMIT:
        raise InvalidArgument(f"limit must be between 1 and {MAX_LIMIT}")
    return value


def check_choice(value: str, choices: tuple[str, ...], what: str) -> str:
    if value not in choices:
        raise InvalidArgument(f"unknown {what} {value[:50]!r}; expected one of: {', '.join(choices)}")
    return value
