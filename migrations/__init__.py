"""Alembic migrations of the cache (installed as the ``reeld.migrations`` package)."""
