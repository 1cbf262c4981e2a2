"""The parts of syncing, one job each; ``reeld.services.sync_manager.SyncManager`` puts them together.

- ``schedule``: the periodic incremental and full syncs of each source (APScheduler).
- ``requests``: syncs asked for (by a client, the schedule, a live change) and what runs after
  the one running now; a client's full sync is remembered until it has run, across a crash.
- ``runner``: one sync of one source, library by library, page by page into the cache.
- ``sweep``: removing what a complete listing no longer names, unless the listing looks wrong.
- ``live``: each connected source's live-updates connection, and applying what it pushes.
- ``pending``: watch changes made here, kept in the cache and sent to their server in order.
- ``pages``: writing listing pages into the cache, and fetching them ahead.
"""
