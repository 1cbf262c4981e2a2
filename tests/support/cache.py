"""The cache read back as tests compare it with a fake server's catalog."""

from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import select

from reeld.cache import queries
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


async def watched_then_killed_before_forgotten(core: Daemon, source_id: str, remote_id: str) -> None:
    """Mark an item watched and replay the queue as a kill -9 right after each send leaves it: the
    server has taken the change, and the queue still holds it (``finish_pending`` did nothing)."""

    def killed_before_forgetting(conn: Any, action_id: int) -> None:
        """Not done."""

    with pytest.MonkeyPatch.context() as killed:
        killed.setattr(queries, "finish_pending", killed_before_forgetting)
        await core.set_watched(f"{source_id}:{remote_id}", True)
        await core.sync.replay_pending(source_id)  # the first send, then its replay "after a restart"
