"""Commands that add, remove and refresh accounts and sources.

Secrets (passwords, tokens) come from a prompt or standard input, never from argv, where any
user could read them in the process list.
"""

import asyncio
import contextlib
import getpass
import os
import sys

from reeld.bus.constants import ACCOUNT_IFACE, SOURCE_IFACE
from reeld.cli.output import Output
from reeld.cli.reelctl.app import Context, Interrupted, interruptible
from reeld.cli.reelctl.client import ReeldClient, Signal, next_signal
from reeld.cli.reelctl.errors import InvalidArgument, ReelctlError
from reeld.cli.reelctl.sync import summarize, wait_for_account
from reeld.cli.reelctl.tree import Tree, object_id


async def add_folder(ctx: Context) -> int:
    client, out = ctx.client, ctx.out
    path = absolute(ctx.args.path)
    queue = await client.subscribe() if ctx.args.wait else None
    known = await _account_paths(client)
    account = await client.manager("AddLocalFolder", "s", path)
    if not out.json:
        added = "Already had" if account in known else "Added"
        out.line(f"{added} the folder {path} (account {object_id(account)}).")
    if queue is None:
        if out.json:
            out.dump({"account": account, "path": path})
        elif account in known:
            out.line("It is kept in sync already: see 'reelctl status', or 'reelctl sync' to rescan it now.")
        else:
            out.line("Its first sync runs now: follow it with 'reelctl watch', or see 'reelctl status'.")
        return 0
    results = await interruptible(
        wait_for_account(client, queue, out, account, new=account not in known),
        "stopped waiting; the sync goes on in the daemon",
    )
    if out.json:
        out.dump({"account": account, "path": path, "syncs": [result.as_json() for result in results]})
    return summarize(out, results)


def absolute(path: str) -> str:
    """The daemon runs elsewhere, with another working directory: it needs an absolute path."""
    if not path.strip():
        # abspath("") is the working directory: never what an empty argument meant.
        raise InvalidArgument("folder path must not be empty")
    return os.path.abspath(os.path.expanduser(path))


async def remove(ctx: Context) -> int:
    account = Tree(await ctx.client.objects()).account(ctx.args.account)
    await ctx.client.call(account["path"], ACCOUNT_IFACE, "Remove")
    _done(ctx.out, account["path"], f"Removed {account.get('DisplayName')} and everything cached from it.")
    return 0


async def refresh(ctx: Context) -> int:
    account = Tree(await ctx.client.objects()).account(ctx.args.account)
    await ctx.client.call(account["path"], ACCOUNT_IFACE, "Refresh")
    _done(ctx.out, account["path"], f"Looking for the sources of {account.get('DisplayName')} again.")
    return 0


async def reconnect(ctx: Context) -> int:
    source = Tree(await ctx.client.objects()).source(ctx.args.source)
    await ctx.client.call(source["path"], SOURCE_IFACE, "Reconnect")
    _done(ctx.out, source["path"], f"Connecting to {source.get('Name')} again.")
    return 0


def _done(out: Output, path: str, message: str) -> None:
    if out.json:
        out.dump({"path": path})
    else:
        out.line(message)


# -- accounts on servers -----------------------------------------------------------------------------


async def add_jellyfin(ctx: Context) -> int:
    client, out, args = ctx.client, ctx.out, ctx.args
    if args.quick_connect:
        if args.password_stdin:
            raise InvalidArgument("--password-stdin goes with --user, not --quick-connect")
        queue = await client.subscribe()
        known = await _account_paths(client)
        login_id, code = await client.manager("BeginJellyfinQuickConnect", "s", args.url)
        if not out.json:
            out.line(f"Quick Connect code: {code}")
            out.line("Enter it in a Jellyfin app where you are signed in (Settings, Quick Connect).")
        return await _await_login(client, queue, out, login_id, known)
    password = await _read_secret("Jellyfin password: ", from_stdin=args.password_stdin)
    known = await _account_paths(client)
    account = await client.manager("AddJellyfinAccount", "sss", args.url, args.user, password)
    return _account_added(out, account, known)


async def login_plex(ctx: Context) -> int:
    client, out = ctx.client, ctx.out
    queue = await client.subscribe()
    known = await _account_paths(client)
    login_id, code, auth_url = await client.manager("BeginPlexLogin")
    if not out.json:
        out.line(f"Open {auth_url}")
        out.line(f"and sign in to Plex there to let reeld use your account. Login code: {code}")
    return await _await_login(client, queue, out, login_id, known)


async def add_plex_token(ctx: Context) -> int:
    token = await _read_secret("Plex token: ", from_stdin=not sys.stdin.isatty())
    known = await _account_paths(ctx.client)
    account = await ctx.client.manager("AddPlexAccount", "s", token)
    return _account_added(ctx.out, account, known)


async def _await_login(
    client: ReeldClient, queue: "asyncio.Queue[Signal]", out: Output, login_id: str, known: set[str]
) -> int:
    if not out.json:
        out.line("Waiting for the login to finish (Ctrl-C cancels it)...")
    try:
        account, error = await interruptible(_login_finished(queue, login_id), "login cancelled")
    except Interrupted:
        with contextlib.suppress(ReelctlError):
            await client.manager("CancelLogin", "s", login_id)
        raise
    if error:
        raise ReelctlError(f"the login failed: {error}")
    return _account_added(out, account, known)


async def _login_finished(queue: "asyncio.Queue[Signal]", login_id: str) -> tuple[str, str]:
    while True:
        signal = await next_signal(queue)
        if signal.member == "LoginFinished" and signal.args[0] == login_id:
            return str(signal.args[1]), str(signal.args[2])


async def _account_paths(client: ReeldClient) -> set[str]:
    """The accounts there are now: adding one again updates it (a new token), and says so."""
    return {entry["path"] for entry in Tree(await client.objects()).accounts}


def _account_added(out: Output, account: str, known: set[str]) -> int:
    if out.json:
        out.dump({"account": account, "new": account not in known})
    elif account in known:
        out.line(f"Updated account {object_id(account)}, which was already added; it syncs now.")
    else:
        out.line(f"Added account {object_id(account)}. Its sources sync now: see 'reelctl status'.")
    return 0


def _has_terminal() -> bool:
    try:
        with open("/dev/tty", "rb"):
            return True
    except OSError:
        return False


async def _read_secret(prompt: str, from_stdin: bool) -> str:
    """A secret from standard input (one line) or a prompt that does not echo it."""
    if from_stdin:
        line = await asyncio.to_thread(sys.stdin.readline)
        secret = line.rstrip("\r\n")
    elif not _has_terminal():  # getpass would warn that it echoes, then read standard input
        raise InvalidArgument(
            "there is no terminal to ask for it on: give it on standard input with --password-stdin"
        )
    else:
        try:
            secret = await asyncio.to_thread(getpass.getpass, prompt)
        except EOFError:
            raise InvalidArgument("no secret given") from None
    return secret
