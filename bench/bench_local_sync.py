"""A local folder of ~20k files through the whole daemon: AddLocalFolder → SyncFinished.

Prints the first (full) sync's wall time with the scan-only time of the same folder measured in
the same run as the baseline (so the ratio is the cost of everything beyond the walk and parse:
cache writes, FTS, progress), a no-change rescan (``Sync(false)``), and the daemon's RSS after.

Run: ``.venv/bin/python bench/bench_local_sync.py [--movies 3000 --shows 140 --seasons 4 --episodes 30]``.
"""

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_core import BUS_NAME, start_bus
from common import sync_finished_queue
from dbus_fast import Message, MessageType
from dbus_fast.aio import MessageBus

from reeld.backends.base import SyncContext
from reeld.backends.local.backend import LocalBackend
from reeld.fakes.media_folder import make_sample_folder

ROOT = "/io/github/reeld/Reeld1"


async def scan_only(path: Path) -> float:
    backend = LocalBackend("bench", str(path))
    started = time.perf_counter()
    await backend.initialize()
    for library in await backend.get_libraries():
        async for _page in backend.list_items(library, SyncContext(full=True)):
            pass
    await backend.aclose()
    return time.perf_counter() - started


async def through_daemon(address: str, env: dict[str, str], folder: Path) -> dict[str, float]:
    client = await MessageBus(bus_address=address).connect()
    finished = await sync_finished_queue(client)
    log = Path(env["HOME"], "daemon.log").open("w")  # noqa: SIM115 - lives as long as the daemon
    daemon = subprocess.Popen([sys.executable, "-m", "reeld.cli.daemon"], env=env, stderr=log)
    while True:
        reply = await client.call(
            Message(
                destination="org.freedesktop.DBus",
                path="/org/freedesktop/DBus",
                interface="org.freedesktop.DBus",
                member="NameHasOwner",
                signature="s",
                body=[BUS_NAME],
            )
        )
        if reply is not None and reply.body[0]:
            break
        await asyncio.sleep(0.01)
    started = time.perf_counter()
    reply = await client.call(
        Message(
            destination=BUS_NAME,
            path=ROOT,
            interface=f"{BUS_NAME}.Manager",
            member="AddLocalFolder",
            signature="s",
            body=[str(folder)],
        )
    )
    assert reply is not None and reply.message_type == MessageType.METHOD_RETURN, reply
    source = reply.body[0].replace("/accounts/", "/sources/")
    message = await asyncio.wait_for(finished.get(), 300)
    full = time.perf_counter() - started
    assert message.body[1], message.body[2]
    started = time.perf_counter()
    await client.call(
        Message(
            destination=BUS_NAME,
            path=source,
            interface=f"{BUS_NAME}.Source",
            member="Sync",
            signature="b",
            body=[False],
        )
    )
    message = await asyncio.wait_for(finished.get(), 300)
    incremental = time.perf_counter() - started
    status = Path(f"/proc/{daemon.pid}/status").read_text().splitlines()
    rss = {line.split(":")[0]: int(line.split()[1]) / 1024 for line in status if line.startswith("Vm")}
    daemon.terminate()
    daemon.wait(20)
    log.close()
    client.disconnect()
    return {"full": full, "incremental": incremental, "rss": rss["VmRSS"], "peak": rss["VmHWM"]}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--movies", type=int, default=3000, help="movie files (default 3000)")
    parser.add_argument("--shows", type=int, default=140, help="shows (default 140)")
    parser.add_argument("--seasons", type=int, default=4, help="seasons per series or show (default 4)")
    parser.add_argument("--episodes", type=int, default=30, help="episode files per season (default 30)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        sample = make_sample_folder(
            tmp / "media", movies=args.movies, shows=args.shows, seasons=args.seasons, episodes=args.episodes
        )
        files = len(sample.files)
        scan = asyncio.run(scan_only(sample.root))
        env = {
            **os.environ,
            "XDG_CONFIG_HOME": str(tmp / "config"),
            "XDG_STATE_HOME": str(tmp / "state"),
            "HOME": str(tmp),
        }
        bus, address = start_bus(tmp)
        env["DBUS_SESSION_BUS_ADDRESS"] = address
        env.pop("DBUS_SYSTEM_BUS_ADDRESS", None)
        try:
            figures = asyncio.run(through_daemon(address, env, sample.root))
        finally:
            bus.terminate()
    print(
        f"folder: {files} files ({sample.listed} listed: {sample.movies} movies, {sample.episodes} episodes)"
    )
    print(f"baseline: scan only (walk + classify), same folder   {scan:.2f} s")
    print(
        f"first sync through the daemon (AddLocalFolder → SyncFinished)  {figures['full']:.2f} s "
        f"(target <= 5 s; {figures['full'] / scan:.2f}x the scan)"
    )
    print(f"no-change rescan (Sync false)                        {figures['incremental']:.2f} s")
    print(f"daemon RSS after: {figures['rss']:.0f} MB, peak {figures['peak']:.0f} MB")


if __name__ == "__main__":
    main()
