"""What every HTTP backend shares: naming a failure without leaking the URL, decoding large bodies
off the event loop, and fetching a paged listing a few pages ahead."""

import asyncio
import gc
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx
import msgspec
import orjson

from reeld.errors import BackendProtocolError, BackendUnavailable
from reeld.workers import background_thread

#: Bodies larger than this are decoded in a thread (a page of 1000 items takes tens of ms).
LARGE_BODY = 64 * 1024

PageT = TypeVar("PageT")
T = TypeVar("T")
#: How a body becomes a value: ``orjson.loads``, or a typed decoder (``msgspec.json.Decoder(…).decode``).
Decode = Callable[[bytes], Any]

# One thread decodes and maps every page of every sync. The work holds the GIL, so more threads
# would not finish it sooner; they would only take turns with the event loop and the cache's
# reader, and a client's ListItems would wait behind all of them.
_page_worker = background_thread("reeld-pages")


async def off_loop(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` on the page worker thread: CPU-bound work on a server's answer."""
    return await asyncio.get_running_loop().run_in_executor(_page_worker, fn, *args)


def as_is(value: Any) -> Any:
    """A decoded answer unchanged: what a request does with it unless told ``then``."""
    return value


def decode_without_gc(body: bytes, then: Callable[[Any], T] = as_is, decode: Decode = orjson.loads) -> T:
    """``then(decode(body))`` with the cycle collector paused.

    A page of 1000 items decodes into some 50,000 dicts and lists. Alive, they drew the collector
    (run every few hundred allocations) through them again and again, into its oldest generation,
    whose passes then took 50-90 ms: it more than doubled the CPU a sync spent decoding, and a
    client's ListItems waited behind those passes. ``then`` (the page's mapping) runs in the same
    pause, so the decoded JSON is freed before the collector is back and it never sees it. JSON
    makes no cycles, and the pause lasts one page.
    """
    if not gc.isenabled():
        return then(decode(body))
    gc.disable()
    try:
        return then(decode(body))
    finally:
        gc.enable()


def without_stream_cycle(response: httpx.Response) -> httpx.Response:
    """``response``, read and closed, no longer in a reference cycle with its stream.

    httpx 0.28 binds a response's stream back to the response (encode/httpx#3733), so a body it
    has read is freed only when the cycle collector next runs its oldest generation. At the peak
    of a 110k-item Plex first sync, 68 page bodies of 1.3 MB each were alive that way.
    """
    if response.is_closed:
        response.stream = httpx.ByteStream(b"")
    return response


def unreachable(host: str, exc: Exception) -> BackendUnavailable:
    """Say which way a server could not be reached, without the URL (it may carry a token)."""
    return BackendUnavailable(f"{host} {failure_reason(exc)}")


def failure_reason(exc: Exception) -> str:
    """How a request failed, in words that follow a host name: ``refused the connection``."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"has a TLS certificate that is not trusted ({cause.verify_message})"
        if isinstance(cause, ssl.SSLError):
            return "failed the TLS handshake"
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
        return "did not answer (connection timed out)"
    if isinstance(exc, httpx.TimeoutException):
        return "stopped answering (timed out)"
    if isinstance(exc, httpx.ConnectError):
        text = str(exc).lower()
        if "name or service not known" in text or "nodename" in text or "temporary failure in name" in text:
            return "is a name that cannot be resolved"
        return "refused the connection"
    if isinstance(exc, httpx.RemoteProtocolError) and "complete message body" in str(exc):
        return "cut its answer short (the connection closed halfway)"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        return "dropped the connection"
    return f"cannot be reached ({exc.__class__.__name__})"


async def decode_json(
    response: httpx.Response, host: str, then: Callable[[Any], T] = as_is, decode: Decode = orjson.loads
) -> T:
    """``then`` of the body decoded as JSON (by ``decode``: a typed decoder for the listings);
    ``BackendProtocolError`` when it is malformed, cut short, or not of the type expected.

    A large body is decoded, and ``then`` run on it, on the page worker: give the mapping of a
    page as ``then``, so the decoded JSON never reaches the event loop.
    """
    # orjson: a full sync decodes ~150 MB of JSON, three times faster than the json module does.
    try:
        if len(response.content) > LARGE_BODY:
            return await off_loop(decode_without_gc, response.content, then, decode)
        return then(decode(response.content))
    except msgspec.ValidationError as exc:
        raise BackendProtocolError(f"{host} sent an answer reeld does not understand: {exc}") from exc
    except (orjson.JSONDecodeError, msgspec.DecodeError) as exc:
        raise BackendProtocolError(f"{host} sent a malformed or truncated answer") from exc


async def pipelined(
    fetch: Callable[[int], Awaitable[PageT]], starts: list[int], concurrency: int
) -> AsyncIterator[PageT]:
    """``fetch(start)`` for every start, in order, with up to ``concurrency`` requests in flight
    while the caller works on (writes) the pages already yielded."""
    pending: list[asyncio.Task[PageT]] = []
    try:
        for start in starts:
            pending.append(asyncio.ensure_future(fetch(start)))
            if len(pending) >= concurrency:
                yield await pending.pop(0)
        while pending:
            yield await pending.pop(0)
    finally:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


def parse_http_date(value: str) -> float | None:
    """A ``Date`` header as Unix seconds (a server's clock, for sync cursors)."""
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
