"""How reelctl shows things: aligned tables for people, plain JSON for scripts.

Nothing here talks to D-Bus; values arrive already unwrapped (see ``unwrap``).
"""

import json
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from dbus_fast import Variant

Row = dict[str, Any]


def unwrap(value: Any) -> Any:
    """A D-Bus value as plain Python: Variants opened, dicts and lists converted all the way down."""
    inner = value.value if isinstance(value, Variant) else value
    if isinstance(inner, dict):
        return {key: unwrap(item) for key, item in inner.items()}
    if isinstance(inner, list | tuple):
        return [unwrap(item) for item in inner]
    return inner


@dataclass
class Output:
    """Where and how a command prints. ``json`` selects machine output."""

    json: bool = False
    stream: TextIO = field(default_factory=lambda: sys.stdout)

    @property
    def is_tty(self) -> bool:
        isatty = getattr(self.stream, "isatty", None)
        return bool(isatty and isatty())

    @property
    def width(self) -> int | None:
        """Columns to fit a table into; ``None`` (no limit) when the output is not a terminal."""
        return shutil.get_terminal_size((100, 24)).columns if self.is_tty else None

    @property
    def check(self) -> str:
        """The watched marker, plain ASCII where the terminal cannot show a check mark."""
        encoding = (getattr(self.stream, "encoding", None) or "ascii").lower()
        return "✓" if encoding.startswith("utf") else "x"

    def line(self, text: str = "") -> None:
        print(text, file=self.stream, flush=True)

    def note(self, text: str) -> None:
        """A remark beside the answer: on the output for a person; on stderr when the output is
        JSON for a script, which must stay parseable."""
        if self.json:
            print(f"reelctl: {text}", file=sys.stderr, flush=True)
        else:
            self.line(text)

    def dump(self, data: Any) -> None:
        """Print ``data`` as JSON (already unwrapped)."""
        self.line(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False))


@dataclass(frozen=True, slots=True)
class Column:
    """A table column. ``flex`` columns give up width first when the table is too wide."""

    header: str
    value: Callable[[Row], str]
    flex: bool = False
    align_right: bool = False
    #: A flexible column is never cut below this (a title must stay recognisable).
    min_width: int = 12


def truncate(text: str, width: int) -> str:
    if len(text) <= width:
        return text
    if width <= 1:
        return text[:width]
    return text[: width - 1] + "…"


_CONTROL = {code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F)} | {0x0A: "\\n", 0x09: "\\t", 0x0D: "\\r"}


def one_line(text: str) -> str:
    """``text`` for one cell of a table: a newline or other control character in a name (a file
    can be called anything) is shown as an escape, not obeyed."""
    return text if text.isprintable() else text.translate(_CONTROL)


def render_table(columns: Sequence[Column], rows: Iterable[Row], width: int | None = None) -> list[str]:
    """Lines of an aligned table with a header; flexible columns are cut to fit ``width``."""
    cells = [[one_line(column.value(row)) for column in columns] for row in rows]
    widths = [
        max([len(column.header)] + [len(line[i]) for line in cells]) for i, column in enumerate(columns)
    ]
    if width is not None:
        _shrink(widths, columns, width)
    gap = "  "

    def fmt(values: Sequence[str]) -> str:
        parts = []
        for value, size, column in zip(values, widths, columns, strict=True):
            value = truncate(value, size)
            parts.append(value.rjust(size) if column.align_right else value.ljust(size))
        return gap.join(parts).rstrip()

    return [fmt([column.header for column in columns])] + [fmt(line) for line in cells]


def _shrink(widths: list[int], columns: Sequence[Column], width: int) -> None:
    flexible = [i for i, column in enumerate(columns) if column.flex]
    excess = sum(widths) + 2 * (len(widths) - 1) - width
    for i in flexible:
        if excess <= 0:
            break
        floor = max(len(columns[i].header), columns[i].min_width)
        cut = min(excess, max(0, widths[i] - floor))
        widths[i] -= cut
        excess -= cut


def print_table(out: Output, columns: Sequence[Column], rows: Sequence[Row], empty: str) -> None:
    if not rows:
        out.line(empty)
        return
    for line in render_table(columns, rows, out.width):
        out.line(line)


# -- values ------------------------------------------------------------------------------------------


def ago(timestamp: int, now: float | None = None) -> str:
    """``3 min ago`` style age of a Unix time; ``never`` for 0."""
    if not timestamp:
        return "never"
    seconds = max(0, int((now if now is not None else time.time()) - timestamp))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return "just now" if seconds < 5 else f"{seconds} s ago"


def duration(ms: int) -> str:
    minutes, seconds = divmod(int(ms) // 1000, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def progress(item: Row) -> str:
    """How far someone got: a percentage when the length is known, else the position."""
    position = int(item.get("position_ms") or 0)
    if not position:
        return ""
    length = int(item.get("duration_ms") or 0)
    if length:
        return f"{min(100, round(100 * position / length))}%"
    return duration(position)


def episode_code(item: Row) -> str:
    season, episode = item.get("parent_index"), item.get("index")
    if season is not None and episode is not None:
        return f"S{season:02d}E{episode:02d}"
    if episode is not None:
        return f"E{episode:02d}"
    return ""


def item_title(item: Row, with_show: bool = True) -> str:
    """An item's title as a person reads it in a list: episodes carry their show and number."""
    title = str(item.get("title") or "")
    kind = item.get("kind")
    if kind == "episode":
        parts = [str(item["show_title"])] if with_show and item.get("show_title") else []
        code = episode_code(item)
        if code:
            parts.append(code)
        if title and title not in parts:
            parts.append(title)
        return " ".join(parts) or title
    show = str(item.get("show_title") or "")
    if kind == "season" and with_show and show and show not in title:
        return f"{show} {title}"
    return title


def item_columns(out: Output, with_show: bool = True) -> list[Column]:
    check = out.check
    # The id comes last and is never cut: it is what ``reelctl show`` needs, and may wrap.
    return [
        Column("KIND", lambda item: str(item.get("kind", ""))),
        Column("TITLE", lambda item: item_title(item, with_show), flex=True, min_width=24),
        Column("YEAR", lambda item: str(item.get("year", "")), align_right=True),
        Column("WATCHED", lambda item: check if item.get("watched") else ""),
        Column("PROGRESS", progress, align_right=True),
        Column("ID", lambda item: str(item.get("id", ""))),
    ]


def print_items(out: Output, items: Sequence[Row], empty: str = "No items.", with_show: bool = True) -> None:
    if out.json:
        out.dump(list(items))
    else:
        print_table(out, item_columns(out, with_show), items, empty)


def progress_bar(fraction: float, width: int = 24) -> str:
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return "[" + "#" * filled + "-" * (width - filled) + "]"
