"""The daemon's side of the bus connection: a full socket waits, a lost bus says why.

**Why this module exists.** dbus-fast (pinned to 5.2.x) writes every message with ``sock.send()``
on its non-blocking socket, and its writer (``dbus_fast.aio.message_bus._MessageWriter
.write_callback``) hands *any* exception from that call to ``bus._finalize()``, the
``BlockingIOError`` (EAGAIN) of a socket whose kernel buffer is full included: the connection is
closed as if the bus had gone. Under many busy clients (20 clients, ~200 calls/s, large ``aa{sv}``
replies) the buffer fills whenever dbus-daemon reads more slowly than reeld answers, and the daemon
dropped off the bus in 7 of 13 trials. Known upstream since python-dbus-next issue 153 (fix proposed
in its PR 154, never merged); the same trace with dbus-fast 5.x is rabits/ha-ef-ble issue 366.

**The fix, in this one place.** The writer already handles a *partial* send correctly: it keeps
the unsent tail, returns, and stays registered with the event loop (``add_writer``) until the socket
is writable again. A send that would block is the same thing with nothing sent, so the writer is
given the socket through :class:`PatientSocket`, whose ``send`` reports 0 bytes where the kernel
says EAGAIN. Only ``send`` is changed; every other error still ends the connection, as it should.
(The writer is plain Python in 5.2.0, not a compiled class, but subclassing it would mean copying
its whole write loop; this touches one call.) ``tests/bus/test_transport.py`` fails without it.

**A bus that really goes away** (dbus-daemon stopped, the socket reset) is :class:`BusLost`, with
the reason: the daemon logs it and exits non-zero, so systemd's ``Restart=on-failure`` brings it
back (dbus-fast alone ends ``wait_for_disconnect`` with an ``EOFError`` that read as a clean stop).
"""

import socket
from typing import Any

import structlog
from dbus_fast.aio import MessageBus

from reeld.errors import ReeldError

log = structlog.get_logger(__name__)


class BusLost(ReeldError):
    """The session bus closed reeld's connection, or the connection failed: not a shutdown we asked for."""


class PatientSocket:
    """The bus socket as dbus-fast's writer sees it: a send that would block sent nothing.

    The writer then keeps the whole message as its unsent tail and waits for writability, exactly
    as after a partial send.
    """

    __slots__ = ("_full", "_sock")

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._full = False

    def send(self, data: bytes | memoryview) -> int:
        try:
            sent = self._sock.send(data)
        except BlockingIOError:  # EAGAIN: the kernel's buffer is full until dbus-daemon reads
            if not self._full:  # once per time it fills, not per try
                self._full = True
                log.debug("bus_socket_full", waiting_to_send=len(data))
            return 0
        self._full = False
        return sent

    def sendmsg(self, *args: Any) -> int:
        # Used only to pass file descriptors, which reeld never negotiates (see ``wait_when_full``).
        # Not made patient: a 0 here would make the writer believe the descriptors were sent.
        return self._sock.sendmsg(*args)


def wait_when_full(bus: MessageBus) -> None:
    """Make the connected ``bus`` wait for a full socket to drain instead of dropping the connection.

    Call right after ``connect()``, before anything is sent but the Hello dbus-fast sends itself.
    """
    writer = getattr(bus, "_writer", None)
    if writer is None or not isinstance(getattr(writer, "sock", None), socket.socket):
        # dbus-fast changed its writer: fail at startup, loudly, rather than drop the bus under load.
        raise RuntimeError(
            "dbus-fast's message writer is not the one reeld.bus.transport expects (dbus-fast 5.2.x)"
        )
    if bus._negotiate_unix_fd:
        raise RuntimeError("reeld.bus.transport does not make the sending of file descriptors patient")
    writer.sock = PatientSocket(writer.sock)


def lost_reason(error: BaseException | None) -> str:
    """Why the bus connection ended, in words for the log (the exception's own text when it has one)."""
    if error is None or isinstance(error, EOFError):
        return "the bus closed the connection (dbus-daemon stopped or restarted?)"
    detail = str(error) or error.__class__.__name__
    return f"the connection to the bus failed: {detail}"
