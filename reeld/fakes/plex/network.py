"""Loopback listeners for the fakes: live (uvicorn), refused, and black holes that never answer.

Only loopback addresses are used. A *refused* address is a port bound but not listening (the
kernel answers RST, and nobody else can take the port). A *black hole* listens but never accepts
(connections complete or hang, requests never get an answer: clients time out). It lives on
127.0.0.2 when the machine allows, so it never shares an address with the live servers.
"""

import asyncio
import concurrent.futures
import contextlib
import datetime
import ipaddress
import socket
import tempfile
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import uvicorn

HOST = "127.0.0.1"
BLACK_HOLE_HOST = "127.0.0.2"
T = TypeVar("T")


class LoopBound:
    """Runs a method on the loop that owns the object when it is called from another thread.

    The fakes' state is touched by request handlers on their loop; tests that run the fakes in a
    thread (`FakePlexCluster.run_in_thread`) may still call the control methods directly.
    """

    _loop: asyncio.AbstractEventLoop | None = None

    def _bind_loop(self) -> None:
        self._loop = asyncio.get_running_loop()

    def _on_loop(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = self._loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is None or running is loop or not loop.is_running():
            return function(*args, **kwargs)
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def call() -> None:
            try:
                future.set_result(function(*args, **kwargs))
            except BaseException as exc:
                future.set_exception(exc)

        loop.call_soon_threadsafe(call)
        return future.result(timeout=30)


@contextlib.contextmanager
def serve_in_thread(
    start: Callable[[], Awaitable[None]], stop: Callable[[], Awaitable[None]], name: str, timeout: float
) -> Iterator[None]:
    """``start()`` a fake on a thread with its own event loop, for blocking clients such as plexapi;
    ``stop()`` it on the way out."""
    started: concurrent.futures.Future[asyncio.Event] = concurrent.futures.Future()
    loop = asyncio.new_event_loop()

    async def serve() -> None:
        stopping = asyncio.Event()
        try:
            await start()
        except BaseException as exc:
            started.set_exception(exc)
            return
        started.set_result(stopping)
        await stopping.wait()
        await stop()

    def main() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(serve())
        finally:
            loop.close()

    thread = threading.Thread(target=main, name=name, daemon=True)
    thread.start()
    stopping = started.result(timeout=timeout)
    try:
        yield
    finally:
        loop.call_soon_threadsafe(stopping.set)
        thread.join(timeout=timeout)


def listening_socket(host: str, port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.setblocking(False)
    return sock


def refusing_socket(host: str = HOST, port: int = 0) -> socket.socket:
    """A port that refuses connections for as long as the socket stays open."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def black_hole_socket() -> socket.socket:
    """A listener nobody accepts from: requests sent to it time out."""
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((BLACK_HOLE_HOST, 0))
    except OSError:
        sock.close()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((HOST, 0))
    sock.listen(1)
    return sock


class _Uvicorn(uvicorn.Server):
    """uvicorn that reports when it listens and leaves signals to its owner."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.ready.set()


@dataclass(frozen=True)
class TlsFiles:
    """A certificate for 127.0.0.1 and the CA that signed it (give ``ca`` to clients as trusted)."""

    cert: Path
    key: Path
    ca: Path


class HttpService:
    """One uvicorn server over sockets bound beforehand (so ports are known before it starts)."""

    def __init__(self, app: Any, sockets: list[socket.socket], tls: TlsFiles | None = None) -> None:
        self.app = app
        self.sockets = sockets
        self.tls = tls
        self._server: _Uvicorn | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        config = uvicorn.Config(
            self.app,
            lifespan="off",
            access_log=False,
            log_config=None,
            ws="websockets-sansio",
            timeout_graceful_shutdown=1,
            server_header=False,  # a real PMS sends no Server header
            ssl_certfile=str(self.tls.cert) if self.tls else None,
            ssl_keyfile=str(self.tls.key) if self.tls else None,
        )
        server = self._server = _Uvicorn(config)
        task = self._task = asyncio.create_task(server.serve(sockets=self.sockets))
        ready = asyncio.create_task(server.ready.wait())
        done, _ = await asyncio.wait({ready, task}, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            ready.cancel()
            task.result()
            raise RuntimeError("the fake server stopped while starting")

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._server = self._task = None


def make_tls_files(directory: Path | None = None) -> TlsFiles:
    """A throwaway CA and a certificate for 127.0.0.1/localhost signed by it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder = directory or Path(tempfile.mkdtemp(prefix="reeld-fake-plex-tls-"))
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "reeld fake Plex CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    files = TlsFiles(cert=folder / "server.pem", key=folder / "server.key", ca=folder / "ca.pem")
    files.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    files.key.chmod(0o600)
    return files
