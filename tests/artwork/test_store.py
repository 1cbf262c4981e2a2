"""The artwork store on real files: its bound, its order of eviction, and what it finds after a
restart or a crash."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from reeld.artwork.sniff import ImageInfo, image_info
from reeld.artwork.store import ORIGINAL, ArtworkStore
from reeld.fakes.images import encode, picture

SOURCE = "jellyfin_abc"


def poster(seed: str, width: int = 320) -> bytes:
    return encode(picture(seed, "poster", width))


def files_of(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


def test_the_bound_holds_and_the_least_recently_used_go_first(tmp_path: Path) -> None:
    size = len(poster("item-0"))
    store = ArtworkStore(tmp_path / "artwork", max_bytes=20 * size)
    store.open()
    for number in range(60):
        store.put(SOURCE, f"item-{number}", "poster", "tag-1", 320, poster(f"item-{number}"), "jpg")
        # a poster grid keeps showing the first item: it stays however many come after it
        assert store.lookup(SOURCE, "item-0", "poster", "tag-1") is not None
        on_disk = sum(path.stat().st_size for path in files_of(store.root))
        assert on_disk == store.total_bytes <= store.max_bytes
        time.sleep(0.002)  # distinct use times
    assert store.lookup(SOURCE, "item-1", "poster", "tag-1") is None  # the least recently used went
    assert store.lookup(SOURCE, "item-59", "poster", "tag-1") is not None
    assert 10 < len(store) <= 20


def test_a_new_tag_replaces_the_image_and_a_restart_finds_what_is_kept(tmp_path: Path) -> None:
    root = tmp_path / "artwork"
    store = ArtworkStore(root, max_bytes=10**7)
    store.open()
    old = store.put(SOURCE, "a", "poster", "tag-1", 320, poster("a1"), "jpg")
    store.put(SOURCE, "a", "poster", "tag-1", ORIGINAL, poster("a1", 600), "jpg")
    new = store.put(SOURCE, "a", "poster", "tag-2", 320, poster("a2"), "jpg")
    assert not os.path.exists(old) and len(files_of(root)) == 1
    sidecar = store.put(
        "local_x", "Movies/Heat.mkv", "poster", "sidecar:1:2:poster.jpg", ORIGINAL, poster("h"), "jpg"
    )

    # What a crash leaves: a write cut short, an old tag not yet removed, a file never written out.
    (root / "ab").mkdir()
    (root / "ab" / ".tmp-12345").write_bytes(b"\xff\xd8\xff half a pict")
    stale = Path(new).with_name(
        Path(new).name.replace(".w320.", ".orig.").replace(Path(new).name.split(".")[2], "0" * 12)
    )
    stale.write_bytes(poster("a0"))
    os.utime(stale, (1, 1))
    empty = Path(new).parent / f"{Path(new).name.split('.')[0]}.logo.{'1' * 12}.orig.png"
    empty.write_bytes(b"")

    again = ArtworkStore(root, max_bytes=10**7)
    again.open()
    assert files_of(root) == sorted([Path(new), Path(sidecar)])
    kept = again.lookup(SOURCE, "a", "poster", "tag-2")
    assert kept is not None and again.largest(kept) == new
    assert again.lookup(SOURCE, "a", "poster", "tag-1") is None
    assert again.any_sidecar("local_x", "Movies/Heat.mkv", "poster") is not None
    assert again.paths(SOURCE, "a", {"poster": "tag-2"}, sidecars=False) == {"poster": new}
    assert again.paths(SOURCE, "a", {"poster": "tag-1"}, sidecars=False) == {}
    assert again.total_bytes == sum(path.stat().st_size for path in files_of(root))


def test_use_survives_a_restart(tmp_path: Path) -> None:
    root = tmp_path / "artwork"
    size = len(poster("x"))
    store = ArtworkStore(root, max_bytes=100 * size)
    store.open()
    for number in range(10):
        store.put(SOURCE, f"item-{number}", "poster", "t", 320, poster(f"item-{number}"), "jpg")
    for path in files_of(root):
        os.utime(path, (1000, 1000))  # long ago
    store.open()  # as after a restart: every image last used long ago
    assert store.lookup(SOURCE, "item-0", "poster", "t") is not None  # …but this one now
    store.flush_use()

    again = ArtworkStore(root, max_bytes=10 * size)
    again.open()
    again.put(SOURCE, "item-new", "poster", "t", 320, poster("item-new"), "jpg")
    assert again.lookup(SOURCE, "item-0", "poster", "t") is not None
    assert len(again) < 10


_WRITER = """
import sys
from pathlib import Path
from reeld.artwork.store import ArtworkStore
from reeld.fakes.images import encode, picture
store = ArtworkStore(Path(sys.argv[1]), max_bytes=10**9)
store.open()
print("ready", flush=True)
number = 0
while True:
    data = encode(picture(f"big-{number}", "backdrop"), "png") * 2000  # ~9 MB: writes take a while
    store.put("src", f"item-{number % 3}", "backdrop", f"tag-{number}", 0, data, "png")
    number += 1
"""


def test_a_kill_9_mid_write_leaves_no_half_image(tmp_path: Path) -> None:
    root = tmp_path / "artwork"
    for delay in (0.1, 0.4):
        writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(root)], stdout=subprocess.PIPE)
        assert writer.stdout is not None
        while writer.stdout.readline() not in (b"ready\n", b""):
            pass  # its log lines
        time.sleep(delay)  # a while into writing: the kill lands mid-write most times
        writer.send_signal(signal.SIGKILL)
        writer.wait(10)
        store = ArtworkStore(root, max_bytes=10**9)
        store.open()
        assert not [path for path in files_of(root) if path.name.startswith(".tmp")]
        for path in files_of(root):
            data = path.read_bytes()
            one = data.index(b"IEND") + 8  # each file is one PNG 2000 times over, whole
            assert image_info(data) == ImageInfo("png", 1280, 720) and data == data[:one] * 2000, path


def test_a_sources_images_go_with_it_and_files_of_another_naming_are_not_kept(tmp_path: Path) -> None:
    root = tmp_path / "artwork"
    store = ArtworkStore(root, max_bytes=10**7)
    store.open()
    for source in ("jellyfin_a", "plex_b"):
        for number in range(5):
            store.put(source, f"item-{number}", "poster", "t", 320, poster(f"{source}-{number}"), "jpg")
    assert store.forget_source("jellyfin_a") == 5
    assert len(store) == 5 and store.lookup("plex_b", "item-0", "poster", "t") is not None
    assert len(files_of(root)) == 5 and store.total_bytes == sum(p.stat().st_size for p in files_of(root))

    older = root / "ab" / "ab12cd34ef56ab12cd34.poster.0123456789ab.w320.jpg"  # an older reeld's name
    older.parent.mkdir(exist_ok=True)
    older.write_bytes(poster("old"))
    again = ArtworkStore(root, max_bytes=10**7)
    again.open()
    assert not older.exists() and len(again) == 5
