"""What the artwork cache reads of the items cache (on the cache's reader threads)."""

from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy import Connection, case, func, select
from sqlalchemy.orm import aliased

from reeld.cache.schema import TOP_LEVEL_ONLY, items


def image_tags(thumb: str | None, artwork: str | None) -> dict[str, str]:
    """An item's image tags by artwork kind: its ``artwork`` column (the server's tag, or Plex's
    image path, per kind) or, for a row a sync has not rewritten since that column came, its
    poster's from the v1 ``thumb`` URL (Jellyfin's ``tag=``, Plex's path)."""
    if artwork:
        try:
            tags = orjson.loads(artwork)
        except orjson.JSONDecodeError:
            tags = None
        if isinstance(tags, dict):
            return {kind: tag for kind, tag in tags.items() if isinstance(tag, str) and tag}
    if not thumb:
        return {}
    base, _, query = thumb.partition("?")
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        if name == "tag" and value:
            return {"poster": value}
    path = base.split("://", 1)[-1].partition("/")[2]
    return {"poster": f"/{path}"} if path else {}


def item_images(conn: Connection, source_id: str, remote_id: str) -> Any:
    """``(library_id, kind, title, idx, thumb, artwork)`` of an item, or ``None``."""
    columns = ("library_id", "kind", "title", "idx", "thumb", "artwork")
    return conn.execute(
        select(*(items.c[name] for name in columns)).where(
            items.c.source_id == source_id, items.c.remote_id == remote_id
        )
    ).first()


#: ``wanted(remote_id, kind, tag)``: whether prefetch should fetch that image.
Wanted = Callable[[str, str, str], bool]


def prefetch_candidates(
    conn: Connection, source_id: str, kind: str, wanted: Wanted, first: int | None = None
) -> list[tuple[str, str, str]]:
    """``(remote id, library id, tag)`` of the top-level items of a source whose image of ``kind``
    is ``wanted``, library by library in title order (a grid's first screen first); with ``first``,
    of only the first so many of each library (through the title index: cheap while a sync runs).

    The tag is read in SQL (``json_extract``): a large library's JSON is never decoded in Python.
    """
    libraries = conn.execute(
        select(items.c.library_id).where(items.c.source_id == source_id, TOP_LEVEL_ONLY).distinct()
    ).scalars()
    # (a malformed value, a hand-edited cache, is no tag rather than an error for the whole query)
    tag = case((func.json_valid(items.c.artwork), func.json_extract(items.c.artwork, f"$.{kind}")))
    found = []
    for library_id in list(libraries):
        query = (
            select(items.c.remote_id, tag, items.c.thumb, items.c.artwork.is_(None))
            .where(items.c.source_id == source_id, items.c.library_id == library_id, TOP_LEVEL_ONLY)
            .order_by(items.c.sort_title)
        )
        if first is not None:
            query = query.limit(first)
        for remote_id, stored, thumb, unmigrated in conn.execute(query):
            # rows a sync has not rewritten since the artwork column came: the v1 thumb's poster
            value = image_tags(thumb, None).get(kind) if unmigrated else stored
            if isinstance(value, str) and value and wanted(remote_id, kind, value):
                found.append((remote_id, library_id, value))
    return found


def a_file_of(conn: Connection, source_id: str, remote_id: str, kind: str) -> str | None:
    """A local item's file, relative to its folder: its own, or for a show, season or album, that of
    one of its episodes or tracks (the folders they sit in hold the show's, season's and album's
    images; a track may hold its album's cover)."""
    if kind not in ("show", "season", "album"):
        return remote_id
    episode = aliased(items)
    query = select(func.min(episode.c.remote_id)).where(episode.c.source_id == source_id)
    if kind in ("season", "album"):
        query = query.where(episode.c.parent_id == remote_id)
    else:
        season = aliased(items)
        query = query.join(
            season, (season.c.source_id == episode.c.source_id) & (season.c.remote_id == episode.c.parent_id)
        ).where(season.c.parent_id == remote_id)
    found: str | None = conn.execute(query).scalar()
    return found


def top_level_files(conn: Connection, source_id: str) -> list[tuple[str, str, str, str]]:
    """``(remote id, library id, kind, file)`` of a local source's films, shows and albums (a show
    by one of its episodes, an album by its first track)."""
    films = conn.execute(
        select(items.c.remote_id, items.c.library_id, items.c.kind)
        .where(items.c.source_id == source_id, TOP_LEVEL_ONLY, items.c.kind.not_in(("show", "album")))
        .order_by(items.c.sort_title)
    ).all()
    track = aliased(items)
    albums = conn.execute(
        select(track.c.parent_id, track.c.library_id, func.min(track.c.remote_id))
        .where(track.c.source_id == source_id, track.c.kind == "track")
        .group_by(track.c.parent_id, track.c.library_id)
    ).all()
    episode, season = aliased(items), aliased(items)
    shows = conn.execute(
        select(season.c.parent_id, season.c.library_id, func.min(episode.c.remote_id))
        .join(
            season, (season.c.source_id == episode.c.source_id) & (season.c.remote_id == episode.c.parent_id)
        )
        .where(episode.c.source_id == source_id, season.c.kind == "season")
        .group_by(season.c.parent_id, season.c.library_id)
    ).all()
    return (
        [(remote_id, library_id, kind, remote_id) for remote_id, library_id, kind in films]
        + [(show, library_id, "show", file) for show, library_id, file in shows if show]
        + [(album, library_id, "album", file) for album, library_id, file in albums if album]
    )
