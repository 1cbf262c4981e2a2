"""What every HTTP backend shares: a request bounded in size and time that never takes a login to
another address, naming a failure without leaking the URL, decoding large bodies off the event
loop, and fetching a paged listing a few pages ahead."""

import asyncio
import contextlib
import gc
import importlib.util
import os
import ssl
import sys
import zlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Protocol, TypeVar

import httpx
import msgspec
import orjson

# httpcore asks for sniffio on every request, connection check and close (``current_async_library``);
# where it is not installed (anyio 4 no longer needs it) each ask was a failed import that searched
# sys.path, stat calls on the event loop: 14 % of the loop's time while artwork was prefetched. A
# module that cannot be imported is marked so once.
if importlib.util.find_spec("sniffio") is None:
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]

import structlog

from reeld.errors import (
    AnswerRefused,
    BackendProtocolError,
    BackendUnavailable,
    ReeldError,
    UntrustedCertificate,
)
from reeld.workers import background_thread

log = structlog.get_logger(__name__)

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


def unreachable(host: str, exc: Exception) -> ReeldError:
    """Say which way a server could not be reached, without the URL (it may carry a token).

    A certificate that is not trusted is no passing trouble (it stays so until someone acts):
    ``UntrustedCertificate``, not ``BackendUnavailable``."""
    if certificate_problem(exc) is not None:
        return UntrustedCertificate(f"{host} {failure_reason(exc)}")
    return BackendUnavailable(f"{host} {failure_reason(exc)}")


def certificate_problem(exc: BaseException) -> str | None:
    """Why the server's TLS certificate was not trusted (``self-signed certificate``), if that is
    how ``exc`` came about."""
    for cause in _causes(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return str(cause.verify_message or cause.reason or "not trusted")
    return None


def _causes(exc: BaseException) -> Iterator[BaseException]:
    cause: BaseException | None = exc
    seen: set[int] = set()
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        yield cause
        cause = cause.__cause__ or cause.__context__


def failure_reason(exc: Exception) -> str:
    """How a request failed, in words that follow a host name: ``refused the connection``."""
    problem = certificate_problem(exc)
    if problem is not None:
        return f"has a TLS certificate that is not trusted ({problem})"
    if any(isinstance(cause, ssl.SSLError) for cause in _causes(exc)):
        return "failed the TLS handshake"
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


class HasContent(Protocol):
    """A read answer: an ``Answer``, or an ``httpx.Response`` read whole."""

    @property
    def content(self) -> bytes: ...


async def decode_json(
    response: HasContent, host: str, then: Callable[[Any], T] = as_is, decode: Decode = orjson.loads
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


# -- one bounded request ----------------------------------------------------------------------------

MiB = 1024 * 1024
#: Sets every request's overall deadline, in seconds (tests; a very slow link).
DEADLINE_ENV = "REELD_HTTP_DEADLINE_S"
#: What reeld asks servers to compress with: the encodings it inflates itself, within bounds.
ACCEPT_ENCODING = "gzip, deflate"
#: How much a compressed answer is inflated by at a time.
INFLATE_STEP = MiB
#: Same-origin redirects followed for one request (a proxy adding a slash, a moved path).
MAX_REDIRECTS = 5


def _deadline_override() -> float | None:
    try:
        value = float(os.environ.get(DEADLINE_ENV, ""))
    except ValueError:
        return None
    return value if value > 0 else None


@dataclass(frozen=True, slots=True)
class Budget:
    """How much of one answer reeld takes (decompressed), and how long the whole request may take,
    from the first byte sent to the last one read. httpx's own timeouts are per read: a server
    trickling one byte a second would never trip them."""

    max_bytes: int
    deadline_s: float

    @property
    def seconds(self) -> float:
        override = _deadline_override()
        return override if override is not None else self.deadline_s


#: A small JSON answer: a login, a server's identity, a count, a list of libraries. Real ones are a
#: few kB; 4 MB is room for a server with thousands of libraries.
SMALL_ANSWER = Budget(max_bytes=4 * MiB, deadline_s=30.0)
#: One page of a listing: 1,000 Jellyfin items are about 1.5 MB, 5,000 ids about 2 MB, 500 Plex
#: items 0.7 MB. 32 MB is ten times the largest real page, and three in flight stay far below
#: the daemon's memory target.
LISTING_PAGE = Budget(max_bytes=32 * MiB, deadline_s=120.0)


@dataclass(frozen=True, slots=True)
class Answer:
    """A server's answer, read whole within its ``Budget``."""

    status_code: int
    headers: httpx.Headers
    content: bytes
    #: Where the server sent reeld (scheme, host, port and path) when it answered after a redirect.
    redirected_to: str = ""


#: Methods a server may be asked again without doing anything twice (RFC 9110, 9.2.2).
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})


