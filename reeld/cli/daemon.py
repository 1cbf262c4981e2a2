"""``reeld``: run the daemon on the session bus (``reeld demo`` for the guided demo)."""

import argparse
import asyncio
import contextlib
import gc
import signal
import sys

import structlog

from reeld import __version__
from reeld.cli import start_failure
from reeld.config import Paths
from reeld.errors import ReeldError
from reeld.logs import configure_logging

log = structlog.get_logger("reeld")

#: glibc's mallopt() parameter for the number of malloc arenas.
M_ARENA_MAX = -8


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Keep glibc from giving each worker thread its own malloc arena.

    A sync decodes, maps and writes pages on several threads; with an arena each, memory freed on
    one thread is not reused by another and the daemon's RSS grows by tens of MB for nothing.
    (What ``MALLOC_ARENA_MAX=2`` does, set from inside: the daemon may be started by D-Bus, systemd
    or a shell.)
    """
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, arenas)


#: How long a thread holding the GIL may keep it from one that asks (CPython: 5 ms). During a sync
#: the page worker and the cache writer run Python for long stretches; a ListItems answer needs
#: the GIL a few times over, and waited up to this long each time. At 1 ms its p99 during a
#: 110k-item Jellyfin sync fell from 62-73 ms to 45-49 ms, with no measurable cost to the sync.
GIL_SWITCH_INTERVAL_S = 0.001

#: The cycle collector's thresholds (CPython: 700, 10, 10). A ListItems page is some 4,000 D-Bus
#: values alive at once, so at 700 the collector ran a few times per page, walked each page's values
#: again and again and pushed them into its older generations: 26 % of the CPU of reading,
#: converting and marshalling pages, and full passes of up to 51 ms that stopped every thread
#: (600 pages of 200 items from a 110k-item cache, in process). At 10,000 it ran once in those 600
#: pages: what a page allocates is freed by reference counting before the count gets there. Cyclic
#: garbage (rare here: httpx's response cycles are broken where they are made) waits a little longer.
GC_THRESHOLDS = (10_000, 10, 10)


async def serve(paths: Paths, bus_address: str | None = None, stop: asyncio.Event | None = None) -> None:
    """Run until SIGTERM/SIGINT or ``stop`` being set; raise ``BusLost`` when the bus goes away."""
    from reeld.bus.service import BusService
    from reeld.daemon import Daemon

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    limit_malloc_arenas()
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    gc.set_threshold(*GC_THRESHOLDS)
    daemon = Daemon(paths)
    await daemon.start()
    service = BusService(daemon, bus_address)
    try:
        await service.start()
        await daemon.run()
        # Everything alive now lives as long as the daemon: keep it out of the collector's scans.
        gc.freeze()
        stopped = loop.create_task(stop.wait())
        disconnected = loop.create_task(service.wait_for_disconnect())
        done, _ = await asyncio.wait({stopped, disconnected}, return_when=asyncio.FIRST_COMPLETED)
        for task in (stopped, disconnected):
            task.cancel()
        log.info("shutting_down")
        if disconnected in done:
            # BusLost: the bus went away by itself. main() logs why and exits non-zero, so systemd's
            # Restart=on-failure brings the daemon back.
            disconnected.result()
    finally:
        await daemon.stop()
        service.stop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="reeld", description="reeld media-library sync daemon")
    parser.add_argument("--version", action="version", version=f"reeld {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="command")
    demo = sub.add_parser("demo", help="run the daemon on sample data and show what a user sees")
    demo.add_argument("--once", action="store_true", help="exit after showing it (for scripts and tests)")
    args = parser.parse_args(argv)

    if args.command == "demo":
        from reeld.cli.demo import run_demo

        return run_demo(once=args.once, verbose=args.verbose)
    configure_logging(verbose=args.verbose)
    paths = Paths.from_env()
    start_failure.clear(paths)
    try:
        asyncio.run(serve(paths))
    except ReeldError as exc:
        log.error("daemon_failed", reason=str(exc))
        start_failure.record(paths, str(exc))  # for reelctl: under bus activation nobody sees the log
        return 1
    except KeyboardInterrupt:
        pass
    start_failure.clear(paths)  # it ran and stopped as asked: nothing to report (another's failure neither)
    return 0


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
