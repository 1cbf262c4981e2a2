"""What the backends share to read playback info from a server's JSON, which may hold anything:
a value of another type than the API says is unknown, not an error."""

import math
from typing import Any


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_count(value: Any) -> int | None:
    """A non-negative whole number (a fractional one is cut), else unknown."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 2**63:
        return None
    return int(value)


def as_text(value: Any) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return str(value)  # Plex sends titles that look like numbers as numbers
    return value if isinstance(value, str) and value else None