class StaleConnectionRetry(httpx.AsyncHTTPTransport):
    """httpx's transport, asking once more, on a fresh connection, when a kept-alive connection
    turned out closed before any answer came.

    A server closes a connection left idle for a while (uvicorn after 5 s, nginx after 75 s) and
    httpx keeps one for 5 s: a request sent just as the server closes it finds the connection gone
    ("Server disconnected without sending a response"). The server never acted on it, and a browser
    or urllib3 would ask again; httpx does not, and one such page failed a 110k-item full sync under
    load. Only idempotent requests are asked again, and only once; everything else fails as before.
    """

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            if request.method not in IDEMPOTENT or not _closed_before_answering(exc):
                raise
            log.debug("connection_closed_before_answer", host=request.url.host, retried=True)
        return await super().handle_async_request(request)


def _closed_before_answering(exc: httpx.TransportError) -> bool:
    """Whether the connection closed before the answer began (this transport returns at the headers,
    so a read or write that failed here failed before them; a protocol error may be a malformed
    answer instead)."""
    return not isinstance(exc, httpx.RemoteProtocolError) or "without sending a response" in str(exc)


#: httpx's own default pool.
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)


def http_client(timeout: httpx.Timeout, limits: httpx.Limits = DEFAULT_LIMITS) -> httpx.AsyncClient:
    """The HTTP client every backend and the artwork fetcher use: redirects left to ``fetch``, a
    connection closed under a request asked again (``StaleConnectionRetry``)."""
    return httpx.AsyncClient(
        timeout=timeout, follow_redirects=False, transport=StaleConnectionRetry(limits=limits)
    )


def origin(url: httpx.URL) -> tuple[str, str, int | None]:
    """Scheme, host and port: what a login may be sent to once it was sent to one of them."""
    default = {"http": 80, "https": 443}.get(url.scheme)
    return url.scheme, url.host, url.port or default


def where(url: httpx.URL) -> str:
    """An address as a person reads it in a message: no query (it could carry a token)."""
    return f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}{url.path}"


def redirect_refused(host: str, sent: httpx.URL, target: httpx.URL) -> AnswerRefused:
    """A server sent reeld to another origin: say where, and what to do about it."""
    if sent.scheme == "http" and target.scheme == "https" and sent.host == target.host:
        hint = f"the server wants https: use https://{target.netloc.decode('ascii', 'replace')}"
    else:
        hint = f"if the server moved, use {target.scheme}://{target.netloc.decode('ascii', 'replace')}"
    return AnswerRefused(
        f"{host} redirected reeld to {where(target)}, another address; "
        f"reeld does not take your login there ({hint})"
    )


async def fetch(
    http: httpx.AsyncClient, request: httpx.Request, host: str, budget: Budget = SMALL_ANSWER
) -> Answer:
    """``request``'s answer, read whole within ``budget``, following redirects within its origin only.

    A request carries a login (a password, a token in a header): a redirect to another origin is
    refused with where it led (``AnswerRefused``), never followed. More than the budget's bytes is
    ``AnswerRefused`` ("sent too much"); past its deadline, ``BackendUnavailable``; a certificate
    that is not trusted, ``UntrustedCertificate``.
    """
    seconds = budget.seconds
    try:
        async with asyncio.timeout(seconds):
            return await _follow(http, request, host, budget.max_bytes)
    except TimeoutError:
        raise BackendUnavailable(f"{host} did not finish its answer within {seconds:g} s") from None
    except httpx.HTTPError as exc:
        raise unreachable(host, exc) from exc


