"""The cache database: one file, migrated at startup, written by one thread, read by a few.

SQLite serialises writers anyway; giving them one thread of their own keeps the event loop
free and makes every write a whole transaction that cancellation cannot cut in half.
Readers use other threads, and WAL lets them read while a sync writes.
"""

import asyncio
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import structlog
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError

from reeld.cache.changes import LibraryChanges, install_triggers, take_changes
from reeld.cache.schema import HEAD_REVISION
from reeld.config import disk_full, free_space, storage_problem
from reeld.errors import CacheError
from reeld.workers import background_thread, name_os_thread

log = structlog.get_logger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

BUSY_TIMEOUT_MS = 5000
WRITER_CACHE_KIB = 16 * 1024
#: The writer copies the WAL back into the database every this many pages (SQLite: 1000). A sync
#: rewrites the same index pages commit after commit; copying them back less often copies each once
#: where it was copied several times: a 100k-item first sync wrote 0.42 GB instead of 0.58 GB.
WRITER_CHECKPOINT_PAGES = 10_000
#: After a checkpoint the WAL file is cut back to this size, so it does not stay at its peak.
WAL_SIZE_LIMIT = 8 * 1024 * 1024


def _set_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    # Statement journals (a multi-row upsert writes one) in memory, not temp files: a 100k-item first
    # sync wrote 1.34 GB through the kernel with them on disk, 0.58 GB without, for a 91 MB cache.
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()


def create_cache_engine(path: Path, cache_kib: int = 0, pool_size: int = 4, writer: bool = False) -> Engine:
    """An engine on ``path`` with the pragmas every connection needs. Creates the file 0600.

    ``cache_kib``: a page cache of that size instead of SQLite's 2 MB default. ``writer``: the
    connection that commits, hence checkpoints (readers never do).
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)
    engine = create_engine(f"sqlite:///{path}", pool_size=pool_size, max_overflow=pool_size)
    event.listen(engine, "connect", _set_pragmas)
    if cache_kib:
        event.listen(engine, "connect", lambda conn, _record: conn.execute(f"PRAGMA cache_size=-{cache_kib}"))
    if writer:
        event.listen(engine, "connect", _set_writer_pragmas)
    return engine


def _set_writer_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute(f"PRAGMA wal_autocheckpoint={WRITER_CHECKPOINT_PAGES}")
    dbapi_connection.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")


def current_revision(conn: Connection) -> str | None:
    try:
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError:
        return None


def migrate(engine: Engine) -> None:
    """Bring the schema to ``HEAD_REVISION`` with alembic (imported only when needed)."""
    with engine.connect() as conn:
        if current_revision(conn) == HEAD_REVISION:
            return
    from alembic import command

    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
    log.info("cache_migrated", revision=HEAD_REVISION)


def migrations_dir() -> Path:
    """``migrations/`` beside the package in a checkout, else the installed ``reeld.migrations``."""
    checkout = Path(__file__).resolve().parents[2] / "migrations"
    if (checkout / "env.py").is_file():
        return checkout
    from importlib.resources import files

    return Path(str(files("reeld.migrations")))


def alembic_config(conn: Connection | None = None) -> Any:
    """Alembic's config for the migrations shipped with the package."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    if conn is not None:
        config.attributes["connection"] = conn
    return config


#: SQLite's primary result codes (``sqlite3`` gives their names), in words a person can act on.
_SQLITE_PROBLEMS = {
    "SQLITE_READONLY": "it cannot be written (a read-only file or file system)",
    "SQLITE_PERM": "permission denied",
    "SQLITE_CANTOPEN": "the file cannot be opened",
    "SQLITE_CORRUPT": "the file is damaged",
    "SQLITE_NOTADB": "the file is not a reeld cache (not an SQLite database)",
    "SQLITE_BUSY": "another program keeps it locked",
    "SQLITE_LOCKED": "another program keeps it locked",
    "SQLITE_IOERR": "the disk failed to read or write (I/O error)",
}


def cache_problem(exc: BaseException, path: Path) -> str:
    """Why the cache at ``path`` failed, in words: "the disk is full (12 kB free on the file system
    of …)" rather than a class name. SQLite says "I/O error" for some writes a full disk refused."""
    cause = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's exception
    name = str(getattr(cause, "sqlite_errorname", ""))
    primary = "_".join(name.split("_")[:2])  # SQLITE_IOERR_WRITE -> SQLITE_IOERR
    if isinstance(cause, OSError):
        return storage_problem(cause, path.parent) or str(cause)
    if primary == "SQLITE_FULL" or (primary == "SQLITE_IOERR" and disk_full(path.parent)):
        return f"the disk is full ({free_space(path.parent)})"
    return sqlite_problem(cause)


