"""``reelctl sync``, and waiting for sources' syncs to finish while showing their progress.

Progress comes from the sources' ``Progress``/``Syncing`` properties; a source's sync is over
when its ``SyncFinished`` signal arrives. A source that is not connected does not sync: it is
reported at once, or when it connects, its sync is asked for then.
"""

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

from reeld.bus.constants import ACCOUNT_IFACE, SOURCE_IFACE
from reeld.cli.output import Output, progress_bar, truncate
from reeld.cli.reelctl.app import Context, interruptible, report
from reeld.cli.reelctl.client import ReeldClient, Signal, next_signal
from reeld.cli.reelctl.errors import EXIT_FAILED, ReelctlError
from reeld.cli.reelctl.tree import Entry, Tree

NOT_CONNECTED = ("offline", "needs-auth", "error")
# The daemon publishes item counts a moment after SyncFinished (debounced); a first sync waits this
# long at most for them, so that what a person runs next shows the items.
COUNTS_TIMEOUT_S = 2.0


@dataclass
class SourceSync:
    """One source's sync as reelctl follows it."""

    path: str
    name: str
    status: str = ""
    status_message: str = ""
    progress: float = 0.0
    syncing: bool = False
    last_full_sync: int = 0
    # Whether this source has been seen syncing since we started following it.
    seen_syncing: bool = False
    # Whether a sync has been asked for (by us or the caller).
    requested: bool = False
    done: bool = False
    success: bool = False
    message: str = ""
    started: float = field(default_factory=time.monotonic)
    seconds: float = 0.0

    @classmethod
    def from_entry(cls, source: Entry, requested: bool) -> "SourceSync":
        syncing = bool(source.get("Syncing"))
        return cls(
            path=source["path"],
            name=str(source.get("Name") or source["path"].rsplit("/", 1)[-1]),
            status=str(source.get("Status", "")),
            status_message=str(source.get("StatusMessage", "")),
            progress=float(source.get("Progress", 0.0)),
            syncing=syncing,
            last_full_sync=int(source.get("LastFullSync", 0)),
            seen_syncing=syncing,
            requested=requested,
        )

    @property
    def fraction(self) -> float:
        """How far along, for a progress bar: a finished property update still counts as done."""
        if self.done or (self.seen_syncing and not self.syncing):
            return 1.0
        return self.progress if self.syncing else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.path,
            "name": self.name,
            "success": self.success,
            "message": self.message,
            "seconds": round(self.seconds, 3),
        }


class ProgressView:
    """One rewritten line on a terminal; a line per 10 % step otherwise; nothing in JSON mode."""

    def __init__(self, out: Output) -> None:
        self.out = out
        self._steps: dict[str, int] = {}
        self._line_open = False

    def update(self, syncs: list[SourceSync]) -> None:
        if self.out.json or not syncs:
            return
        if self.out.is_tty:
            self._draw(syncs)
            return
        for sync in syncs:
            if sync.done or not sync.syncing:
                continue
            step = int(sync.progress * 10)
            if self._steps.get(sync.path) != step:
                self._steps[sync.path] = step
                self.out.line(f"{sync.name}: {round(sync.progress * 100)}%")

    def _draw(self, syncs: list[SourceSync]) -> None:
        pending = [sync for sync in syncs if not sync.done]
        if not pending:
            return
        overall = sum(sync.fraction for sync in syncs) / len(syncs)
        label = syncs[0].name if len(syncs) == 1 else f"{len(syncs) - len(pending)}/{len(syncs)} sources"
        started = any(sync.seen_syncing for sync in pending)
        waiting = "" if started else " (waiting for the source)"
        text = f"Syncing {label}  {progress_bar(overall)} {round(100 * overall):3d}%{waiting}"
        self.out.stream.write("\r" + truncate(text, (self.out.width or 80) - 1) + "\x1b[K")
        self.out.stream.flush()
        self._line_open = True

    def finished(self, sync: SourceSync) -> None:
        if self.out.json:
            return
        if self._line_open:
            self.out.stream.write("\r\x1b[K")
            self._line_open = False
        mark = self.out.check if sync.success else ("✗" if self.out.check == "✓" else "!")
        outcome = sync.message or ("done" if sync.success else "failed")
        self.out.line(f"{mark} {sync.name}: {outcome} ({sync.seconds:.1f} s)")