async def _follow(http: httpx.AsyncClient, request: httpx.Request, host: str, limit: int) -> Answer:
    first = request.url
    for _ in range(MAX_REDIRECTS + 1):
        response = await http.send(request, stream=True, follow_redirects=False)
        try:
            following = response.next_request if response.is_redirect else None
            if following is None:
                if 300 <= response.status_code < 400:
                    raise BackendProtocolError(
                        f"{host} answered with a redirect (HTTP {response.status_code}) that leads nowhere"
                    )
                content = await read_bounded(response, host, limit)
                moved = where(request.url) if request.url != first else ""
                return Answer(response.status_code, response.headers, content, moved)
        finally:
            await response.aclose()
            without_stream_cycle(response)
        if origin(following.url) != origin(first):
            raise redirect_refused(host, first, following.url)
        request = following
    raise BackendProtocolError(f"{host} redirected reeld more than {MAX_REDIRECTS} times")


def too_much(host: str, limit: int) -> AnswerRefused:
    return AnswerRefused(f"the server at {host} sent too much (more than {limit // MiB} MB in one answer)")


async def read_bounded(response: httpx.Response, host: str, limit: int) -> bytes:
    """The body of a streamed ``response``, decompressed, refused past ``limit`` bytes.

    The raw bytes are read and inflated here, not by httpx: its decoders inflate a chunk whole, and
    64 kB of a gzip bomb is 64 MB. Inflating runs on a worker thread (zlib lets go of the GIL), so a
    bomb costs the event loop nothing."""
    declared = response.headers.get("content-length", "")
    inflater = Inflater.for_encoding(response.headers.get("content-encoding", ""), host)
    if inflater is None and declared.isdigit() and int(declared) > limit:
        raise too_much(host, limit)
    if response.is_stream_consumed:  # built whole (a test's transport): nothing left to read
        if len(response.content) > limit:
            raise too_much(host, limit)
        return response.content
    # Pieces joined once at the end: a bytearray grown to tens of MB is copied as it grows (once
    # glibc's mmap threshold has risen). A refused answer's pieces are dropped before raising: the
    # traceback holds this frame, and with it what was read, for as long as the error is kept.
    pieces: list[bytes] = []
    size = 0
    async for raw in response.aiter_raw():
        if inflater is None:
            pieces.append(raw)
            size += len(raw)
        else:
            # A step at a time: a kilobyte of a bomb is a megabyte, and the step is all that is held
            # besides the body.
            while raw and size <= limit:
                piece = await _inflate(inflater, raw, min(limit - size + 1, INFLATE_STEP), host)
                pieces.append(piece)
                size += len(piece)
                raw = inflater.unconsumed
        if size > limit:
            pieces.clear()
            raise too_much(host, limit)
    if inflater is not None:
        pieces.append(inflater.finish(host))
        if size + len(pieces[-1]) > limit:
            pieces.clear()
            raise too_much(host, limit)
    return b"".join(pieces)


