"""D-Bus names of API v1 (../shared/design/dbus-api-v1.md) and how ids become object paths."""

import functools

BUS_NAME = "io.github.reeld.Reeld1"
ROOT_PATH = "/io/github/reeld/Reeld1"
IFACE_PREFIX = "io.github.reeld.Reeld1"
MANAGER_IFACE = f"{IFACE_PREFIX}.Manager"
ACCOUNT_IFACE = f"{IFACE_PREFIX}.Account"
SOURCE_IFACE = f"{IFACE_PREFIX}.Source"
LIBRARY_IFACE = f"{IFACE_PREFIX}.Library"
ERROR_PREFIX = f"{IFACE_PREFIX}.Error"

#: Progress properties change at most this often (seconds) on the bus.
PROGRESS_INTERVAL_S = 0.25


@functools.lru_cache(maxsize=4096)
def escape_id(value: str) -> str:
    """A path element from an id: ``[A-Za-z0-9_]`` pass through, every other byte becomes ``_xx``.

    reeld's own account and source ids are made of those characters already, so their paths read
    as the ids do; servers' library ids (hex, numbers) pass through too.
    """
    out = []
    for char in value:
        if (char.isascii() and char.isalnum()) or char == "_":
            out.append(char)
        else:
            out.extend(f"_{byte:02x}" for byte in char.encode("utf-8"))
    return "".join(out) or "_"


def account_path(account_id: str) -> str:
    return f"{ROOT_PATH}/accounts/{escape_id(account_id)}"


def source_path(source_id: str) -> str:
    return f"{ROOT_PATH}/sources/{escape_id(source_id)}"


def library_path(source_id: str, library_id: str) -> str:
    return f"{source_path(source_id)}/libraries/{escape_id(library_id)}"
