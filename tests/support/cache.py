"""The cache read back as tests compare it with a fake server's catalog."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from reeld.cache.browse import BROWSE_COLUMNS
from reeld.cache.schema import items, watch_state
from reeld.daemon import Daemon

#: An item as the tests compare it: (kind, parent id, watched, position in ms).
CachedRow = tuple[str, str | None, bool, int]


async def cached(core: Daemon, source_id: str) -> dict[str, CachedRow]:
    """Every cached item of a source by remote id."""

    def read(conn: Any) -> dict[str, CachedRow]:
        rows = conn.execute(
            select(
                items.c.remote_id,
                items.c.kind,
                items.c.parent_id,
                watch_state.c.watched,
                watch_state.c.position_ms,
            )
            .select_from(
                items.outerjoin(
                    watch_state,
                    (watch_state.c.source_id == items.c.source_id)
                    & (watch_state.c.remote_id == items.c.remote_id),
                )
            )
            .where(items.c.source_id == source_id)
        )
        return {r.remote_id: (r.kind, r.parent_id, bool(r.watched), r.position_ms or 0) for r in rows}

    return await core.db.read(read)


def remote_ids(rows: Sequence[Sequence[Any]]) -> list[str]:
    """The server's ids of the rows of an answer (a ``present`` for the daemon's reads)."""
    return [row[BROWSE_COLUMNS.index("remote_id")] for row in rows]
