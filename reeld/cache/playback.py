"""Playback info in the cache: one JSON row per item, with the item's etag when it was fetched."""

from collections.abc import Sequence
from dataclasses import dataclass

import orjson
import structlog
from sqlalchemy import Connection, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from reeld.cache.schema import items, playback_info
from reeld.models.playback import PlaybackInfo

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class CachedPlayback:
    info: PlaybackInfo
    #: Whether it was fetched for the item as the cache holds it now (same etag).
    current: bool


def load_playback(conn: Connection, source_id: str, remote_id: str) -> CachedPlayback | None:
    row = conn.execute(
        select(playback_info.c.info, playback_info.c.etag, items.c.etag.label("item_etag"))
        .join(
            items,
            (items.c.source_id == playback_info.c.source_id)
            & (items.c.remote_id == playback_info.c.remote_id),
        )
        .where(playback_info.c.source_id == source_id, playback_info.c.remote_id == remote_id)
    ).first()
    if row is None:
        return None
    try:
        info = PlaybackInfo.from_json(orjson.loads(row.info))
    except ValueError:  # orjson's errors are ValueErrors too: a row no version of reeld reads
        log.warning("playback_info_unreadable", source=source_id)
        return None
    return CachedPlayback(info, row.etag == row.item_etag)


def store_playback(
    conn: Connection, source_id: str, entries: Sequence[tuple[str, PlaybackInfo]], fetched_at: int
) -> int:
    """Keep ``(remote_id, info)`` pairs of items the cache holds, each with its item's current etag;
    entries for items no longer cached are dropped. Returns how many were stored."""
    if not entries:
        return 0
    by_id = dict(entries)
    etags = dict(
        conn.execute(
            select(items.c.remote_id, items.c.etag).where(
                items.c.source_id == source_id, items.c.remote_id.in_(list(by_id))
            )
        ).all()
    )
    rows = [
        {
            "source_id": source_id,
            "remote_id": remote_id,
            "etag": etags[remote_id],
            "fetched_at": fetched_at,
            "info": orjson.dumps(info.to_json()).decode(),
        }
        for remote_id, info in by_id.items()
        if remote_id in etags
    ]
    if rows:
        stmt = sqlite_insert(playback_info).values(rows)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["source_id", "remote_id"],
                set_={name: stmt.excluded[name] for name in ("etag", "fetched_at", "info")},
            )
        )
    return len(rows)
