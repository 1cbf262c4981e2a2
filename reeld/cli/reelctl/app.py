"""Running one reelctl command: connect, dispatch, and report every failure the same way."""

import argparse
import asyncio
import contextlib
import importlib
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from reeld.cli.output import Output
from reeld.cli.reelctl.client import ReeldClient
from reeld.cli.reelctl.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, ReelctlError

T = TypeVar("T")


@dataclass
class Context:
    """What a command gets: the connection, where to print, and its parsed arguments."""

    client: ReeldClient
    out: Output
    args: argparse.Namespace


Handler = Callable[[Context], Awaitable[int]]


class Interrupted(ReelctlError):
    exit_code = EXIT_INTERRUPTED


def report(exc: ReelctlError) -> None:
    message = str(exc)
    if message:
        print(f"reelctl: {message}", file=sys.stderr, flush=True)


async def run(args: argparse.Namespace, out: Output | None = None) -> int:
    """Run a parsed command line; ``ReelctlError`` s propagate to the caller."""
    module, _, name = args.handler.partition(":")
    handler: Handler = getattr(importlib.import_module(f"reeld.cli.reelctl.{module}"), name)
    client = await ReeldClient.connect(args.address)
    try:
        return await handler(Context(client, out or Output(json=args.json), args))
    finally:
        client.disconnect()


async def run_reported(args: argparse.Namespace, out: Output | None = None) -> int:
    """Like ``run``, but a failure is printed as ``reelctl: …`` and becomes the exit status."""
    try:
        return await run(args, out)
    except ReelctlError as exc:
        report(exc)
        return exc.exit_code


async def run_command(argv: list[str], out: Output | None = None) -> int:
    """Run ``reelctl <argv>`` inside a running event loop (the demo uses this)."""
    from reeld.cli.reelctl.parser import build_parser

    return await run_reported(build_parser().parse_args(argv), out)


def run_args(args: argparse.Namespace) -> int:
    """The console script's body: never a traceback, always an exit status."""
    try:
        return asyncio.run(run_reported(args))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``reelctl ls … | head``); keep Python from complaining at exit.
        # Like any filter cut short by its reader (SIGPIPE), it exits quietly: the reader got what it wanted.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:
        if os.environ.get("REELCTL_DEBUG"):
            raise
        print(f"reelctl: unexpected error ({exc.__class__.__name__}: {exc})", file=sys.stderr)
        return EXIT_FAILED


async def interruptible(work: Coroutine[Any, Any, T], message: str = "") -> T:
    """Await ``work``; on Ctrl-C cancel it and raise ``Interrupted(message)``."""
    loop = asyncio.get_running_loop()
    pressed = asyncio.Event()
    try:
        loop.add_signal_handler(signal.SIGINT, pressed.set)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
        return await work
    task = asyncio.ensure_future(work)
    waiter = asyncio.ensure_future(pressed.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        raise Interrupted(message)
    finally:
        waiter.cancel()
        task.cancel()
        loop.remove_signal_handler(signal.SIGINT)
