"""Images opened the way a GTK frontend opens them: GdkPixbuf (Debian's gir1.2-gdkpixbuf-2.0,
installed by ``make test``), run by the system Python that has PyGObject."""

import functools
import json
import subprocess
from collections.abc import Sequence

import pytest

_LOAD = """
import json, sys
import gi
gi.require_version("GdkPixbuf", "2.0")
from gi.repository import GdkPixbuf
sizes = {}
for path in sys.argv[1:]:
    pixbuf = GdkPixbuf.Pixbuf.new_from_file(path)
    sizes[path] = [pixbuf.get_width(), pixbuf.get_height()]
print(json.dumps(sizes))
"""

MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"RIFF", b"GIF8")


@functools.cache
def _pixbuf_available() -> bool:
    probe = 'import gi; gi.require_version("GdkPixbuf", "2.0"); from gi.repository import GdkPixbuf'
    return subprocess.run(["/usr/bin/python3", "-c", probe], capture_output=True, timeout=30).returncode == 0


def open_images(paths: Sequence[str]) -> dict[str, tuple[int, int]]:
    """Each image's (width, height) as GdkPixbuf decodes it; fails on any that does not decode."""
    if not _pixbuf_available():
        pytest.skip("opening images as GTK does needs Debian's gir1.2-gdkpixbuf-2.0 (make system-deps)")
    for path in paths:
        with open(path, "rb") as image:
            assert image.read(8).startswith(MAGIC), f"{path} does not start like an image"
    done = subprocess.run(
        ["/usr/bin/python3", "-c", _LOAD, *paths], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, f"GdkPixbuf could not open the images:\n{done.stderr[-2000:]}"
    return {path: (width, height) for path, (width, height) in json.loads(done.stdout).items()}