def sqlite_problem(exc: BaseException) -> str:
    """What SQLite's error means, in words (for a failure where the cache's place is not known)."""
    name = str(getattr(exc, "sqlite_errorname", ""))
    return _SQLITE_PROBLEMS.get("_".join(name.split("_")[:2])) or f"SQLite said: {exc}"


class Database:
    """The cache: ``await db.write(fn, ...)`` and ``await db.read(fn, ...)`` run ``fn(conn, ...)``.

    A write runs in one transaction on the writer thread; a read on a reader thread.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.engine = create_cache_engine(path)
        # The writer alone gets a large page cache: a sync's index pages stay in memory between its
        # transactions, and readers, which touch few pages, keep SQLite's small default.
        self.writer_engine = create_cache_engine(path, cache_kib=WRITER_CACHE_KIB, pool_size=1, writer=True)
        # Low priority: while a sync writes, the readers answering clients get the CPU first.
        self._writer = background_thread("reeld-db-write")
        #: Bumped by every committed write that changed an item or a watch state (as the change
        #: triggers see them; every write while they are not installed): what readers derived from
        #: items (paging orders, container counts, ranked searches, facets) is stale once it moves.
        #: A write that changed nothing, as most pages of a resync of an unchanged library, leaves
        #: it: under 20 clients those caches were lost at every page and the readers' CPU per call
        #: doubled during syncs.
        self.generation = 0
        #: When the generation last moved. Counted from startup: background work that waits for a
        #: quiet cache leaves the first reads alone.
        self.last_change = time.monotonic()
        self._readers = ThreadPoolExecutor(
            max_workers=2, thread_name_prefix="reeld-db-read", initializer=name_os_thread
        )
        #: Called on the event loop with what each committed write changed, per library.
        self.on_changes: Callable[[list[LibraryChanges]], None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def open(self) -> None:
        """Migrate the schema (on the writer thread)."""
        loop = self._loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._writer, migrate, self.writer_engine)
        except (SQLAlchemyError, OSError) as exc:
            raise CacheError(
                f"Cannot open the cache at {self.path}: {cache_problem(exc, self.path)}"
            ) from exc

    async def write(
        self, fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer, partial(self._in_transaction, fn, *args, **kwargs))

    async def read(self, fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, partial(self._in_connection, fn, *args, **kwargs))

    def read_now(self, fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """A read on the calling thread: for startup, before the event loop serves anyone."""
        return self._in_connection(fn, *args, **kwargs)

    def _in_transaction(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            with self.writer_engine.begin() as conn:
                tracked = self._track_changes(conn)
                result = fn(conn, *args, **kwargs)
                changes = take_changes(conn) if tracked else []
            if changes or not tracked:
                self.generation += 1
                self.last_change = time.monotonic()
            if changes and self._loop is not None and self.on_changes is not None:
                self._loop.call_soon_threadsafe(self.on_changes, changes)
            return result
        except SQLAlchemyError as exc:
            problem = cache_problem(exc, self.path)
            log.error("cache_write_failed", operation=fn.__name__, reason=problem)
            raise CacheError(f"The cache at {self.path} could not be written: {problem}") from exc

    def _track_changes(self, conn: Connection) -> bool:
        """Whether this write's changes are recorded: once the schema is migrated (``open``), the
        writer's connection gets its triggers the first time it is used."""
        if self._loop is None or self.on_changes is None:
            return False
        if not conn.info.get("tracks_changes"):
            install_triggers(conn)
            conn.info["tracks_changes"] = True
        return True

    def _in_connection(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            with self.engine.connect() as conn:
                return fn(conn, *args, **kwargs)
        except SQLAlchemyError as exc:
            problem = cache_problem(exc, self.path)
            log.error("cache_read_failed", operation=fn.__name__, reason=problem)
            raise CacheError(f"The cache at {self.path} could not be read: {problem}") from exc

    async def close(self) -> None:
        """Let the running write finish (never half a page), then close."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._shutdown)

    def _shutdown(self) -> None:
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        self.engine.dispose()
        self.writer_engine.dispose()
