"""Choosing the address a Plex server is reached on.

A server lists several (LAN, public, relay; http and https). All are tried at once with short
timeouts. Preference is local over remote over relay, then https over http; a preferred address
that answers within the grace period wins over a faster one further down the list, so a LAN
server is not reached through its relay because the relay happened to answer first. When
nothing answers, the message says what each address did.
"""

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from reeld.backends.http import certificate_problem, failure_reason
from reeld.backends.plex.plextv import PlexConnection
from reeld.errors import (
    AuthRequired,
    BackendProtocolError,
    BackendUnavailable,
    ReeldError,
    UntrustedCertificate,
)
from reeld.models.source import ConnectionKind

#: How long a better address may take to answer once a worse one has.
GRACE_S = 1.0
#: How long one address may take to answer at all.
PROBE_TIMEOUT_S = 3.0


@dataclass(frozen=True, slots=True)
class Chosen:
    connection: PlexConnection
    elapsed_s: float


#: ``await probe(connection)``: returns when the server answered as itself, raises a reeld error otherwise.
Probe = Callable[[PlexConnection], Awaitable[None]]


def connection_kind(connection: PlexConnection) -> ConnectionKind:
    if connection.relay:
        return ConnectionKind.RELAY
    return ConnectionKind.LOCAL if connection.local else ConnectionKind.REMOTE


def rank(connection: PlexConnection) -> tuple[int, int]:
    """Lower is better: local, remote, relay; https before http."""
    place = 2 if connection.relay else 0 if connection.local else 1
    return place, 0 if connection.protocol == "https" else 1


def label(connection: PlexConnection) -> str:
    """How a person recognises an address in a message: ``192.168.1.10:32400 (local)``."""
    if connection.relay:
        return "relay"
    parts = urlsplit(connection.uri)
    return f"{parts.netloc} ({'local' if connection.local else 'remote'})"


def describe_failure(exc: BaseException) -> str:
    """What one address did, for the message listing them all."""
    if isinstance(exc, TimeoutError):
        return f"timed out after {PROBE_TIMEOUT_S:g} s"
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out after {PROBE_TIMEOUT_S:g} s"
    if isinstance(exc, httpx.HTTPError):
        return failure_reason(exc).replace("refused the connection", "connection refused")
    return str(exc)


async def choose(connections: Sequence[PlexConnection], probe: Probe, grace_s: float = GRACE_S) -> Chosen:
    """The best address that answers. Raises ``AuthRequired`` when the server answered but refused
    the token, ``BackendProtocolError`` when it is another server, else ``BackendUnavailable``
    listing every address and how it failed."""
    if not connections:
        raise BackendUnavailable("plex.tv lists no address for this server")
    ordered = sorted(connections, key=rank)
    started = time.monotonic()
    tasks = {asyncio.ensure_future(_timed(probe, c)): c for c in ordered}
    failures: dict[PlexConnection, BaseException] = {}
    answered: list[PlexConnection] = []
    try:
        pending = set(tasks)
        while pending:
            # Without an answer, wait for one; with one, only until the grace period ends.
            timeout = max(0.0, started + grace_s - time.monotonic()) if answered else None
            if timeout == 0:
                break
            done, pending = await asyncio.wait(pending, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                connection = tasks[task]
                exc = task.exception()
                if exc is None:
                    answered.append(connection)
                else:
                    failures[connection] = exc
            if not done:  # the grace period ran out
                break
            if answered and _best_settled(ordered, answered, failures):
                break
    finally:
        for task in tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*tasks, return_exceptions=True)
    if answered:
        return Chosen(min(answered, key=rank), time.monotonic() - started)
    raise _no_address(ordered, failures)


async def _timed(probe: Probe, connection: PlexConnection) -> None:
    async with asyncio.timeout(PROBE_TIMEOUT_S):
        await probe(connection)


def _best_settled(
    ordered: list[PlexConnection],
    answered: list[PlexConnection],
    failures: dict[PlexConnection, BaseException],
) -> bool:
    """Whether every address better than the best that answered has failed."""
    best = min(answered, key=rank)
    return all(c in failures for c in ordered if rank(c) < rank(best))


def _no_address(ordered: list[PlexConnection], failures: dict[PlexConnection, BaseException]) -> ReeldError:
    reasons = [failures.get(c) for c in ordered]
    for reason in reasons:
        if isinstance(reason, AuthRequired):
            return reason
    for reason in reasons:
        if isinstance(reason, BackendProtocolError):
            return reason
    listed = "; ".join(
        f"{label(c)}{':' if c.relay else ''} {describe_failure(failures[c])}"
        for c in ordered
        if c in failures
    )
    if all(certificate_problem(failures[c]) for c in ordered if c in failures):
        # Every address was there and showed a certificate reeld does not trust: no passing trouble.
        return UntrustedCertificate(f"no address answered: {listed}")
    return BackendUnavailable(f"no address answered: {listed}")
