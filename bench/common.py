"""What the sync benchmarks share: D-Bus calls to the daemon, its SyncFinished signals, ListItems
sampled while a sync runs, and the daemon's memory."""

import asyncio
import gc
import math
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from dbus_fast import Message, MessageType
from dbus_fast.aio import MessageBus

NAME = "io.github.reeld.Reeld1"
ROOT = "/io/github/reeld/Reeld1"


async def call(
    bus: MessageBus, path: str, iface: str, member: str, sig: str = "", *body: object
) -> list[Any]:
    """A method call to the daemon; its reply's body (a D-Bus error raises)."""
    reply = await bus.call(
        Message(destination=NAME, path=path, interface=iface, member=member, signature=sig, body=list(body))
    )
    assert reply is not None
    if reply.message_type == MessageType.ERROR:
        raise RuntimeError(f"{reply.error_name}: {reply.body}")
    return list(reply.body)


def freeze_client_heap() -> None:
    """Keep what the benchmark process holds out of its own cycle collector while it times calls.

    The client here is a Python process holding the whole stack (some 50,000 objects). Its
    collector's full passes took 25-35 ms on this machine and landed in about one timed call of 44:
    that was most of the p99 measured before session 4, with a bare service as much as with reeld.
    Frontends (GJS, Qt, C) have no such collector, so the figures time the daemon and the bus.
    """
    gc.collect()
    gc.freeze()


async def sync_finished_queue(client: MessageBus) -> "asyncio.Queue[Message]":
    """A queue of the daemon's ``SyncFinished`` signals, from now on."""
    finished: asyncio.Queue[Message] = asyncio.Queue()

    def on_message(message: Message) -> bool:
        if message.message_type == MessageType.SIGNAL and message.member == "SyncFinished":
            finished.put_nowait(message)
        return False

    client.add_message_handler(on_message)
    await client.call(
        Message(
            destination="org.freedesktop.DBus",
            path="/org/freedesktop/DBus",
            interface="org.freedesktop.DBus",
            member="AddMatch",
            signature="s",
            body=[f"type='signal',sender='{NAME}',member='SyncFinished'"],
        )
    )
    return finished


async def sample_list_items(client: MessageBus, latencies: list[float]) -> None:
    """``ListItems(0, 200)`` on every library, again and again, timing each (until cancelled)."""
    while True:
        (objects,) = await call(client, ROOT, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects")
        for path, interfaces in objects.items():
            if f"{NAME}.Library" in interfaces:
                started = time.perf_counter()
                await call(client, path, f"{NAME}.Library", "ListItems", "uus", 0, 200, "")
                latencies.append(time.perf_counter() - started)
        await asyncio.sleep(0.1)


def percentiles_ms(latencies: list[float]) -> tuple[float, float]:
    """(p50, p99) in milliseconds."""
    if not latencies:
        return float("nan"), float("nan")
    ordered = sorted(latencies)
    return statistics.median(ordered) * 1000, ordered[max(0, math.ceil(len(ordered) * 0.99) - 1)] * 1000


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far: steadier than wall time on a busy machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_cpu_seconds(pid: int) -> dict[str, float]:
    """CPU time so far per thread name (threads of one name summed)."""
    totals: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            totals[name] = totals.get(name, 0.0) + cpu_seconds_of(task / "stat")
        except FileNotFoundError:  # the thread ended meanwhile
            continue
    return totals


def cpu_seconds_of(stat: Path) -> float:
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_cpu_line(figures: dict[str, float]) -> str:
    """``by thread: reeld-db-write_ 3.20 s, …``: the ``cpu:`` figures, largest first."""
    threads = sorted(
        ((key.removeprefix("cpu:"), value) for key, value in figures.items() if key.startswith("cpu:")),
        key=lambda pair: -pair[1],
    )
    return "  by thread (python = the event loop): " + ", ".join(f"{name} {s:.2f} s" for name, s in threads)


def capacity_line(floor_s: float, floor_server_cpu: float, figures: dict[str, float]) -> str:
    """What the machine's cores allow: the daemon's and the fake server's CPU during the sync,
    spread over every core with no wait at all, against the floor."""
    cores = os.cpu_count() or 1
    bound = (figures["full_cpu"] + figures["server_cpu"]) / cores
    return (
        f"  the fake server's CPU: {floor_server_cpu:.2f} s during the floor, {figures['server_cpu']:.2f} s "
        f"during the sync; (daemon + server CPU) / {cores} cores = {bound:.2f} s = {bound / floor_s:.2f}x "
        "the floor, the least the sync could take here"
    )


def memory_mb(pid: int) -> dict[str, float]:
    """``VmHWM`` (peak) and ``VmRSS`` of a process, in MB."""
    return {
        line.split(":")[0]: int(line.split()[1]) / 1024
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if line.startswith(("VmHWM", "VmRSS"))
    }


async def first_and_no_change_sync(
    address: str,
    pid: int,
    add_account: Callable[[MessageBus], Awaitable[object]],
    bytes_sent: Callable[[], Awaitable[int]],
    reset_bytes: Callable[[], Awaitable[None]],
    server_pid: int | None = None,
) -> dict[str, float]:
    """Time a new account's first (full) sync, sampling ListItems meanwhile, then a no-change
    incremental sync of the same source, with the fake server's byte counts for both.

    ``add_account(client)`` adds the account over D-Bus; its source is the first to finish syncing."""
    freeze_client_heap()
    client = await MessageBus(bus_address=address).connect()
    finished = await sync_finished_queue(client)
    started = time.perf_counter()
    cpu_before = cpu_seconds(pid)
    server_before = cpu_seconds(server_pid) if server_pid else 0.0
    threads_before = thread_cpu_seconds(pid)
    await add_account(client)
    latencies: list[float] = []
    sampler = asyncio.get_running_loop().create_task(sample_list_items(client, latencies))
    message = await asyncio.wait_for(finished.get(), 900)
    full = time.perf_counter() - started
    full_cpu = cpu_seconds(pid) - cpu_before
    server_cpu = cpu_seconds(server_pid) - server_before if server_pid else 0.0
    threads_after = thread_cpu_seconds(pid)
    by_thread = {name: seconds - threads_before.get(name, 0.0) for name, seconds in threads_after.items()}
    sampler.cancel()
    source, success, reason = message.body  # SyncFinished carries the source's object path
    assert success, reason
    (count,) = await call(
        client, source, "org.freedesktop.DBus.Properties", "Get", "ss", f"{NAME}.Source", "ItemCount"
    )
    memory = memory_mb(pid)
    full_bytes = await bytes_sent()
    await reset_bytes()
    started = time.perf_counter()
    await call(client, source, f"{NAME}.Source", "Sync", "b", False)
    await asyncio.wait_for(finished.get(), 600)
    incremental = time.perf_counter() - started
    incremental_bytes = await bytes_sent()
    client.disconnect()
    p50, p99 = percentiles_ms(latencies)
    return {
        "full": full,
        "full_cpu": full_cpu,
        "server_cpu": server_cpu,
        **{f"cpu:{name}": seconds for name, seconds in by_thread.items() if seconds >= 0.05},
        "items": float(count.value),
        "incremental": incremental,
        "bytes_ratio": incremental_bytes / full_bytes,
        "incremental_bytes": float(incremental_bytes),
        "peak_mb": memory["VmHWM"],
        "p50_ms": p50,
        "p99_ms": p99,
        "samples": float(len(latencies)),
    }