class SyncWaiter:
    """Follows the syncs of some sources until each has finished.

    With ``account``, sources of that account that appear while waiting are followed too, and
    waiting ends only once there is at least one.
    """

    def __init__(
        self,
        client: ReeldClient,
        queue: "asyncio.Queue[Signal]",
        out: Output,
        full: bool = False,
        account: str | None = None,
    ) -> None:
        self.client = client
        self.queue = queue
        self.full = full
        self.account = account
        self.view = ProgressView(out)
        self.targets: dict[str, SourceSync] = {}

    def add(self, source: Entry, requested: bool) -> SourceSync:
        sync = SourceSync.from_entry(source, requested)
        self.targets[sync.path] = sync
        if not sync.syncing and sync.status in NOT_CONNECTED:
            self._finish(sync, False, _not_connected(sync))
        return sync

    async def wait(self) -> list[SourceSync]:
        await self._request_connected()
        self.view.update(self._list())
        while not (self.targets and all(sync.done for sync in self.targets.values())):
            self._handle(await next_signal(self.queue))
            await self._request_connected()
            self.view.update(self._list())
        return self._list()

    def _list(self) -> list[SourceSync]:
        return list(self.targets.values())

    async def _request_connected(self) -> None:
        """Ask for a sync of each followed source that is connected but was never asked."""
        for sync in self._list():
            if sync.done or sync.requested or sync.syncing or sync.status != "connected":
                continue
            sync.requested = True
            full = self.full or sync.last_full_sync == 0
            await self.client.call(sync.path, SOURCE_IFACE, "Sync", "b", (full,))

    def _handle(self, signal: Signal) -> None:
        sync = self.targets.get(signal.path)
        match signal.member, signal.args:
            case "SyncFinished", [source, success, message]:
                finished = self.targets.get(source)
                if finished is not None and not finished.done:
                    self._finish(finished, bool(success), str(message))
            case "PropertiesChanged", [interface, changed, _]:
                if interface == SOURCE_IFACE and sync is not None:
                    self._source_changed(sync, changed)
                elif interface == ACCOUNT_IFACE:
                    self._account_changed(signal.path, changed)
            case "InterfacesAdded", [path, interfaces]:
                source = interfaces.get(SOURCE_IFACE)
                if (
                    self.account
                    and source
                    and source.get("Account") == self.account
                    and path not in self.targets
                ):
                    # A new account's source syncs by itself once connected (its first, full sync):
                    # asking for another would run a second one right after it.
                    self.add({"path": path, **source}, requested=True)
            case "InterfacesRemoved", [_, interfaces]:
                if sync is not None and not sync.done and SOURCE_IFACE in interfaces:
                    self._finish(sync, False, "the source was removed")

    def _source_changed(self, sync: SourceSync, changed: dict[str, Any]) -> None:
        if "Progress" in changed:
            sync.progress = float(changed["Progress"])
        if "Syncing" in changed:
            sync.syncing = bool(changed["Syncing"])
            sync.seen_syncing = sync.seen_syncing or sync.syncing
        if "LastFullSync" in changed:
            sync.last_full_sync = int(changed["LastFullSync"])
        if "StatusMessage" in changed:
            sync.status_message = str(changed["StatusMessage"])
        if "Status" in changed:
            sync.status = str(changed["Status"])
            # A failing sync says why in SyncFinished; only a source that never started is judged here.
            if sync.status in NOT_CONNECTED and not sync.seen_syncing and not sync.done:
                self._finish(sync, False, _not_connected(sync))

    def _account_changed(self, path: str, changed: dict[str, Any]) -> None:
        if path == self.account and changed.get("AttentionNeeded"):
            message = changed.get("StatusMessage") or "the account needs you to log in again"
            raise ReelctlError(str(message))

    def _finish(self, sync: SourceSync, success: bool, message: str) -> None:
        sync.done, sync.success, sync.message = True, success, message
        sync.syncing = False
        sync.seconds = time.monotonic() - sync.started
        self.view.finished(sync)


def _not_connected(sync: SourceSync) -> str:
    reason = f": {sync.status_message}" if sync.status_message else ""
    return f"not synced, the source's status is {sync.status}{reason}"


async def wait_for_account(
    client: ReeldClient, queue: "asyncio.Queue[Signal]", out: Output, account: str, new: bool = True
) -> list[SourceSync]:
    """Wait for the first sync of every source of ``account`` (subscribe ``queue`` before adding it).

    A ``new`` account's sources sync by themselves once connected; one added again is asked to."""
    waiter = SyncWaiter(client, queue, out, account=account)
    tree = Tree(await client.objects())
    for source in tree.sources:
        if source.get("Account") == account:
            waiter.add(source, requested=new)
    results = await waiter.wait()
    await _counts_published(client, queue, [result for result in results if result.success])
    return results


async def _counts_published(
    client: ReeldClient, queue: "asyncio.Queue[Signal]", synced: list[SourceSync]
) -> None:
    """Wait (briefly) until sources that synced but still show no items publish their counts."""
    pending = set()
    for result in synced:
        if not (await client.properties(result.path, SOURCE_IFACE)).get("ItemCount"):
            pending.add(result.path)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(COUNTS_TIMEOUT_S):
            while pending:
                signal = await next_signal(queue)
                if signal.member == "PropertiesChanged" and "ItemCount" in signal.args[1]:
                    pending.discard(signal.path)


async def sync(ctx: Context) -> int:
    client, out, args = ctx.client, ctx.out, ctx.args
    queue = await client.subscribe()
    tree = Tree(await client.objects())
    targets = [tree.source(args.source)] if args.source else tree.sources
    if not targets:
        if out.json:
            out.dump([])
        else:
            out.line("No sources to sync. Add a folder with 'reelctl add-folder PATH'.")
        return 0
    waiter = SyncWaiter(client, queue, out, full=args.full)
    for source in targets:
        waiter.add(source, requested=True)
    if args.source:
        await client.call(targets[0]["path"], SOURCE_IFACE, "Sync", "b", (args.full,))
    else:
        await client.manager("SyncAll", "b", args.full)
    results = await interruptible(waiter.wait(), "stopped waiting; the sync goes on in the daemon")
    if out.json:
        out.dump([result.as_json() for result in results])
    return summarize(out, results)


def summarize(out: Output, results: list[SourceSync]) -> int:
    """The exit status of a wait for syncs; in JSON mode failures are also told on stderr."""
    failed = [result for result in results if not result.success]
    if out.json:
        for result in failed:
            report(ReelctlError(f"{result.name}: {result.message}"))
    return EXIT_FAILED if failed else 0
