"""The app's own few settings (the video player), in $XDG_CONFIG_HOME/reeld-gtk/settings.ini.

reeld keeps everything else; a GSettings schema would need installing, a key file does not."""

import contextlib
import os

from gi.repository import GLib

GROUP = "player"


class Settings:
    def __init__(self) -> None:
        self.path = os.path.join(GLib.get_user_config_dir(), "reeld-gtk", "settings.ini")
        self.keys = GLib.KeyFile()
        with contextlib.suppress(GLib.Error):  # no settings yet
            self.keys.load_from_file(self.path, GLib.KeyFileFlags.NONE)

    @property
    def player(self) -> str:
        """A command line that opens a URL (%u), or empty for the desktop's default video player."""
        try:
            return str(self.keys.get_string(GROUP, "command")).strip()
        except GLib.Error:
            return ""

    @player.setter
    def player(self, command: str) -> None:
        self.keys.set_string(GROUP, "command", command.strip())
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self.keys.save_to_file(self.path)