class Inflater:
    """Decompresses one body (gzip or deflate) piece by piece, never more than asked for at once."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        # gzip: a header and trailer around deflate data; "deflate": zlib-wrapped, or raw from some servers.
        self._inflate = zlib.decompressobj(zlib.MAX_WBITS | 16 if encoding == "gzip" else zlib.MAX_WBITS)
        self._started = False

    @classmethod
    def for_encoding(cls, header: str, host: str) -> "Inflater | None":
        encoding = header.strip().lower()
        if encoding in ("", "identity"):
            return None
        if encoding in ("gzip", "x-gzip", "deflate"):
            return cls("gzip" if encoding != "deflate" else "deflate")
        raise BackendProtocolError(
            f"{host} sent an answer compressed in a way reeld does not read ({encoding})"
        )

    @property
    def unconsumed(self) -> bytes:
        """What of the data last given was not inflated yet (``max_out`` was reached): give it again."""
        return self._inflate.unconsumed_tail

    def inflate(self, data: bytes, max_out: int) -> bytes:
        """At most ``max_out`` bytes of what ``data`` inflates to; the rest of ``data`` waits in
        ``unconsumed``."""
        try:
            out = self._inflate.decompress(data, max_out)
        except zlib.error:
            if self.encoding != "deflate" or self._started:
                raise
            self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, no zlib wrapper
            out = self._inflate.decompress(data, max_out)
        self._started = True
        return out

    def finish(self, host: str) -> bytes:
        try:
            return self._inflate.flush()
        except zlib.error as exc:
            raise BackendProtocolError(f"{host} sent a malformed or truncated answer") from exc


async def _inflate(inflater: Inflater, data: bytes, max_out: int, host: str) -> bytes:
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(_inflate_worker, inflater.inflate, data, max_out)
    except zlib.error as exc:
        raise BackendProtocolError(f"{host} sent a malformed compressed answer") from exc


# Inflating is short work on a thread of its own, so it never waits behind a page's decoding.
_inflate_worker = background_thread("reeld-inflate")


async def pipelined(
    fetch: Callable[[int], Awaitable[PageT]], starts: Iterable[int], concurrency: int
) -> AsyncGenerator[PageT, None]:
    """``fetch(start)`` for every start, in order, with up to ``concurrency`` requests in flight
    while the caller works on (writes) the pages already yielded. ``starts`` is taken lazily (a
    ``range``): a caller that stops early has asked for at most ``concurrency`` pages more."""
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


#: More items than this in one listing is no library but a server's lie (the largest real ones
#: hold a few hundred thousand): refused before a single page is planned.
MAX_LISTED = 5_000_000

#: ``await fetch(start)``: a page, and how many entries the server sent in it (before mapping).
FetchCounted = Callable[[int], Awaitable[tuple[PageT, int]]]


def claimed_total(host: str, total: int, what: str) -> int:
    """A listing's count as the server claims it, refused when no library could be that large."""
    if total > MAX_LISTED:
        raise BackendProtocolError(
            f"{host} claims {total:,} items in {what}, more than any library holds; reeld does not list it"
        )
    return max(0, total)


async def counted_pages(
    fetch: FetchCounted[PageT],
    start: int,
    total: int,
    page_size: int,
    concurrency: int,
    claim: tuple[str, str],
) -> AsyncIterator[PageT]:
    """The pages of a listing from ``start`` up to its claimed ``total``, a few in flight at once,
    each checked against the claim.

    Pages are planned as they are fetched, and the listing ends at the first short page. A claim
    the pages do not bear out is a protocol error ("claims N items but sent M"), not a plan of
    millions of requests. Pages short of the claim by less than a page are no lie: items deleted
    while the listing ran. ``claim`` is (host, what) for the message."""
    reached = start

    async def fetch_at(at: int) -> tuple[int, PageT, int]:
        page, count = await fetch(at)
        return at, page, count

    async with contextlib.aclosing(pipelined(fetch_at, range(start, total, page_size), concurrency)) as pages:
        async for at, page, count in pages:
            reached = at + count
            yield page
            if count < min(page_size, total - at):
                break
    borne_out(reached, total, page_size, claim)


def borne_out(reached: int, total: int, page_size: int, claim: tuple[str, str]) -> None:
    """Raise unless a listing that ended after ``reached`` items came near its claimed ``total``."""
    if reached < total - page_size:
        host, what = claim
        raise BackendProtocolError(f"{host} claims {total:,} items in {what} but sent {reached:,}")


def parse_http_date(value: str) -> float | None:
    """A ``Date`` header as Unix seconds (a server's clock, for sync cursors)."""
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
