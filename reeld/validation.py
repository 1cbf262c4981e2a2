"""Checks of what clients send, raising ``InvalidArgument`` with a message a person understands."""

import os
from pathlib import Path
from urllib.parse import urlsplit

from reeld.errors import InvalidArgument

MAX_TEXT = 4096
MAX_LIMIT = 10_000


def check_text(value: str, what: str, max_length: int = MAX_TEXT) -> str:
    if not value or not value.strip():
        raise InvalidArgument(f"{what} must not be empty")
    if len(value) > max_length:
        raise InvalidArgument(f"{what} is too long (at most {max_length} characters)")
    if "\x00" in value:
        raise InvalidArgument(f"{what} must not contain NUL characters")
    return value


def check_url(value: str, what: str = "server URL") -> str:
    """An http(s) URL with a host, without a trailing slash."""
    check_text(value, what)
    value = value.strip()
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
    check_text(value, "folder path")
    path = Path(os.path.expanduser(value))
    if not path.is_absolute():
        raise InvalidArgument(f"folder path must be absolute: {value[:200]!r}")
    path = path.resolve()
    if not path.is_dir():
        raise InvalidArgument(f"{path} is not an existing folder")
    if not os.access(path, os.R_OK | os.X_OK):
        raise InvalidArgument(f"{path} cannot be read")
    if path == Path(path.anchor) or any(path.is_relative_to(system) for system in SYSTEM_FOLDERS):
        raise InvalidArgument(f"{path} is not a folder of media (the system's own files are there)")
    return path


def check_limit(value: int) -> int:
    if not 1 <= value <= MAX_LIMIT:
        raise InvalidArgument(f"limit must be between 1 and {MAX_LIMIT}")
    return value


def check_choice(value: str, choices: tuple[str, ...], what: str) -> str:
    if value not in choices:
        raise InvalidArgument(f"unknown {what} {value[:50]!r}; expected one of: {', '.join(choices)}")
    return value
