"""Reads that frontends make: pages of a library, an item, its children, search, shelves.

Every function returns ``BrowseRow`` s: an item joined with its watch state, ready for the
bus layer to convert. They never touch the network.
"""

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, Select, and_, desc, func, select, text

from reeld.cache.schema import items, watch_state
from reeld.models.media import ItemKind

BrowseRow = Row[Any]

# Each sort follows one index (ix_items_by_*) exactly, ties broken by rowid, so any page is cheap.
SORTS: dict[str, tuple[Any, ...]] = {
    "title": (items.c.sort_title, items.c.id),
    "added": (desc(items.c.added_at), desc(items.c.id)),
    "year": (desc(items.c.year), desc(items.c.id)),
    "rating": (desc(items.c.rating), desc(items.c.id)),
}

PLAYABLE = [str(ItemKind.MOVIE), str(ItemKind.EPISODE), str(ItemKind.VIDEO), str(ItemKind.TRACK)]


def _with_watch_state() -> Select[Any]:
    return select(
        items,
        watch_state.c.watched,
        watch_state.c.position_ms,
        watch_state.c.view_count,
        watch_state.c.last_viewed_at,
    ).select_from(
        items.outerjoin(
            watch_state,
            and_(watch_state.c.source_id == items.c.source_id, watch_state.c.remote_id == items.c.remote_id),
        )
    )


def list_library(
    conn: Connection, source_id: str, library_id: str, offset: int, limit: int, sort: str
) -> Sequence[BrowseRow]:
    # Page through the index alone first, then join watch state for just those rows: an OFFSET
    # deep into a large library would otherwise do the join for every skipped row.
    page = (
        select(items.c.id)
        .where(items.c.source_id == source_id, items.c.library_id == library_id, items.c.top_level == 1)
        .order_by(*SORTS[sort])
        .offset(offset)
        .limit(limit)
    )
    stmt = _with_watch_state().where(items.c.id.in_(page)).order_by(*SORTS[sort])
    return conn.execute(stmt).all()


def get_item(conn: Connection, source_id: str, remote_id: str) -> BrowseRow | None:
    stmt = _with_watch_state().where(items.c.source_id == source_id, items.c.remote_id == remote_id)
    return conn.execute(stmt).first()


def get_children(conn: Connection, source_id: str, remote_id: str) -> Sequence[BrowseRow]:
    stmt = (
        _with_watch_state()
        .where(items.c.source_id == source_id, items.c.parent_id == remote_id)
        .order_by(items.c.idx, items.c.sort_title, items.c.id)
    )
    return conn.execute(stmt).all()


_TOKEN = re.compile(r"\w+", re.UNICODE)


def fts_query(user_text: str) -> str | None:
    """Turn what a person typed into an FTS5 query: every word must match, the last as a prefix.

    Words are quoted, so FTS syntax in the input (``AND``, ``*``, quotes) is taken literally.
    """
    words = _TOKEN.findall(user_text)
    if not words:
        return None
    quoted = [f'"{word}"' for word in words]
    quoted[-1] += "*"
    return " ".join(quoted)


def search(conn: Connection, user_text: str, limit: int) -> Sequence[BrowseRow]:
    query = fts_query(user_text)
    if query is None:
        return []
    matches = select(text("rowid")).select_from(text("items_fts")).where(text("items_fts MATCH :q"))
    ranked = (
        _with_watch_state()
        .where(items.c.id.in_(matches))
        # Shows and movies before their episodes, then by title.
        .order_by((items.c.kind == str(ItemKind.EPISODE)), items.c.sort_title, items.c.id)
        .limit(limit)
    )
    return conn.execute(ranked, {"q": query}).all()


def continue_watching(conn: Connection, limit: int) -> Sequence[BrowseRow]:
    stmt = (
        _with_watch_state()
        .where(watch_state.c.position_ms > 0, watch_state.c.watched.is_not(True), items.c.kind.in_(PLAYABLE))
        .order_by(desc(func.coalesce(watch_state.c.last_viewed_at, 0)), items.c.id)
        .limit(limit)
    )
    return conn.execute(stmt).all()


def recently_added(conn: Connection, limit: int) -> Sequence[BrowseRow]:
    stmt = (
        _with_watch_state()
        .where(items.c.kind.in_([str(ItemKind.MOVIE), str(ItemKind.EPISODE), str(ItemKind.ALBUM)]))
        .where(items.c.added_at.is_not(None))
        .order_by(desc(items.c.added_at), items.c.id)
        .limit(limit)
    )
    return conn.execute(stmt).all()
