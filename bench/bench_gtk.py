"""reeld-gtk's targets, measured under Xvfb against the real daemon and a fake Jellyfin of 20,000 movies.

Prints, for one run on this machine:
- launch to the first poster on screen, with a warm cache (posters on disk, the daemon running):
  each of LAUNCHES launches, from starting the process to a poster texture in the window;
- scrolling the 20,000-movie grid from top to bottom in STEPS jumps, one a frame, twice (pages
  fetched as they come into view, then held): how late a 1 ms
  GLib timeout ran (the main loop's longest stall, whatever caused it: page replies, binding and
  drawing new cards, poster decoding handed back), and the UI thread's time to handle each page
  that Query answered (100 items).

Run: ``.venv/bin/python bench/bench_gtk.py`` (needs Xvfb, python3-gi, gir1.2-gtk-4.0, gir1.2-adw-1).
Only temp dirs and private buses are touched.
"""

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reeld.fakes.jellyfin import FakeJellyfin, FakeJellyfinServer
from tests.gui.harness import App, start_app, start_xvfb
from tests.support.bus import call, get_property, start_bus
from tests.support.keyring import start_keyring_daemon
from tests.support.procs import stop_process
from tests.support.reeld import BUS_NAME, ROOT_PATH, start_reeld

MOVIES = 20_000
LAUNCHES = 5
STEPS = 200
USER, PASSWORD = "bench", "bench-pw"
MANAGER = "io.github.reeld.Reeld1.Manager"
SOURCE = "io.github.reeld.Reeld1.Source"


def wait_synced(address: str, source: str, timeout: float = 600) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            done = get_property(address, BUS_NAME, source, SOURCE, "LastSync") and not get_property(
                address, BUS_NAME, source, SOURCE, "Syncing"
            )
        except Exception:  # the source's object is not there yet
            done = False
        if done:
            return time.monotonic() - started
        time.sleep(0.2)
    raise TimeoutError(f"no first sync in {timeout:g} s")


def quit_app(app: App) -> None:
    assert app.proc.stdin is not None
    app.proc.stdin.close()  # the driver quits the app at end of input
    try:
        app.proc.wait(timeout=10)
    except Exception:
        stop_process(app.proc)


def main() -> None:
    bus = start_bus("session")
    keyring = start_keyring_daemon(bus)
    xvfb, display = start_xvfb()
    fake = FakeJellyfin.generate(
        movies=MOVIES, series=20, seasons=2, episodes=6, user=USER, password=PASSWORD
    )
    try:
        with FakeJellyfinServer(fake).run_in_thread() as url:
            daemon = start_reeld(bus)
            (account,) = call(bus.address, BUS_NAME, ROOT_PATH, MANAGER, "AddJellyfinAccount", "sss",
                              (url, USER, PASSWORD), timeout=120)  # fmt: skip
            source = account.replace("/accounts/", "/sources/")
            print(f"first sync of {MOVIES:,} movies: {wait_synced(bus.address, source):.1f} s", flush=True)

            # Warm: the home rows' and the grid's first posters on disk, as after a first use.
            app = start_app(bus, display)
            app.ask("open_library", title="Movies", timeout=60)
            app.ask("grid", min=20, timeout=120)
            app.ask("back")
            quit_app(app)

            launches = []
            for number in range(LAUNCHES):
                started = time.monotonic()
                app = start_app(bus, display, number + 1)
                shown = app.ask("first_poster", every=5, timeout=30)
                launches.append((shown["now"] - started) * 1000)
                quit_app(app)
            print(f"launch to first poster (warm cache, {LAUNCHES} launches): "
                  f"{', '.join(f'{ms:.0f}' for ms in launches)} ms; median {statistics.median(launches):.0f} ms")  # fmt: skip

            app = start_app(bus, display, LAUNCHES + 1)
            app.ask("open_library", title="Movies", timeout=60)
            app.ask("grid", min=1, timeout=60)
            # The same scroll twice: pages fetched as they come into view, then all of them held
            # (the difference is what fetching costs; the rest is Gtk binding and drawing cards).
            for label in ("pages fetched as they come", "pages already held"):
                scrolled = app.ask("scroll", steps=STEPS, every=20, timeout=300)
                if os.environ.get("REELD_GTK_PROFILE"):
                    print(app.log.read_text()[-12000:])
                pages = scrolled["page_ms"] or [0.0]
                print(f"scrolling {scrolled['total']:,} items in {STEPS} jumps, {label}: "
                      f"{len(scrolled['page_ms'])} page answers; main loop stall max {scrolled['gap_max_ms']:.1f} ms, "
                      f"p99 {scrolled['gap_p99_ms']:.1f} ms, p50 {scrolled['gap_p50_ms']:.1f} ms; a page's handling "
                      f"on the UI thread p50 {statistics.median(pages):.1f} ms, max {pages[-1]:.1f} ms", flush=True)  # fmt: skip
            quit_app(app)
            daemon.kill()
    finally:
        stop_process(xvfb)
        keyring.stop()
        bus.stop()


if __name__ == "__main__":
    main()
