"""The application: one window on the bus reeld is on (the session bus, or REELD_BUS_ADDRESS)."""

import os
import sys

from gi.repository import Adw, Gio

from .client import Reeld
from .window import Window

APP_ID = "io.github.reeld.ReeldGtk"


class Application(Adw.Application):
    def __init__(self, address: str | None = None) -> None:
        # Not unique: a second window on another bus (a demo's) is a second app, not a new window.
        super().__init__(application_id=APP_ID, flags=Gio.ApplicationFlags.NON_UNIQUE)
        self.address = address if address is not None else os.environ.get("REELD_BUS_ADDRESS")
        self.window: Window | None = None

    def do_activate(self) -> None:
        if self.window is None:
            self.reeld = Reeld(self.address, lambda reeld: self.window.attach() if self.window else None)
            self.window = Window(self, self.reeld)
        self.window.present()


def main(argv: list[str] | None = None) -> int:
    return Application().run(argv if argv is not None else sys.argv)
