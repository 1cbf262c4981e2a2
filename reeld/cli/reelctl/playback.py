"""``reelctl info ITEM``: an item's tracks, chapters and markers; ``reelctl play ITEM``: the URL
to play it with a choice of tracks and bitrate (direct, or the server's HLS transcode)."""

from typing import Any

from dbus_fast import Variant

from reeld.cli.output import Column, duration, item_title, print_table
from reeld.cli.reelctl.app import Context


async def info(ctx: Context) -> int:
    item = await ctx.client.manager("GetItem", "s", ctx.args.item)
    playback: dict[str, Any] = await ctx.client.manager("GetPlaybackInfo", "s", ctx.args.item)
    if ctx.out.json:
        ctx.out.dump({"id": ctx.args.item, **playback})
        return 0
    ctx.out.line(f"{item_title(item)}: {file_summary(playback)}")
    ctx.out.line()
    print_table(ctx.out, TRACK_COLUMNS, playback.get("streams", []), "No tracks known.")
    chapters = playback.get("chapters", [])
    if chapters:
        ctx.out.line()
        ctx.out.line("Chapters:")
        for chapter in chapters:
            ctx.out.line(f"  {duration(chapter['start_ms']):>8}  {chapter.get('title', '')}")
    markers = playback.get("markers", [])
    if markers:
        ctx.out.line()
        ctx.out.line("Markers:")
        for marker in markers:
            span = f"{duration(marker['start_ms'])} - {duration(marker['end_ms'])}"
            ctx.out.line(f"  {span:>17}  {marker['type']}")
    return 0


def file_summary(playback: dict[str, Any]) -> str:
    """``mkv, 9.0 Mbit/s, 1.2 GB, 1:45:00``: what is known of the file."""
    parts = [str(playback["container"])] if playback.get("container") else []
    if playback.get("bitrate"):
        parts.append(f"{playback['bitrate'] / 1e6:.1f} Mbit/s")
    if playback.get("size"):
        parts.append(
            f"{playback['size'] / 1e9:.1f} GB"
            if playback["size"] >= 1e8
            else f"{playback['size'] / 1e6:.1f} MB"
        )
    if playback.get("duration_ms"):
        parts.append(duration(playback["duration_ms"]))
    return ", ".join(parts) or "nothing known of its file"


def _flags(stream: dict[str, Any]) -> str:
    return " ".join(flag for flag in ("default", "forced", "external") if stream.get(flag))


def _details(stream: dict[str, Any]) -> str:
    if stream.get("width") and stream.get("height"):
        return f"{stream['width']}x{stream['height']}"
    if stream.get("channels"):
        return f"{stream['channels']} ch"
    return ""


TRACK_COLUMNS = [
    Column("INDEX", lambda s: str(s.get("index", "")), align_right=True),
    Column("TYPE", lambda s: str(s.get("type", ""))),
    Column("CODEC", lambda s: str(s.get("codec", ""))),
    Column("LANG", lambda s: str(s.get("language", ""))),
    Column("DETAILS", _details),
    Column("FLAGS", _flags),
    Column("TITLE", lambda s: str(s.get("title", "")), flex=True, min_width=10),
]


async def play(ctx: Context) -> int:
    options: dict[str, Variant] = {}
    if ctx.args.audio is not None:
        options["audio_index"] = Variant("u", ctx.args.audio)
    if ctx.args.subtitle is not None:
        options["subtitle_index"] = Variant("u", ctx.args.subtitle)
    if ctx.args.max_kbps is not None:
        options["max_bitrate"] = Variant("u", ctx.args.max_kbps * 1000)
    if ctx.args.start:
        options["start_ms"] = Variant("t", ctx.args.start)
    url = await ctx.client.manager("GetStreamUrlWith", "sa{sv}", ctx.args.item, options)
    if ctx.out.json:
        ctx.out.dump({"id": ctx.args.item, "url": url})
    else:
        ctx.out.line(url)
    return 0
