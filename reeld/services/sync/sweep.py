"""Removing from the cache what a complete listing no longer names, unless the listing looks wrong."""

from collections.abc import Mapping

import structlog

from reeld.backends.base import KnownItem, pair_moves
from reeld.cache import queries
from reeld.cache.db import Database
from reeld.models.media import Library

log = structlog.get_logger(__name__)

#: A full listing that would delete more than this share of a library is held back once.
SWEEP_SUSPICIOUS_SHARE = 0.5
SWEEP_MIN_ITEMS = 20


class Sweeper:
    def __init__(self, db: Database) -> None:
        self.db = db
        #: Per (source, library), how many items the sweep held back would have removed.
        self._held: dict[tuple[str, str], int] = {}

    async def sweep(
        self,
        source_id: str,
        library: Library,
        seen: set[str],
        listed_total: int | None,
        known: Mapping[str, KnownItem] | None = None,
        arrived: Mapping[str, str] | None = None,
    ) -> None:
        """Delete what a complete listing no longer names, unless the listing looks wrong. An item
        gone whose etag (in ``known``) is that of one item ``arrived`` moved there: it hands that
        item its watch state first."""
        cached = await self.db.read(queries.cached_remote_ids, source_id, library.remote_id)
        missing = cached - seen
        if not missing:
            self._held.pop((source_id, library.remote_id), None)
            return
        if listed_total is not None and len(seen) < listed_total:
            log.warning(
                "sweep_skipped_short_listing",
                source=source_id,
                library=library.remote_id,
                seen=len(seen),
                total=listed_total,
            )
            return
        suspicious = len(cached) >= SWEEP_MIN_ITEMS and len(missing) > SWEEP_SUSPICIOUS_SHARE * len(cached)
        key = (source_id, library.remote_id)
        if suspicious and self._held.get(key) != len(missing):
            # An empty or short listing (a server mid-rescan, an unmounted disk) must not wipe a library:
            # hold it until a second complete listing says the same.
            self._held[key] = len(missing)
            log.warning(
                "sweep_held",
                source=source_id,
                library=library.remote_id,
                missing=len(missing),
                cached=len(cached),
            )
            return
        self._held.pop(key, None)
        moved: dict[str, str] = {}
        if known and arrived:
            gone = {rid: etag for rid in missing if rid in known and (etag := known[rid].etag)}
            moved = pair_moves(gone, arrived)
        if moved:
            await self.db.write(queries.copy_watch_states, source_id, moved)
            log.info("moved", source=source_id, library=library.remote_id, items=len(moved))
        removed = await self.db.write(queries.delete_items, source_id, missing)
        log.info("swept", source=source_id, library=library.remote_id, removed=removed)
